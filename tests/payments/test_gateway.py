"""The gateway with fake connectors and a fake clock: failover to the secondary while the
primary's breaker is open and back after a successful probe; declines never trip a
breaker and timeouts do; retries only on retryable errors, each with the same idempotency
key; when every provider is open, 503 without a call; calls for existing payments still
reach their provider; what it all looks like in the metrics."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY

from cartwright.kit.errors import ProviderUnavailable
from cartwright.payments.breaker import BreakerPolicy, BreakerState
from cartwright.payments.connector import (
    AuthorizeRequest,
    CaptureRequest,
    PaymentConnector,
    ProviderStatus,
    RefundRequest,
    RetryableProviderError,
    VoidRequest,
)
from cartwright.payments.gateway import Gateway
from cartwright.payments.routing import parse_routes
from tests.fakes.clock import FakeClock
from tests.fakes.connectors import DECLINED, HANG, FakeConnector, Operation

POLICY = BreakerPolicy(threshold=2, window=4, cooldown_s=30.0, probes=1)


class Setup:
    """Two providers, the primary first in registration order, on one fake clock."""

    def __init__(self, *, max_attempts: int = 1, routes: str = "") -> None:
        self.clock = FakeClock()
        suffix = uuid.uuid4().hex[:8]  # metrics are process-wide: names of this test's own
        self.primary = FakeConnector(f"primary-{suffix}", clock=self.clock)
        self.secondary = FakeConnector(f"secondary-{suffix}", clock=self.clock)
        connectors: dict[str, PaymentConnector] = {
            c.name: c for c in (self.primary, self.secondary)
        }
        self.gateway = Gateway(
            connectors,
            timeout_s=0.02,
            max_attempts=max_attempts,
            routes=parse_routes(routes.replace("{suffix}", suffix), list(connectors)),
            breaker=POLICY,
            clock=self.clock,
        )

    def route(self, currency: str = "EUR", amount: int = 1000) -> str:
        return self.gateway.route(currency=currency, amount=amount)

    async def pay(self, provider: str | None = None) -> ProviderStatus:
        provider = provider or self.route()
        request = AuthorizeRequest(f"pay_{uuid.uuid4().hex}", 1000, "EUR", "tok")
        return (await self.gateway.authorize(provider, request)).status

    async def trip_primary(self) -> None:
        self.primary.down = True
        for _ in range(POLICY.threshold):
            with pytest.raises(ProviderUnavailable):
                await self.pay(self.primary.name)
        assert state(self.primary.name) == BreakerState.OPEN


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def state(provider: str) -> float:
    return sample("cartwright_payment_provider_breaker_state", provider=provider)


def calls(provider: str, outcome: str, operation: str = "authorize") -> float:
    return sample(
        "cartwright_payment_provider_calls_total",
        provider=provider,
        operation=operation,
        outcome=outcome,
    )


async def test_declines_never_trip_the_breaker() -> None:
    s = Setup()
    s.primary.always(Operation.AUTHORIZE, DECLINED)
    for _ in range(3 * POLICY.window):
        assert await s.pay() is ProviderStatus.DECLINED
    assert s.route() == s.primary.name
    assert state(s.primary.name) == BreakerState.CLOSED
    assert calls(s.primary.name, "declined") == 3 * POLICY.window


async def test_timeouts_trip_it_and_are_never_retried() -> None:
    s = Setup(max_attempts=3)
    s.primary.always(Operation.AUTHORIZE, HANG)
    for _ in range(POLICY.threshold):
        assert await s.pay() is ProviderStatus.PENDING  # unknown, not failed
    assert len(s.primary.keys(Operation.AUTHORIZE)) == POLICY.threshold  # one attempt each
    assert state(s.primary.name) == BreakerState.OPEN
    assert calls(s.primary.name, "timeout") == POLICY.threshold
    assert s.route() == s.secondary.name


async def test_failover_while_open_then_back_to_the_primary_after_a_good_probe() -> None:
    s = Setup()
    await s.trip_primary()
    sent = len(s.primary.calls)

    # Open: new payments go to the secondary, the primary hears nothing.
    for _ in range(5):
        assert s.route() == s.secondary.name
        assert await s.pay() is ProviderStatus.AUTHORIZED
    assert len(s.primary.calls) == sent
    assert calls(s.secondary.name, "authorized") == 5

    # The cool-down passes; the primary recovered. One probe goes to it, the payments
    # routed while the probe is out go to the secondary.
    s.primary.down = False
    s.clock.advance(POLICY.cooldown_s)
    probe = s.route()
    assert probe == s.primary.name
    assert state(s.primary.name) == BreakerState.HALF_OPEN
    assert s.route() == s.secondary.name
    assert await s.pay(probe) is ProviderStatus.AUTHORIZED

    assert state(s.primary.name) == BreakerState.CLOSED
    assert [s.route() for _ in range(3)] == [s.primary.name] * 3
    transitions = [
        sample(
            "cartwright_payment_provider_breaker_transitions_total",
            provider=s.primary.name,
            to=to,
        )
        for to in ("open", "half_open", "closed")
    ]
    assert transitions == [1, 1, 1]


async def test_a_failed_probe_sends_payments_back_to_the_secondary() -> None:
    s = Setup()
    await s.trip_primary()
    s.clock.advance(POLICY.cooldown_s)
    probe = s.route()
    assert probe == s.primary.name
    with pytest.raises(ProviderUnavailable):
        await s.pay(probe)
    assert state(s.primary.name) == BreakerState.OPEN
    assert s.route() == s.secondary.name


async def test_every_provider_open_is_503_with_the_cool_down_and_no_call() -> None:
    s = Setup()
    await s.trip_primary()
    s.clock.advance(10)
    s.secondary.down = True
    for _ in range(POLICY.threshold):
        with pytest.raises(ProviderUnavailable):
            await s.pay(s.secondary.name)
    sent = len(s.primary.calls), len(s.secondary.calls)

    with pytest.raises(ProviderUnavailable) as refused:
        s.route()
    # The primary's cool-down ends first: 20 s from now.
    assert refused.value.headers == {"Retry-After": "20"}
    assert refused.value.status == 503
    assert (len(s.primary.calls), len(s.secondary.calls)) == sent


async def test_an_authorization_sent_to_an_open_provider_is_refused_without_a_call() -> None:
    s = Setup()
    provider = s.route()  # chosen while closed ...
    await s.trip_primary()  # ... and it opened before the call
    sent = len(s.primary.calls)
    with pytest.raises(ProviderUnavailable) as refused:
        await s.pay(provider)
    assert refused.value.headers == {"Retry-After": "30"}
    assert len(s.primary.calls) == sent


async def test_the_void_of_an_authorization_refused_unsent_needs_no_call() -> None:
    s = Setup()
    provider = s.route()
    await s.trip_primary()
    sent = len(s.primary.calls)
    request = AuthorizeRequest("pay_unsent", 1000, "EUR", "tok")
    with pytest.raises(ProviderUnavailable):
        await s.gateway.authorize(provider, request)
    # What the checkout does next: cancel the key. The provider is down, and need not be
    # asked: nothing of this payment reached it.
    canceled = await s.gateway.void(provider, VoidRequest("pay_unsent", None))
    assert canceled.status is ProviderStatus.NOT_FOUND
    assert len(s.primary.calls) == sent
    # Only once, and only for that payment: any other void goes to the provider.
    for payment_id in ("pay_unsent", "pay_other"):
        with pytest.raises(ProviderUnavailable):
            await s.gateway.void(provider, VoidRequest(payment_id, None))
    assert s.primary.keys(Operation.VOID) == ["pay_unsent:void", "pay_other:void"]


async def test_calls_for_existing_payments_still_reach_an_open_provider() -> None:
    s = Setup()
    await s.trip_primary()
    s.primary.down = False
    g, name = s.gateway, s.primary.name
    assert (await g.retrieve(name, "pay_1")).status is ProviderStatus.AUTHORIZED
    assert (await g.confirm(name, "pay_1", "ref_1")).status is ProviderStatus.AUTHORIZED
    await g.capture(name, CaptureRequest("pay_1", "ref_1", "cap_1", 1000, "EUR", final=True))
    await g.refund(name, RefundRequest("pay_1", "ref_1", "ref_fund_1", 500, "EUR"))
    assert (await g.void(name, VoidRequest("pay_2", None))).status is ProviderStatus.VOIDED
    assert [c.operation for c in s.primary.calls[-5:]] == [
        Operation.RETRIEVE,
        Operation.CONFIRM,
        Operation.CAPTURE,
        Operation.REFUND,
        Operation.VOID,
    ]
    # Their successes do not close it: only a probe does, after the cool-down.
    assert state(name) == BreakerState.OPEN
    assert s.route() == s.secondary.name


async def test_other_operations_count_toward_the_breaker_too() -> None:
    s = Setup()
    s.primary.down = True
    for _ in range(POLICY.threshold):
        with pytest.raises(ProviderUnavailable):
            await s.gateway.retrieve(s.primary.name, "pay_1")
    assert calls(s.primary.name, "error", operation="retrieve") == POLICY.threshold
    assert s.route() == s.secondary.name


async def test_retries_only_on_retryable_errors_with_the_same_key() -> None:
    s = Setup(max_attempts=3)
    s.primary.script(Operation.AUTHORIZE, RetryableProviderError(), RetryableProviderError())
    request = AuthorizeRequest("pay_retried", 1000, "EUR", "tok")
    result = await s.gateway.authorize(s.primary.name, request)
    assert result.status is ProviderStatus.AUTHORIZED
    assert s.primary.keys(Operation.AUTHORIZE) == ["pay_retried"] * 3
    # One call, however many attempts: one success for the breaker and the metrics.
    assert calls(s.primary.name, "authorized") == 1
    assert calls(s.primary.name, "error") == 0

    s.primary.script(Operation.AUTHORIZE, DECLINED)
    await s.pay(s.primary.name)
    s.primary.script(Operation.AUTHORIZE, ValueError("a bug, not the provider"))
    with pytest.raises(ValueError):
        await s.pay(s.primary.name)
    assert len(s.primary.keys(Operation.AUTHORIZE)) == 5  # neither was retried


async def test_a_call_failing_every_attempt_is_one_failure_and_nothing_charged() -> None:
    s = Setup(max_attempts=3)
    s.primary.down = True
    with pytest.raises(ProviderUnavailable, match="nothing was charged"):
        await s.pay(s.primary.name)
    assert len(set(s.primary.keys(Operation.AUTHORIZE))) == 1
    assert len(s.primary.keys(Operation.AUTHORIZE)) == 3
    assert calls(s.primary.name, "error") == 1
    assert state(s.primary.name) == BreakerState.CLOSED  # 1 failure of the 2 that open it


async def test_routes_choose_the_order_and_failover_follows_it() -> None:
    routes = """[
        {"currency": "USD", "providers": ["secondary-{suffix}", "primary-{suffix}"]},
        {"currency": "EUR", "max_amount": 50000, "providers": ["primary-{suffix}"]}
    ]"""
    s = Setup(routes=routes)
    assert s.route("USD") == s.secondary.name
    assert s.route("EUR") == s.primary.name
    assert s.route("EUR", amount=50_000) == s.primary.name  # no rule: registration order
    await s.trip_primary()
    assert s.route("USD") == s.secondary.name
    # A route naming only the open provider has nowhere to fail over to.
    with pytest.raises(ProviderUnavailable):
        s.route("EUR")
    assert s.route("EUR", amount=50_000) == s.secondary.name


async def test_latency_is_measured_on_the_gateways_clock() -> None:
    s = Setup()
    s.primary.latency_s = 0.3
    await s.pay(s.primary.name)
    await s.pay(s.primary.name)
    name = "cartwright_payment_provider_duration_seconds"
    labels = {"provider": s.primary.name, "operation": "authorize"}
    assert sample(f"{name}_count", **labels) == 2
    assert sample(f"{name}_sum", **labels) == pytest.approx(0.6)
    assert sample(f"{name}_bucket", le="0.25", **labels) == 0
    assert sample(f"{name}_bucket", le="0.5", **labels) == 2


def test_no_provider_enabled_is_503() -> None:
    gateway = Gateway({}, timeout_s=1, max_attempts=1)
    with pytest.raises(ProviderUnavailable, match="No payment provider is enabled"):
        gateway.route(currency="EUR", amount=1)
