"""Live carrier rates: the Shippo adapter against a recorded exchange, and the bounded call
around it: a slow, failing or flapping carrier costs at most the timeout, the zone's flat
rates are taken and marked, the fallback is counted, the breaker opens and closes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from prometheus_client import REGISTRY

from cartwright.kit.breaker import BreakerPolicy, BreakerState
from cartwright.kit.external import CallPolicy, ExternalCall, ProviderError
from cartwright.kit.settings import Settings
from cartwright.providers import service as providers
from cartwright.providers.carrier import FALLBACK, LiveRates, ShippoRates, to_minor
from cartwright.providers.shipping import (
    Destination,
    Method,
    Rate,
    RateKind,
    Shipment,
    Source,
    Zone,
    find,
)
from tests.fakes.carrier import FakeCarrier, recording
from tests.fakes.clock import FakeClock

ORIGIN = recording("shippo_create_shipment")["request"]["body"]["address_from"]
TOKEN = "shippo_test_redacted"
# A first request on a new client can take a few hundred milliseconds here: 1 s keeps the
# healthy calls well inside the timeout while a 20 s answer is still cut at 1 s.
POLICY = CallPolicy(
    timeout_s=1.0,
    breaker=BreakerPolicy(threshold=2, window=4, window_s=60.0, cooldown_s=30.0, probes=1),
)
ZONES = (
    Zone(
        "us",
        "United States",
        countries=frozenset({"US"}),
        methods=(
            Method(
                "standard",
                "Standard",
                {"USD": Rate(RateKind.FLAT, 1200, free_from=50_000)},
                carrier_service="usps_priority_mail_international",
            ),
            Method(
                "express",
                "Express",
                {"USD": Rate(RateKind.FLAT, 3500)},
                carrier_service="usps_priority_mail_express_international",
            ),
            Method("pickup", "Pick-up point", {"USD": Rate(RateKind.FLAT, 300)}),
            Method(
                "overnight", "Overnight", {"USD": Rate(RateKind.FLAT, 9900)}, carrier_service="none"
            ),
        ),
    ),
)
SHIPMENT = Shipment(Destination("US", "CA", "94117"), "USD", weight_grams=1200, value=8_000)


@pytest.fixture(scope="module")
def carrier() -> Iterator[FakeCarrier]:
    fake = FakeCarrier().start()
    yield fake
    fake.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def _live(
    carrier: FakeCarrier,
    client: httpx.AsyncClient,
    clock: FakeClock,
    switch: list[bool],
    policy: CallPolicy = POLICY,
) -> LiveRates:
    carrier.behaviour = "replay"
    guard = ExternalCall(
        "shipping", f"shippo-{uuid.uuid4().hex[:8]}", policy, clock=clock, switch=lambda: switch[0]
    )
    adapter = ShippoRates(client, token=TOKEN, origin=ORIGIN, base_url=carrier.url)
    return LiveRates(ZONES, adapter, guard)


def _fallbacks(live: LiveRates) -> float:
    value = REGISTRY.get_sample_value(
        "cartwright_provider_fallbacks_total",
        {"kind": "shipping", "provider": live.guard.provider, "fallback": FALLBACK},
    )
    return value or 0.0


def _prices(methods: list[object]) -> dict[str, tuple[int, Source]]:
    return {m.code: (m.price, m.source) for m in methods}  # type: ignore[attr-defined]


async def test_the_adapter_sends_the_recorded_request_and_reads_its_rates(
    carrier: FakeCarrier, client: httpx.AsyncClient
) -> None:
    carrier.behaviour = "replay"
    adapter = ShippoRates(client, token=TOKEN, origin=ORIGIN, base_url=carrier.url)
    before = len(carrier.requests)
    prices = await adapter.rates(SHIPMENT)
    # The EUR rate is not converted: it is left out of a USD shipment.
    assert prices == {
        "usps_priority_mail_international": 1840,
        "usps_priority_mail_express_international": 4175,
    }
    sent = carrier.requests[before]
    expected = recording("shippo_create_shipment")["request"]
    assert sent["path"] == expected["path"]
    assert sent["headers"]["Authorization"] == expected["headers"]["Authorization"]
    assert sent["body"] == expected["body"]
    assert TOKEN not in repr(adapter)


async def test_live_rates_price_the_carrier_methods_and_keep_the_others(
    carrier: FakeCarrier, client: httpx.AsyncClient
) -> None:
    live = _live(carrier, client, FakeClock(), [True])
    prices = _prices(await live.methods(SHIPMENT))
    # overnight's service is not in the carrier's answer: not offered.
    assert prices == {
        "standard": (1840, Source.CARRIER),
        "express": (4175, Source.CARRIER),
        "pickup": (300, Source.TABLE),
    }
    # Above the method's free-shipping threshold the carrier's price is not charged.
    rich = Shipment(SHIPMENT.to, "USD", weight_grams=1200, value=50_000)
    assert _prices(await live.methods(rich))["standard"] == (0, Source.CARRIER)
    assert _fallbacks(live) == 0


async def test_a_carrier_answering_in_20_s_costs_the_timeout_and_the_flat_rates_are_taken(
    carrier: FakeCarrier, client: httpx.AsyncClient
) -> None:
    live = _live(carrier, client, FakeClock(), [True])
    carrier.behaviour = "slow"
    started = time.perf_counter()
    methods = await live.methods(SHIPMENT)
    elapsed = time.perf_counter() - started
    carrier.behaviour = "replay"
    assert elapsed < POLICY.timeout_s + 1.0
    assert _prices(methods) == {
        "standard": (1200, Source.FALLBACK),
        "express": (3500, Source.FALLBACK),
        "pickup": (300, Source.FALLBACK),
        "overnight": (9900, Source.FALLBACK),
    }
    assert all(m.estimated for m in methods)
    assert _fallbacks(live) == 1


@pytest.mark.parametrize("behaviour", ["fail", "malformed"])
async def test_a_failing_carrier_opens_the_breaker_then_a_probe_closes_it(
    carrier: FakeCarrier, client: httpx.AsyncClient, behaviour: str
) -> None:
    clock = FakeClock()
    live = _live(carrier, client, clock, [True])
    carrier.behaviour = behaviour
    for _ in range(POLICY.breaker.threshold):
        chosen = await find(live, "standard", SHIPMENT)
        assert chosen is not None and (chosen.price, chosen.source) == (1200, Source.FALLBACK)
    assert live.guard.state is BreakerState.OPEN
    asked = len(carrier.requests)
    started = time.perf_counter()
    chosen = await find(live, "express", SHIPMENT)
    assert chosen is not None and chosen.source is Source.FALLBACK
    assert time.perf_counter() - started < 0.1
    assert len(carrier.requests) == asked  # open: the carrier is not asked at all
    assert _fallbacks(live) == POLICY.breaker.threshold + 1

    carrier.behaviour = "replay"
    clock.advance(POLICY.breaker.cooldown_s)
    chosen = await find(live, "standard", SHIPMENT)
    assert chosen is not None and (chosen.price, chosen.source) == (1840, Source.CARRIER)
    assert live.guard.state is BreakerState.CLOSED


async def test_a_flapping_carrier_never_fails_a_quote(
    carrier: FakeCarrier, client: httpx.AsyncClient
) -> None:
    # Every other call fails: fewer failures than the threshold in any window, so the
    # breaker stays closed and each quote is the carrier's or the flat rate's, never an error.
    tolerant = CallPolicy(
        timeout_s=POLICY.timeout_s,
        breaker=BreakerPolicy(threshold=3, window=4, window_s=60.0, cooldown_s=30.0),
    )
    live = _live(carrier, client, FakeClock(), [True], tolerant)
    carrier.behaviour = "flap"
    sources = []
    for _ in range(6):
        chosen = await find(live, "standard", SHIPMENT)
        assert chosen is not None
        sources.append(chosen.source)
        assert chosen.price == (1840 if chosen.source is Source.CARRIER else 1200)
    carrier.behaviour = "replay"
    assert sources == [Source.FALLBACK, Source.CARRIER] * 3
    assert live.guard.state is BreakerState.CLOSED
    assert _fallbacks(live) == sources.count(Source.FALLBACK)


async def test_the_switch_off_asks_no_carrier(
    carrier: FakeCarrier, client: httpx.AsyncClient
) -> None:
    switch = [False]
    live = _live(carrier, client, FakeClock(), switch)
    asked = len(carrier.requests)
    chosen = await find(live, "standard", SHIPMENT)
    assert chosen is not None and (chosen.price, chosen.source) == (1200, Source.FALLBACK)
    assert len(carrier.requests) == asked
    switch[0] = True
    chosen = await find(live, "standard", SHIPMENT)
    assert chosen is not None and chosen.source is Source.CARRIER


async def test_no_carrier_is_asked_for_a_zone_without_carrier_methods(
    carrier: FakeCarrier, client: httpx.AsyncClient
) -> None:
    live = _live(carrier, client, FakeClock(), [True])
    asked = len(carrier.requests)
    # No zone covers DE here: nothing offered, nothing asked.
    assert await live.methods(Shipment(Destination("DE"), "USD")) == []
    assert len(carrier.requests) == asked


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("800", "JPY", 800), ("5.90", "EUR", 590), ("2.5", "BHD", 2500), ("0", "EUR", 0)],
)
def test_carrier_amounts_are_exact_minor_units(amount: str, currency: str, minor: int) -> None:
    assert to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency"), [("5.905", "EUR"), ("800.5", "JPY"), ("-1", "USD"), ("x", "EUR")]
)
def test_carrier_amounts_that_are_not_minor_units_are_refused(amount: str, currency: str) -> None:
    with pytest.raises(ProviderError):
        to_minor(amount, currency)


async def test_the_composition_root_prices_the_configured_methods_by_shippo(
    carrier: FakeCarrier, client: httpx.AsyncClient
) -> None:
    settings = Settings(
        shipping_carrier="shippo",
        shippo_api_token=TOKEN,
        shippo_base_url=carrier.url,
        shipping_origin=json.dumps(ORIGIN),
        shipping_carrier_services=json.dumps(
            {"express": "usps_priority_mail_express_international"}
        ),
    )
    assert settings.shipping_problems() == []
    carrier.behaviour = "replay"
    rates = providers.shippo(settings, client)
    prices = _prices(await rates.methods(SHIPMENT))
    assert prices == {"standard": (500, Source.TABLE), "express": (4175, Source.CARRIER)}


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"shippo_api_token": None}, "CARTWRIGHT_SHIPPO_API_TOKEN"),
        ({"shipping_origin": ""}, "CARTWRIGHT_SHIPPING_ORIGIN"),
        ({"shipping_origin": "[1]"}, "CARTWRIGHT_SHIPPING_ORIGIN"),
        ({"shipping_carrier_services": "{not json"}, "CARTWRIGHT_SHIPPING_CARRIER_SERVICES"),
    ],
)
def test_a_carrier_without_its_settings_refuses_to_start(
    overrides: dict[str, object], problem: str
) -> None:
    values: dict[str, object] = {
        "shipping_carrier": "shippo",
        "shippo_api_token": TOKEN,
        "shipping_origin": json.dumps(ORIGIN),
        "shipping_carrier_services": '{"standard": "usps_priority_mail_international"}',
        **overrides,
    }
    problems = Settings(**values).configuration_problems()  # type: ignore[arg-type]
    assert any(problem in p for p in problems), problems
