"""A circuit breaker for one external service: payment providers (`payments.gateway` routes
new authorizations away from an open one) and the tax, shipping-rate and fraud providers
(`kit.external`), which stop calling an open one and take their fallback.

Closed, it counts the outcome of each call over a rolling window of the last `window`
calls made within `window_s`, and opens when `threshold` of them failed: a share of the
recent calls, so a busy provider is not cut off for a handful of errors, and a quiet one is
not for failures spread over hours. Open, it admits no new authorization for
`cooldown_s`. After that it is half-open: `probes` new calls are let through; the
first success closes it, a failure opens it again for another cool-down. A probe that
never reports back (admitted, but the caller stopped before the call) frees its slot after
a cool-down, so the breaker cannot stay half-open with no probe in flight.

A failure is a call that failed retryably on every attempt, or timed out: the service is
not answering. For a payment provider a decline, a 3-D Secure challenge or a pending
answer is the provider answering, and counts as a success.

Whoever owns a breaker is told of each state change (`on_move`; it starts closed) to
export it as a metric:
payments to `cartwright_payment_provider_breaker_state`, the other providers to
`cartwright_provider_breaker_state`.

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

log = structlog.get_logger("cartwright.kit.breaker")
Clock = Callable[[], float]


class BreakerState(IntEnum):
    """The values are those of the breaker state gauges."""

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
    """One service's breaker. Not thread-safe: one event loop per process uses it, and
    none of its methods awaits. `subject` names the service in logs (e.g. "payment
    provider stripe", "tax provider stripe_tax")."""

    def __init__(
        self,
        subject: str,
        policy: BreakerPolicy,
        clock: Clock,
        on_move: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.subject = subject
        self._on_move = on_move
        self._policy = policy
        self._clock = clock
        self._state = BreakerState.CLOSED
        # (when, failed) of the latest calls, oldest first.
        self._outcomes: deque[tuple[float, bool]] = deque(maxlen=policy.window)
        self._opened_at = 0.0
        self._probes: deque[float] = deque()  # when each probe in flight was admitted

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
        """May a new call go to this service? While half-open, a yes takes one of the
        probe slots."""
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
        """The outcome of one call (with its retries) to this service, any operation."""
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
                # Calls that bypass `admit` (a payment provider's captures and refunds of
                # existing payments) neither prolong the cool-down nor end it: the probes
                # decide.
                pass

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._probes.clear()
        self._outcomes.clear()
        self._move(BreakerState.OPEN)

    def _move(self, to: BreakerState) -> None:
        event = f"{self.subject} circuit breaker {to.label.replace('_', '-')}"
        if to is BreakerState.OPEN:  # new calls go elsewhere, or to the fallback, from now on
            log.warning(event, previous=self._state.label)
        else:
            log.info(event, previous=self._state.label)
        self._state = to
        if self._on_move is not None:
            self._on_move(to)
