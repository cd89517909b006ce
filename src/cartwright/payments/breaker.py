"""A circuit breaker per payment provider, so new authorizations stop going to a provider
that is failing and go to the next one the route names (`Gateway.route`).

Closed, it counts the outcome of each call over a rolling window of the last `window`
calls made within `window_s`, and opens when `threshold` of them failed: a share of the
recent calls, so a busy provider is not cut off for a handful of errors, and a quiet one is
not for failures spread over hours. Open, it admits no new authorization for
`cooldown_s`. After that it is half-open: `probes` new authorizations are let through; the
first success closes it, a failure opens it again for another cool-down. A probe that
never reports back (routed, but the checkout stopped before the call) frees its slot after
a cool-down, so the breaker cannot stay half-open with no probe in flight.

A failure is a call that failed retryably on every attempt, or timed out: the provider is
not answering. A decline, a 3-D Secure challenge or a pending answer is the provider
answering, and counts as a success.

State lives in the process (ADR 0013): each API process and each worker finds out for
itself, within `threshold` of its own calls. Time comes from an injected monotonic clock,
so tests move it by hand.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import structlog

from cartwright.kit import metrics

log = structlog.get_logger("cartwright.payments.breaker")
Clock = Callable[[], float]


class BreakerState(IntEnum):
    """The values are those of `cartwright_payment_provider_breaker_state`."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    threshold: int = 10  # failures among the last `window` calls that open the breaker
    window: int = 20
    window_s: float = 300.0  # older calls no longer count
    cooldown_s: float = 30.0
    probes: int = 1  # new authorizations let through at once while half-open

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= self.window:
            raise ValueError("the breaker threshold must be from 1 to the window's size")
        if self.window_s <= 0 or self.cooldown_s <= 0 or self.probes < 1:
            raise ValueError("the breaker needs a positive window, cool-down and probe count")


class Breaker:
    """One provider's breaker. Not thread-safe: one event loop per process uses it, and
    none of its methods awaits."""

    def __init__(self, provider: str, policy: BreakerPolicy, clock: Clock) -> None:
        self.provider = provider
        self._policy = policy
        self._clock = clock
        self._state = BreakerState.CLOSED
        # (when, failed) of the latest calls, oldest first.
        self._outcomes: deque[tuple[float, bool]] = deque(maxlen=policy.window)
        self._opened_at = 0.0
        self._probes: deque[float] = deque()  # when each probe in flight was admitted
        metrics.breaker_state.labels(provider).set(BreakerState.CLOSED)
        for state in BreakerState:
            # Exported from 0, so `increase()` sees the first transition too.
            metrics.breaker_transitions.labels(provider, state.label)

    @property
    def state(self) -> BreakerState:
        """The state now: an open breaker whose cool-down has passed becomes half-open
        here, when next asked (no timer runs)."""
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self._policy.cooldown_s
        ):
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def admit(self) -> bool:
        """May a new authorization go to this provider? While half-open, a yes takes one
        of the probe slots."""
        match self.state:
            case BreakerState.CLOSED:
                return True
            case BreakerState.OPEN:
                return False
            case BreakerState.HALF_OPEN:
                now = self._clock()
                while self._probes and now - self._probes[0] >= self._policy.cooldown_s:
                    self._probes.popleft()
                if len(self._probes) >= self._policy.probes:
                    return False
                self._probes.append(now)
                return True

    def wait_s(self) -> int:
        """Whole seconds until `admit` may say yes again (at least 1): for Retry-After."""
        now = self._clock()
        match self.state:
            case BreakerState.OPEN:
                remaining = self._opened_at + self._policy.cooldown_s - now
            case BreakerState.HALF_OPEN if self._probes:
                remaining = self._probes[0] + self._policy.cooldown_s - now
            case _:
                remaining = 0.0
        return max(1, math.ceil(remaining))

    def record(self, *, failed: bool) -> None:
        """The outcome of one call (with its retries) to this provider, any operation."""
        match self.state:
            case BreakerState.CLOSED:
                now = self._clock()
                self._outcomes.append((now, failed))
                while now - self._outcomes[0][0] >= self._policy.window_s:
                    self._outcomes.popleft()
                if sum(f for _, f in self._outcomes) >= self._policy.threshold:
                    self._open()
            case BreakerState.HALF_OPEN:
                if failed:
                    self._open()
                else:
                    self._outcomes.clear()
                    self._probes.clear()
                    self._move(BreakerState.CLOSED)
            case BreakerState.OPEN:
                # Calls for existing payments still reach the provider while it is open;
                # they neither prolong the cool-down nor end it: the probes decide.
                pass

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._probes.clear()
        self._outcomes.clear()
        self._move(BreakerState.OPEN)

    def _move(self, to: BreakerState) -> None:
        event = f"payment provider circuit breaker {to.label.replace('_', '-')}"
        if to is BreakerState.OPEN:  # new payments go elsewhere, or fail, from now on
            log.warning(event, provider=self.provider, previous=self._state.label)
        else:
            log.info(event, provider=self.provider, previous=self._state.label)
        self._state = to
        metrics.breaker_state.labels(self.provider).set(to)
        metrics.breaker_transitions.labels(self.provider, to.label).inc()
