"""The Stripe Tax adapter against recorded exchanges replayed by a fake HTTP server, and
the chain behind the bounded call with a fake server that is slow, failing and flapping:
the tables' rates are taken, the quote is `estimated`, the breaker opens and closes (fake
clock) and the metrics count it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from cartwright.kit.breaker import BreakerPolicy, BreakerState
from cartwright.kit.external import CallPolicy, ExternalCall, Outcome
from cartwright.providers.stripe_tax import ExternalTax, StripeTax, calculation_form
from cartwright.providers.tax import ExemptReason, RateTableTax, TaxLine, TaxRequest
from tests.fakes.clock import FakeClock

RECORDED = Path(__file__).parent / "recorded"
API_KEY = "sk_test_fake_tax_key"


def _exchange(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((RECORDED / f"{name}.json").read_bytes())
    return data


@dataclass
class FakeStripeTax:
    """Answers by `mode`: "replay" (the recorded exchange whose form matches, else 422),
    "slow" (20 s), "fail" (500), "flap" (fails every other request)."""

    mode: str = "replay"
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    port: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(form)
        if self.mode == "slow":  # 20 s, or until the test is over
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), 20)
        if self.mode == "fail" or (self.mode == "flap" and len(self.requests) % 2 == 1):
            return web.json_response({"error": {"type": "api_error"}}, status=500)
        for exchange in self.exchanges:
            if exchange["request"]["form"] == form:
                answer = exchange["response"]
                return web.json_response(answer["body"], status=answer["status"])
        return web.json_response({"error": {"message": f"unrecorded {form}"}}, status=422)


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripeTax]:
    server = FakeStripeTax()
    app = web.Application()
    app.router.add_post("/v1/tax/calculations", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def _request(name: str) -> TaxRequest:
    form = _exchange(name)["request"]["form"]
    lines = []
    i = 0
    while f"line_items[{i}][amount]" in form:
        lines.append(
            TaxLine(
                int(form[f"line_items[{i}][amount]"]), reference=form[f"line_items[{i}][reference]"]
            )
        )
        i += 1
    return TaxRequest(
        currency=form["currency"].upper(),
        country=form["customer_details[address][country]"],
        region=None,
        postal_code=form.get("customer_details[address][postal_code]"),
        lines=lines,
        shipping=int(form.get("shipping_cost[amount]", 0)),
        prices_include_tax=form["line_items[0][tax_behavior]"] == "inclusive",
        tax_id=form.get("customer_details[tax_ids][0][value]"),
    )


def _guard(clock: FakeClock, switch: list[bool] | None = None) -> ExternalCall:
    policy = CallPolicy(
        timeout_s=0.3,
        breaker=BreakerPolicy(threshold=2, window=4, window_s=60.0, cooldown_s=30.0, probes=1),
    )
    return ExternalCall(
        "tax",
        f"stripe_tax-{uuid.uuid4().hex[:8]}",
        policy,
        clock=clock,
        switch=None if switch is None else (lambda: switch[0]),
    )


def _count(metric: str, guard: ExternalCall, **labels: str) -> float:
    value = REGISTRY.get_sample_value(
        metric, {"kind": guard.kind, "provider": guard.provider, **labels}
    )
    return value or 0.0


@pytest.mark.parametrize(
    "name", ["stripe_tax_de_exclusive", "stripe_tax_jp_inclusive", "stripe_tax_fr_reverse_charge"]
)
def test_the_form_sent_is_the_recorded_one(name: str) -> None:
    assert dict(calculation_form(_request(name))) == _exchange(name)["request"]["form"]


async def test_recorded_exchanges_replayed(fake: FakeStripeTax, client: httpx.AsyncClient) -> None:
    fake.exchanges = [
        _exchange(n)
        for n in (
            "stripe_tax_de_exclusive",
            "stripe_tax_jp_inclusive",
            "stripe_tax_fr_reverse_charge",
        )
    ]
    adapter = StripeTax(client, API_KEY, fake.url)
    de = await adapter.quote(_request("stripe_tax_de_exclusive"))
    assert de.line_taxes == [570, 114] and de.shipping_tax == 95 and de.total == 779
    assert de.line_nets == [3000, 599] and de.shipping_net == 500 and not de.estimated
    jp = await adapter.quote(_request("stripe_tax_jp_inclusive"))
    assert jp.line_taxes == [100] and jp.line_nets == [1000]  # gross 1100 = 1000 + 100
    fr = await adapter.quote(_request("stripe_tax_fr_reverse_charge"))
    assert fr.total == 0 and fr.exempt_reason is ExemptReason.REVERSE_CHARGE
    assert len(fake.requests) == 3


async def test_an_error_answer_takes_the_tables_and_is_estimated(
    fake: FakeStripeTax, client: httpx.AsyncClient
) -> None:
    fake.exchanges = [_exchange("stripe_tax_error_400")]
    guard = _guard(FakeClock())
    chain = ExternalTax(StripeTax(client, API_KEY, fake.url), guard, RateTableTax())
    q = await chain.quote(_request("stripe_tax_error_400"))
    assert q.estimated and q.line_taxes == [190]  # DE 19 % from the tables
    assert _count("cartwright_provider_calls_total", guard, outcome="error") == 1
    assert _count("cartwright_provider_fallbacks_total", guard, fallback="last_known_rates") == 1


async def test_a_slow_provider_costs_at_most_the_timeout(
    fake: FakeStripeTax, client: httpx.AsyncClient
) -> None:
    fake.mode = "slow"
    guard = _guard(FakeClock())
    chain = ExternalTax(StripeTax(client, API_KEY, fake.url), guard, RateTableTax())
    started = time.perf_counter()
    q = await chain.quote(_request("stripe_tax_de_exclusive"))
    assert time.perf_counter() - started < guard.policy.timeout_s + 0.5
    assert q.estimated and q.line_taxes == [570, 114] and q.shipping_tax == 95
    assert _count("cartwright_provider_calls_total", guard, outcome="timeout") == 1


async def test_failures_open_the_breaker_and_a_probe_closes_it(
    fake: FakeStripeTax, client: httpx.AsyncClient
) -> None:
    fake.mode = "fail"
    fake.exchanges = [_exchange("stripe_tax_de_exclusive")]
    clock = FakeClock()
    guard = _guard(clock)
    chain = ExternalTax(StripeTax(client, API_KEY, fake.url), guard, RateTableTax())
    request = _request("stripe_tax_de_exclusive")
    for _ in range(2):
        assert (await chain.quote(request)).estimated
    assert guard.state is BreakerState.OPEN
    sent = len(fake.requests)
    started = time.perf_counter()
    q = await chain.quote(request)  # open: not asked at all, answered at once
    assert q.estimated and len(fake.requests) == sent
    assert time.perf_counter() - started < 0.1
    assert _count("cartwright_provider_calls_total", guard, outcome="open") == 1
    assert _count("cartwright_provider_breaker_state", guard) == BreakerState.OPEN
    fake.mode = "replay"
    clock.advance(31)  # past the cooldown: one probe, which succeeds
    q = await chain.quote(request)
    assert not q.estimated and q.total == 779
    assert guard.state is BreakerState.CLOSED
    assert _count("cartwright_provider_breaker_state", guard) == BreakerState.CLOSED
    assert _count("cartwright_provider_fallbacks_total", guard, fallback="last_known_rates") == 3


async def test_a_flapping_provider_is_answered_either_way(
    fake: FakeStripeTax, client: httpx.AsyncClient
) -> None:
    fake.mode = "flap"
    fake.exchanges = [_exchange("stripe_tax_de_exclusive")]
    guard = _guard(FakeClock())
    chain = ExternalTax(StripeTax(client, API_KEY, fake.url), guard, RateTableTax())
    quotes = [await chain.quote(_request("stripe_tax_de_exclusive")) for _ in range(6)]
    # whichever answered, the amounts are the same here (the tables agree with Stripe)
    assert all(q.total == 779 for q in quotes)
    estimated = [q.estimated for q in quotes]
    assert True in estimated and False in estimated
    assert _count("cartwright_provider_calls_total", guard, outcome="ok") == estimated.count(False)


async def test_switched_off_the_provider_is_not_called(
    fake: FakeStripeTax, client: httpx.AsyncClient
) -> None:
    switch = [False]
    guard = _guard(FakeClock(), switch)
    chain = ExternalTax(StripeTax(client, API_KEY, fake.url), guard, RateTableTax())
    q = await chain.quote(_request("stripe_tax_de_exclusive"))
    assert q.estimated and fake.requests == []
    assert _count("cartwright_provider_calls_total", guard, outcome=Outcome.SWITCHED_OFF.value) == 1


async def test_a_country_the_tables_lack_stays_not_ready_when_the_provider_is_down(
    fake: FakeStripeTax, client: httpx.AsyncClient
) -> None:
    fake.mode = "fail"
    chain = ExternalTax(StripeTax(client, API_KEY, fake.url), _guard(FakeClock()), RateTableTax())
    q = await chain.quote(TaxRequest("BRL", "BR", None, [TaxLine(1000)]))
    assert q.missing == "no tax rate for country BR" and q.estimated
