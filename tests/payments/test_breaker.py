"""A provider's circuit breaker: opens on failures over its rolling window (never on how
many calls succeeded before), refuses new work for the cool-down, probes, closes on a
probe's success and opens again on its failure; its state and transitions are metrics."""

from __future__ import annotations

import uuid
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from cartwright.payments.breaker import Breaker, BreakerPolicy, BreakerState, provider_breaker
from tests.fakes.clock import FakeClock

POLICY = BreakerPolicy(threshold=3, window=5, window_s=60.0, cooldown_s=30.0, probes=1)


def _breaker(policy: BreakerPolicy = POLICY) -> tuple[Breaker, FakeClock]:
    clock = FakeClock()
    return provider_breaker(f"psp-{uuid.uuid4().hex[:8]}", policy, clock), clock


def _provider(breaker: Breaker) -> str:
    return breaker.subject.removeprefix("payment provider ")


def _opened(policy: BreakerPolicy = POLICY) -> tuple[Breaker, FakeClock]:
    breaker, clock = _breaker(policy)
    for _ in range(policy.threshold):
        breaker.record(failed=True)
    assert breaker.state is BreakerState.OPEN
    return breaker, clock


def _transitions(provider: str, to: str) -> float:
    value = REGISTRY.get_sample_value(
        "cartwright_payment_provider_breaker_transitions_total", {"provider": provider, "to": to}
    )
    return value or 0.0


def _gauge(provider: str) -> float | None:
    return REGISTRY.get_sample_value(
        "cartwright_payment_provider_breaker_state", {"provider": provider}
    )


@given(st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 1.0, 25.0, 61.0])), max_size=40))
def test_closed_it_opens_exactly_when_the_window_holds_threshold_failures(
    calls: list[tuple[bool, float]],
) -> None:
    """The last `window` calls of the last `window_s` seconds, whatever came before."""
    breaker, clock = _breaker()
    window: deque[tuple[float, bool]] = deque(maxlen=POLICY.window)
    for failed, gap_s in calls:
        clock.advance(gap_s)
        breaker.record(failed=failed)
        window.append((clock.now, failed))
        recent = [f for t, f in window if clock.now - t < POLICY.window_s]
        if sum(recent) >= POLICY.threshold:
            assert breaker.state is BreakerState.OPEN
            return
        assert breaker.state is BreakerState.CLOSED
        assert breaker.admit()


def test_failures_spread_wider_than_the_window_never_open_it() -> None:
    breaker, clock = _breaker()
    for _ in range(10):
        for failed in (True, False, False, False):  # 2 failures in any 5 calls at most
            breaker.record(failed=failed)
    assert breaker.state is BreakerState.CLOSED
    for _ in range(10):  # a quiet provider: one failure a minute is not an outage
        clock.advance(POLICY.window_s)
        breaker.record(failed=True)
        breaker.record(failed=True)
    assert breaker.state is BreakerState.CLOSED


def test_the_whole_cycle_open_half_open_closed() -> None:
    breaker, clock = _opened()
    provider = _provider(breaker)
    assert _gauge(provider) == BreakerState.OPEN
    assert not breaker.admit()
    assert breaker.wait_s() == 30

    clock.advance(29.5)
    assert not breaker.admit()
    assert breaker.wait_s() == 1  # rounded up, never 0
    clock.advance(0.5)
    assert breaker.state is BreakerState.HALF_OPEN
    assert _gauge(provider) == BreakerState.HALF_OPEN
    assert breaker.admit()  # the one probe
    assert not breaker.admit()  # no second while the first is out

    breaker.record(failed=False)
    assert breaker.state is BreakerState.CLOSED
    assert _gauge(provider) == BreakerState.CLOSED
    assert breaker.admit() and breaker.admit()
    # The window starts afresh: the failures before the outage do not count again.
    breaker.record(failed=True)
    breaker.record(failed=True)
    assert breaker.state is BreakerState.CLOSED
    assert [_transitions(provider, to) for to in ("open", "half_open", "closed")] == [1, 1, 1]


def test_a_failed_probe_opens_it_for_a_whole_cool_down_again() -> None:
    breaker, clock = _opened()
    clock.advance(30)
    assert breaker.admit()
    clock.advance(4)  # the probe took 4 s to fail
    breaker.record(failed=True)
    assert breaker.state is BreakerState.OPEN
    assert breaker.wait_s() == 30
    clock.advance(29)
    assert not breaker.admit()
    clock.advance(1)
    assert breaker.admit()
    assert _transitions(_provider(breaker), "open") == 2


def test_several_probes_when_configured() -> None:
    breaker, clock = _opened(BreakerPolicy(threshold=1, window=1, cooldown_s=10, probes=3))
    clock.advance(10)
    assert [breaker.admit() for _ in range(4)] == [True, True, True, False]


def test_a_probe_that_never_reports_frees_its_slot_after_a_cool_down() -> None:
    breaker, clock = _opened()
    clock.advance(30)
    assert breaker.admit()  # routed, but the checkout stopped before calling
    clock.advance(10)
    assert not breaker.admit()
    assert breaker.wait_s() == 20
    clock.advance(20)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.admit()


def test_calls_recorded_while_open_neither_prolong_nor_end_the_cool_down() -> None:
    breaker, clock = _opened()
    clock.advance(20)
    breaker.record(failed=True)  # a refund that failed meanwhile
    breaker.record(failed=False)  # a retrieve that worked
    assert breaker.state is BreakerState.OPEN
    assert breaker.wait_s() == 10
    clock.advance(10)
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_new_breaker_is_exported_closed() -> None:
    breaker, _ = _breaker()
    assert _gauge(_provider(breaker)) == BreakerState.CLOSED
    assert breaker.wait_s() == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 0},
        {"threshold": 6, "window": 5},
        {"window_s": 0},
        {"cooldown_s": 0},
        {"probes": 0},
    ],
)
def test_a_policy_that_could_never_work_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(**kwargs)  # type: ignore[arg-type]
