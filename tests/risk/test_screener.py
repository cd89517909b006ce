"""The screener with its real parts: velocity counted in the limiter's memory storage,
the denylist read from both databases, and the Sift adapter against a fake Sift served
over HTTP (slow, failing, flapping), through the kit's ExternalCall guard."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cartwright.kit import context, ids
from cartwright.kit.breaker import BreakerPolicy, BreakerState
from cartwright.kit.db import Database
from cartwright.kit.external import CallPolicy, ExternalCall
from cartwright.kit.ratelimit import Limiter, storage_for
from cartwright.kit.settings import Settings
from cartwright.risk import service as risk
from cartwright.risk.providers import ScreenRequest, SiftProvider, parse_sift_answer, sift_event
from cartwright.risk.rules import Decision, DenyKind, FailureMode
from tests.fakes.clock import FakeClock
from tests.fakes.sift import FakeSift
from tests.orders.support import db

__all__ = ["db"]

RECORDED = Path(__file__).parent / "recorded"


def _checkout(email: str = "ada@example.com", **overrides: object) -> risk.ScreenedCheckout:
    values: dict[str, object] = {
        "order_id": ids.new_id("ord"),
        "customer_id": None,
        "email": email,
        "amount": 4_200,
        "currency": "EUR",
        "billing_country": "DE",
        "shipping_country": "DE",
        "token": "tok_visa",
    }
    return risk.ScreenedCheckout(**{**values, **overrides})  # type: ignore[arg-type]


def _screener(settings: Settings, **kwargs: object) -> risk.Screener:
    screener = risk.Screener(settings, Limiter(storage_for(None)), **kwargs)  # type: ignore[arg-type]
    # An empty list, fresh for an hour: these tests need no database.
    screener.denylist = risk.Denylist(3600)
    screener.denylist._read_at = time.monotonic()
    return screener


def _from(address: str, *, vouched: bool) -> None:
    info = context.begin(client_address=address)
    info.client_address_vouched = vouched


DB = None  # screeners built by `_screener` never read the database


async def test_velocity_by_a_vouched_public_address_is_counted() -> None:
    screener = _screener(Settings(risk_velocity_address=3))
    _from("8.8.4.4", vouched=True)
    decisions = [
        (await screener.screen(DB, _checkout(), failure_mode=FailureMode.OPEN)).decision  # type: ignore[arg-type]
        for _ in range(5)
    ]
    assert decisions == [Decision.ACCEPT] * 3 + [Decision.REVIEW] * 2
    last = await screener.screen(DB, _checkout(), failure_mode=FailureMode.OPEN)  # type: ignore[arg-type]
    assert [r.code for r in last.reasons] == ["velocity_address"]


@pytest.mark.parametrize(
    ("address", "vouched"),
    [
        ("127.0.0.1", True),  # loopback (a benchmark or a test suite on one machine)
        ("10.0.0.7", True),  # private
        ("192.168.1.20", True),
        ("::1", True),
        ("8.8.4.4", False),  # public but the TCP peer: no trusted proxy vouched for it
    ],
)
async def test_velocity_by_address_ignores_loopback_private_and_unvouched_addresses(
    address: str, vouched: bool
) -> None:
    screener = _screener(Settings(risk_velocity_address=2))
    _from(address, vouched=vouched)
    for _ in range(10):
        verdict = await screener.screen(DB, _checkout(), failure_mode=FailureMode.OPEN)  # type: ignore[arg-type]
        assert verdict.decision is Decision.ACCEPT and verdict.reasons == ()


async def test_the_defaults_let_one_machine_check_out_many_carts_under_one_email() -> None:
    """What bench/checkout.py sends: one email, `tok_visa`, from 127.0.0.1."""
    screener = _screener(Settings())
    _from("127.0.0.1", vouched=False)
    for _ in range(200):
        verdict = await screener.screen(
            DB,  # type: ignore[arg-type]
            _checkout("bench-run@example.com"),
            failure_mode=FailureMode.OPEN,
        )
        assert verdict.decision is Decision.ACCEPT and verdict.score == 0


async def test_velocity_per_email_and_per_card_fingerprint_when_on() -> None:
    screener = _screener(Settings(risk_velocity_email=2, risk_velocity_fingerprint=1))
    _from("127.0.0.1", vouched=False)
    codes = []
    for _ in range(3):
        verdict = await screener.screen(
            DB,  # type: ignore[arg-type]
            _checkout("Repeat@Example.com", token="pm_card_1"),
            failure_mode=FailureMode.OPEN,
        )
        codes.append(sorted(r.code for r in verdict.reasons))
    assert codes == [[], ["velocity_fingerprint"], ["velocity_email", "velocity_fingerprint"]]
    # The sandbox's tokens carry no fingerprint: never counted.
    again = await screener.screen(
        DB,
        _checkout("other@example.com"),
        failure_mode=FailureMode.OPEN,  # type: ignore[arg-type]
    )
    assert again.reasons == ()


async def test_the_denylist_is_read_from_the_database_and_again_once_invalidated(
    db: Database,
) -> None:
    screener = risk.Screener(Settings(), Limiter(storage_for(None)))
    email = f"{ids.new_id('x')}@example.com"
    context.begin()
    first = await screener.screen(db, _checkout(email), failure_mode=FailureMode.OPEN)
    assert first.decision is Decision.ACCEPT
    async with db.transaction() as conn:
        status, entry = await risk.add_entry(conn, kind=DenyKind.EMAIL, value=email, note=None)
    assert status == 201
    screener.denylist.invalidate()
    denied = await screener.screen(db, _checkout(email.upper()), failure_mode=FailureMode.OPEN)
    assert denied.decision is Decision.REJECT
    assert [r.code for r in denied.reasons] == ["denylist_email"]
    async with db.transaction() as conn:
        await risk.delete_entry(conn, entry["id"])
    screener.denylist.invalidate()
    after = await screener.screen(db, _checkout(email), failure_mode=FailureMode.OPEN)
    assert after.decision is Decision.ACCEPT


async def test_the_denylist_cache_is_read_once_per_ttl(db: Database) -> None:
    clock = FakeClock()
    denylist = risk.Denylist(5.0, clock)
    await denylist.entries(db)
    read_at = denylist._read_at
    clock.advance(4.9)
    await denylist.entries(db)
    assert denylist._read_at == read_at
    clock.advance(0.2)
    await denylist.entries(db)
    assert denylist._read_at == clock.now


# ------------------------------------------------------------------ the external service


@pytest.fixture
async def sift() -> AsyncIterator[FakeSift]:
    fake = FakeSift()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def _with_sift(
    sift: FakeSift, *, timeout_s: float = 0.3, clock: FakeClock | None = None, **settings: object
) -> tuple[risk.Screener, ExternalCall, SiftProvider]:
    provider = SiftProvider("sift-test-key", sift.url)
    guard = ExternalCall(
        "fraud",
        "sift",
        CallPolicy(
            timeout_s=timeout_s,
            breaker=BreakerPolicy(threshold=3, window=5, window_s=60.0, cooldown_s=30.0, probes=1),
        ),
        clock=clock or FakeClock(),
    )
    screener = _screener(Settings(**settings), provider=provider, guard=guard)  # type: ignore[arg-type]
    return screener, guard, provider


async def test_the_sift_adapter_sends_a_create_order_and_reads_its_score(
    sift: FakeSift,
) -> None:
    sift.score, sift.reasons = (
        0.93,
        [{"name": "Number of users with the same billing info", "value": "3"}],
    )
    screener, _, provider = _with_sift(sift)
    _from("8.8.4.4", vouched=True)
    checkout = _checkout(customer_id="cus_1", amount=129_900, shipping_country="FR")
    try:
        verdict = await screener.screen(DB, checkout, failure_mode=FailureMode.OPEN)  # type: ignore[arg-type]
    finally:
        await provider.aclose()
    (sent,) = sift.requests
    assert sent.api_key == "sift-test-key"
    assert sent.query == {"return_score": "true", "abuse_types": "payment_abuse"}
    assert sent.body == {
        "$type": "$create_order",
        "$user_id": "cus_1",
        "$order_id": checkout.order_id,
        "$amount": 1_299_000_000,
        "$currency_code": "EUR",
        "$user_email": "ada@example.com",
        "$ip": "8.8.4.4",
        "$billing_address": {"$country": "DE"},
        "$shipping_address": {"$country": "FR"},
    }
    # 93/100 on our scale (100 = the reject threshold, 80) is 74: review.
    assert verdict.score == 74 and verdict.decision is Decision.REVIEW
    codes = [r.code for r in verdict.reasons]
    assert codes == ["billing_shipping_mismatch", "sift_reason", "sift_score"]
    assert verdict.fraud_fallback is None


def test_the_recorded_exchanges_map_as_documented() -> None:
    recorded = json.loads((RECORDED / "sift_create_order_scored.json").read_text())
    answer = recorded["response"]
    score = parse_sift_answer(answer["status_code"], json.dumps(answer["body"]).encode())
    assert score.score == 90
    assert score.reasons == (
        "Number of users with the same billing info: 3",
        "Latest item product title: Watch",
    )
    refused = json.loads((RECORDED / "sift_invalid_key.json").read_text())["response"]
    with pytest.raises(Exception, match="status 51"):
        parse_sift_answer(refused["status_code"], json.dumps(refused["body"]).encode())
    body = recorded["request"]["body"]
    assert (
        sift_event(
            ScreenRequest(
                "ord_abc", "cus_123", "ada@example.com", 129_900, "EUR", "203.0.113.9", "DE", "FR"
            )
        )
        == body
    )


async def test_a_slow_provider_costs_at_most_its_timeout_and_the_fallback_is_recorded(
    sift: FakeSift,
) -> None:
    sift.plan = lambda _n: "slow"
    screener, _, provider = _with_sift(sift, timeout_s=0.3)
    context.begin()
    try:
        started = time.perf_counter()
        opened = await screener.screen(DB, _checkout(), failure_mode=FailureMode.OPEN)  # type: ignore[arg-type]
        took = time.perf_counter() - started
        closed = await screener.screen(DB, _checkout(), failure_mode=FailureMode.CLOSED)  # type: ignore[arg-type]
    finally:
        await provider.aclose()
    assert took < 0.3 + 0.25, took  # the timeout, and scheduling
    assert opened.decision is Decision.ACCEPT and opened.fraud_fallback == "fail_open"
    assert opened.as_json()["fraud_fallback"] == "fail_open"
    assert [r.code for r in opened.reasons] == ["provider_unavailable"]
    assert closed.decision is Decision.REVIEW and closed.fraud_fallback == "fail_closed"


async def test_failures_open_the_breaker_then_a_probe_closes_it(sift: FakeSift) -> None:
    clock = FakeClock()
    failing = True
    sift.plan = lambda _n: "500" if failing else "ok"
    screener, guard, provider = _with_sift(sift, clock=clock)
    context.begin()
    try:
        for _ in range(3):
            verdict = await screener.screen(DB, _checkout(), failure_mode=FailureMode.OPEN)  # type: ignore[arg-type]
            assert verdict.fraud_fallback == "fail_open"
        assert guard.state is BreakerState.OPEN and len(sift.requests) == 3
        # Open: nothing is sent, the fallback is taken at once.
        started = time.perf_counter()
        verdict = await screener.screen(DB, _checkout(), failure_mode=FailureMode.CLOSED)  # type: ignore[arg-type]
        assert time.perf_counter() - started < 0.1
        assert verdict.decision is Decision.REVIEW and len(sift.requests) == 3
        assert "open" in verdict.reasons[-1].detail
        # After the cool-down one probe goes through; it succeeds, the breaker closes.
        failing = False
        clock.advance(31)
        verdict = await screener.screen(DB, _checkout(), failure_mode=FailureMode.OPEN)  # type: ignore[arg-type]
        assert verdict.fraud_fallback is None and len(sift.requests) == 4
        assert guard.state is BreakerState.CLOSED
    finally:
        await provider.aclose()


async def test_a_provider_answer_it_cannot_use_is_a_failure(sift: FakeSift) -> None:
    sift.plan = lambda n: "bad" if n == 0 else "ok"
    screener, _, provider = _with_sift(sift)
    context.begin()
    try:
        refused = await screener.screen(DB, _checkout(), failure_mode=FailureMode.OPEN)  # type: ignore[arg-type]
        answered = await screener.screen(DB, _checkout(), failure_mode=FailureMode.OPEN)  # type: ignore[arg-type]
    finally:
        await provider.aclose()
    assert refused.fraud_fallback == "fail_open"
    assert answered.fraud_fallback is None and answered.score == 8  # 0.1 -> 10/100 -> 8


async def test_the_kill_switch_skips_the_call(sift: FakeSift) -> None:
    provider = SiftProvider("k", sift.url)
    guard = ExternalCall("fraud", "sift", CallPolicy(timeout_s=0.3), switch=lambda: False)
    screener = _screener(Settings(), provider=provider, guard=guard)
    context.begin()
    try:
        verdict = await screener.screen(DB, _checkout(), failure_mode=FailureMode.OPEN)  # type: ignore[arg-type]
    finally:
        await provider.aclose()
    assert sift.requests == [] and verdict.fraud_fallback == "fail_open"
    assert "switched_off" in verdict.reasons[-1].detail
