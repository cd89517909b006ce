"""A bounded call to an external provider that checkout depends on: tax, shipping rates,
fraud screening (payment providers have their own gateway, `payments.gateway`).

Each call is bounded by a timeout and goes through a circuit breaker (`kit.breaker`); a
kill switch (a feature flag) can turn the provider off. Whenever the provider cannot
answer, `call` raises `Unavailable` with the reason, at once for an open breaker or a
switch that is off, and the caller takes its declared fallback and says so (`fallback`).
So a provider answering in 20 s costs a checkout at most `timeout_s`, and once its
breaker is open, nothing.

A failure is a timeout, a transport error, or a `ProviderError` the adapter raises for an
answer it cannot use (5xx, malformed). Any other exception is a bug in the caller and
propagates: it is not mistaken for the provider's outage.

Measured as `cartwright_provider_calls_total{kind,provider,outcome}`,
`cartwright_provider_duration_seconds`, `cartwright_provider_breaker_state` and
`cartwright_provider_fallbacks_total{kind,provider,fallback}`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import httpx
import structlog

from cartwright.kit import metrics
from cartwright.kit.breaker import Breaker, BreakerPolicy, BreakerState, Clock

log = structlog.get_logger("cartwright.kit.external")
T = TypeVar("T")


class Outcome(StrEnum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    OPEN = "open"
    SWITCHED_OFF = "switched_off"


class ProviderError(Exception):
    """Raised by an adapter for an answer it cannot use: a 5xx, a malformed body."""


class Unavailable(Exception):
    """The provider did not answer usably; take the fallback."""

    def __init__(self, kind: str, provider: str, reason: Outcome) -> None:
        super().__init__(f"{kind} provider {provider} unavailable: {reason.value}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CallPolicy:
    timeout_s: float = 2.0
    breaker: BreakerPolicy = field(
        default_factory=lambda: BreakerPolicy(
            threshold=5, window=20, window_s=60.0, cooldown_s=30.0, probes=1
        )
    )

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("an external call needs a positive timeout")


_FAILURES = (ProviderError, httpx.HTTPError, OSError)


class ExternalCall:
    """One provider's guard, shared by every call to it in the process."""

    def __init__(
        self,
        kind: str,
        provider: str,
        policy: CallPolicy | None = None,
        *,
        clock: Clock = time.monotonic,
        switch: Callable[[], bool] | None = None,
    ) -> None:
        self.kind = kind
        self.provider = provider
        self.policy = policy or CallPolicy()
        self._switch = switch
        labels = (kind, provider)
        metrics.provider_breaker_state.labels(*labels).set(BreakerState.CLOSED)
        for outcome in Outcome:  # exported from 0, so `increase()` sees the first one
            metrics.provider_calls.labels(*labels, outcome.value)
        self._breaker = Breaker(
            f"{kind} provider {provider}",
            self.policy.breaker,
            clock,
            on_move=lambda state: metrics.provider_breaker_state.labels(*labels).set(state),
        )

    @property
    def state(self) -> BreakerState:
        return self._breaker.state

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
        """`make()` bounded and counted; `Unavailable` when it cannot be used."""
        if self._switch is not None and not self._switch():
            raise self._unavailable(Outcome.SWITCHED_OFF)
        if not self._breaker.admit():
            raise self._unavailable(Outcome.OPEN)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.policy.timeout_s):
                value = await make()
        except TimeoutError:
            self._breaker.record(failed=True)
            raise self._unavailable(Outcome.TIMEOUT) from None
        except _FAILURES as exc:
            self._breaker.record(failed=True)
            log.warning(
                "external provider call failed",
                kind=self.kind,
                provider=self.provider,
                error=type(exc).__name__,
            )
            raise self._unavailable(Outcome.ERROR) from exc
        finally:
            metrics.provider_duration.labels(self.kind, self.provider).observe(
                time.perf_counter() - started
            )
        self._breaker.record(failed=False)
        metrics.provider_calls.labels(self.kind, self.provider, Outcome.OK.value).inc()
        return value

    def fallback(self, name: str) -> None:
        """Count the fallback the caller took for an `Unavailable` call."""
        metrics.provider_fallbacks.labels(self.kind, self.provider, name).inc()

    def _unavailable(self, reason: Outcome) -> Unavailable:
        metrics.provider_calls.labels(self.kind, self.provider, reason.value).inc()
        return Unavailable(self.kind, self.provider, reason)
