"""The bounded external call: a slow provider costs at most its timeout, an open breaker
nothing; failures open the breaker, a probe closes it; bugs are not taken for outages."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from prometheus_client import REGISTRY

from cartwright.kit.breaker import BreakerPolicy, BreakerState
from cartwright.kit.external import CallPolicy, ExternalCall, Outcome, ProviderError, Unavailable
from tests.fakes.clock import FakeClock

POLICY = CallPolicy(
    timeout_s=0.2,
    breaker=BreakerPolicy(threshold=2, window=4, window_s=60.0, cooldown_s=30.0, probes=1),
)


def _guard(clock: FakeClock, switch: list[bool] | None = None) -> ExternalCall:
    return ExternalCall(
        "tax",
        f"fake-{uuid.uuid4().hex[:8]}",
        POLICY,
        clock=clock,
        switch=None if switch is None else (lambda: switch[0]),
    )


def _calls(guard: ExternalCall, outcome: Outcome) -> float:
    value = REGISTRY.get_sample_value(
        "cartwright_provider_calls_total",
        {"kind": guard.kind, "provider": guard.provider, "outcome": outcome.value},
    )
    return value or 0.0


def _state(guard: ExternalCall) -> float | None:
    return REGISTRY.get_sample_value(
        "cartwright_provider_breaker_state", {"kind": guard.kind, "provider": guard.provider}
    )


async def _answer(value: str) -> str:
    return value


async def _slow() -> str:
    await asyncio.sleep(20)
    return "too late"


async def _failing() -> str:
    raise ProviderError("503 from the provider")


async def test_a_provider_answering_in_20_s_costs_at_most_the_timeout() -> None:
    guard = _guard(FakeClock())
    started = time.perf_counter()
    with pytest.raises(Unavailable) as caught:
        await guard.call(_slow)
    assert caught.value.reason is Outcome.TIMEOUT
    assert time.perf_counter() - started < POLICY.timeout_s + 0.5
    assert _calls(guard, Outcome.TIMEOUT) == 1


async def test_failures_open_the_breaker_then_calls_cost_nothing_until_a_probe_closes_it() -> None:
    clock = FakeClock()
    guard = _guard(clock)
    assert await guard.call(lambda: _answer("ok")) == "ok"
    for _ in range(POLICY.breaker.threshold):
        with pytest.raises(Unavailable):
            await guard.call(_failing)
    assert guard.state is BreakerState.OPEN
    assert _state(guard) == BreakerState.OPEN

    made = []

    async def counted() -> str:
        made.append(1)
        return "ok"

    with pytest.raises(Unavailable) as caught:
        await guard.call(counted)
    assert caught.value.reason is Outcome.OPEN
    assert made == []  # the open breaker did not call the provider at all
    assert _calls(guard, Outcome.OPEN) == 1

    clock.advance(POLICY.breaker.cooldown_s)
    assert await guard.call(counted) == "ok"  # the half-open probe
    assert made == [1]
    assert guard.state is BreakerState.CLOSED
    assert _state(guard) == BreakerState.CLOSED


async def test_a_failed_probe_opens_it_again() -> None:
    clock = FakeClock()
    guard = _guard(clock)
    for _ in range(POLICY.breaker.threshold):
        with pytest.raises(Unavailable):
            await guard.call(_failing)
    clock.advance(POLICY.breaker.cooldown_s)
    with pytest.raises(Unavailable) as caught:
        await guard.call(_failing)
    assert caught.value.reason is Outcome.ERROR
    assert guard.state is BreakerState.OPEN


async def test_the_kill_switch_skips_the_call() -> None:
    switch = [False]
    guard = _guard(FakeClock(), switch)
    with pytest.raises(Unavailable) as caught:
        await guard.call(lambda: _answer("never"))
    assert caught.value.reason is Outcome.SWITCHED_OFF
    assert guard.state is BreakerState.CLOSED  # a switched-off provider is not failing
    switch[0] = True
    assert await guard.call(lambda: _answer("back")) == "back"


async def test_a_transport_error_is_an_outage_but_a_bug_propagates() -> None:
    guard = _guard(FakeClock())
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=1.0) as client:
        with pytest.raises(Unavailable) as caught:
            await guard.call(lambda: client.get("/"))  # nothing listens on port 9
    assert caught.value.reason is Outcome.ERROR

    async def buggy() -> str:
        raise KeyError("a bug in the adapter")

    with pytest.raises(KeyError):
        await guard.call(buggy)


def test_fallbacks_are_counted() -> None:
    guard = _guard(FakeClock())
    guard.fallback("last_known_rates")
    guard.fallback("last_known_rates")
    assert (
        REGISTRY.get_sample_value(
            "cartwright_provider_fallbacks_total",
            {"kind": "tax", "provider": guard.provider, "fallback": "last_known_rates"},
        )
        == 2
    )
