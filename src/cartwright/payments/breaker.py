"""The circuit breaker of each payment provider (`kit.breaker`), exported as
`cartwright_payment_provider_breaker_state` and `…_transitions_total`, so new
authorizations stop going to a provider that is failing and go to the next one the route
names (`Gateway.route`). Captures and refunds of existing payments still reach it.
"""

from __future__ import annotations

from cartwright.kit import metrics
from cartwright.kit.breaker import Breaker, BreakerPolicy, BreakerState, Clock

__all__ = ["Breaker", "BreakerPolicy", "BreakerState", "Clock", "provider_breaker"]


def provider_breaker(provider: str, policy: BreakerPolicy, clock: Clock) -> Breaker:
    metrics.breaker_state.labels(provider).set(BreakerState.CLOSED)
    for state in BreakerState:
        # Exported from 0, so `increase()` sees the first transition too.
        metrics.breaker_transitions.labels(provider, state.label)

    def exported(state: BreakerState) -> None:
        metrics.breaker_state.labels(provider).set(state)
        metrics.breaker_transitions.labels(provider, state.label).inc()

    return Breaker(f"payment provider {provider}", policy, clock, on_move=exported)
