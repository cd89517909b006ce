"""Calls to payment providers: which provider a new payment goes to (the route's first
whose circuit breaker admits it), a timeout per call, bounded retries with jittered backoff
on retryable errors only, and our idempotency key on each, so a retry can never act twice.
A timeout is never retried or guessed: the result is unknown.

Every call's outcome feeds its provider's breaker (`payments.breaker`). An open breaker
stops new authorizations only: a capture, refund, void, confirm or retrieve concerns a
payment the provider already holds, no other provider can serve it, and a void or a
retrieve is what proves nothing was charged, so those still go to the payment's provider
(ADR 0013). A provider switched off by its feature flag (`payments.<provider>`, ADR 0023)
is skipped by new authorizations the same way; its existing payments still reach it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from cartwright.kit import metrics, telemetry
from cartwright.kit.errors import ProviderUnavailable
from cartwright.kit.settings import Settings
from cartwright.payments.breaker import (
    BreakerPolicy,
    BreakerState,
    Clock,
    provider_breaker,
)
from cartwright.payments.connector import (
    AuthorizeRequest,
    CaptureRequest,
    OperationResult,
    OperationStatus,
    PaymentConnector,
    ProviderResult,
    ProviderStatus,
    RefundRequest,
    RetryableProviderError,
    VoidRequest,
)
from cartwright.payments.routing import Routes, parse_routes

TIMED_OUT = ProviderResult(ProviderStatus.PENDING, message="the provider did not answer in time")
OPERATION_TIMED_OUT = OperationResult(
    OperationStatus.PENDING, message="the provider did not answer in time"
)
FAILED = ("timeout", "error")  # the outcomes that count against a provider's breaker
NEVER_SENT = ProviderResult(ProviderStatus.NOT_FOUND, message="never sent to the provider")
UNSENT_KEPT = 10_000  # payments refused unsent that a void may still ask about

R = TypeVar("R", ProviderResult, OperationResult)


class Gateway:
    """Routes new payments and calls providers with a timeout, bounded jittered retries,
    idempotency and a circuit breaker each."""

    def __init__(
        self,
        connectors: dict[str, PaymentConnector],
        *,
        timeout_s: float,
        max_attempts: int,
        routes: Routes | None = None,
        breaker: BreakerPolicy | None = None,
        clock: Clock = time.monotonic,
        switched_on: Callable[[str], bool] | None = None,
        switched_off_retry_after_s: int = 30,
    ) -> None:
        self._connectors = connectors
        # Whether new authorizations may go to a provider (its kill switch): all, unset.
        self._switched_on = switched_on or (lambda _provider: True)
        self._switched_off_retry_after_s = switched_off_retry_after_s
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._routes = routes if routes is not None else parse_routes("", list(connectors))
        policy = breaker or BreakerPolicy()
        self._breakers = {name: provider_breaker(name, policy, clock) for name in connectors}
        self._clock = clock
        # Authorizations refused because the breaker opened between `route` and the call,
        # oldest first: nothing of them reached the provider, so their void needs no call.
        self._unsent: dict[str, None] = {}

    @classmethod
    def from_settings(
        cls,
        connectors: dict[str, PaymentConnector],
        settings: Settings,
        *,
        switched_on: Callable[[str], bool] | None = None,
    ) -> Gateway:
        """Raises `InvalidRoutes` when CARTWRIGHT_PAYMENT_ROUTES cannot be served with."""
        return cls(
            connectors,
            timeout_s=settings.psp_timeout_s,
            max_attempts=settings.psp_max_attempts,
            routes=parse_routes(settings.payment_routes, list(connectors)),
            breaker=BreakerPolicy(
                threshold=settings.psp_breaker_threshold,
                window=settings.psp_breaker_window,
                window_s=settings.psp_breaker_window_s,
                cooldown_s=settings.psp_breaker_cooldown_s,
                probes=settings.psp_breaker_probes,
            ),
            switched_on=switched_on,
            switched_off_retry_after_s=settings.kill_switch_retry_after_s,
        )

    def route(self, *, currency: str, amount: int, channel: str = "default") -> str:
        """The provider a new payment goes to: the first of its route that is switched on
        and whose breaker admits it. `ProviderUnavailable` when none is (no provider is
        called), with Retry-After the shortest remaining cool-down of the open breakers,
        or the kill switch's when every one is switched off."""
        providers = self._routes.providers_for(currency=currency, amount=amount, channel=channel)
        if not providers:
            raise ProviderUnavailable("No payment provider is enabled; nothing was charged.")
        failing = []
        for provider in providers:
            if not self._switched_on(provider):
                continue
            if self._breakers[provider].admit():
                return provider
            failing.append(provider)
        if not failing:
            raise ProviderUnavailable(
                "Every payment provider for this payment is switched off; nothing was"
                " charged. Try again later.",
                retry_after_s=self._switched_off_retry_after_s,
            )
        raise ProviderUnavailable(
            "Every payment provider for this payment is failing; nothing was charged. Try"
            " again shortly.",
            retry_after_s=min(self._breakers[p].wait_s() for p in failing),
        )

    def connector(self, provider: str) -> PaymentConnector:
        return self._connectors[provider]

    def has(self, provider: str) -> bool:
        return provider in self._connectors

    async def authorize(self, provider: str, request: AuthorizeRequest) -> ProviderResult:
        """Raises `ProviderUnavailable` when every attempt failed retryably (nothing was
        charged), or without calling when the provider's breaker is open or its kill
        switch off (since `route` chose it); returns a PENDING result when the answer was lost."""
        connector = self._connectors[provider]
        breaker = self._breakers[provider]
        switched_off = not self._switched_on(provider)
        if switched_off or breaker.state is BreakerState.OPEN:
            self._unsent[request.payment_id] = None
            if len(self._unsent) > UNSENT_KEPT:
                del self._unsent[next(iter(self._unsent))]
            if switched_off:  # switched off after `route` chose it
                raise ProviderUnavailable(
                    "The payment provider is switched off; nothing was charged.",
                    retry_after_s=self._switched_off_retry_after_s,
                )
            raise ProviderUnavailable(
                "The payment provider is failing; nothing was charged. Try again shortly.",
                retry_after_s=breaker.wait_s(),
            )
        return await self._call(
            provider, "authorize", lambda: connector.authorize(request), TIMED_OUT
        )

    async def confirm(
        self,
        provider: str,
        payment_id: str,
        reference: str | None,
        details: Mapping[str, str] | None = None,
    ) -> ProviderResult:
        connector = self._connectors[provider]
        return await self._call(
            provider,
            "confirm",
            lambda: connector.confirm(payment_id, reference, details),
            TIMED_OUT,
        )

    async def retrieve(self, provider: str, payment_id: str) -> ProviderResult:
        connector = self._connectors[provider]
        return await self._call(
            provider, "retrieve", lambda: connector.retrieve(payment_id), TIMED_OUT
        )

    async def void(self, provider: str, request: VoidRequest) -> ProviderResult:
        """NOT_FOUND without a call for a payment `authorize` refused unsent: the checkout
        cancels its key after any refusal, and the provider, down, could not confirm."""
        if request.reference is None and request.payment_id in self._unsent:
            del self._unsent[request.payment_id]
            return NEVER_SENT
        connector = self._connectors[provider]
        return await self._call(provider, "void", lambda: connector.void(request), TIMED_OUT)

    async def capture(self, provider: str, request: CaptureRequest) -> OperationResult:
        connector = self._connectors[provider]
        return await self._call(
            provider, "capture", lambda: connector.capture(request), OPERATION_TIMED_OUT
        )

    async def refund(self, provider: str, request: RefundRequest) -> OperationResult:
        connector = self._connectors[provider]
        return await self._call(
            provider, "refund", lambda: connector.refund(request), OPERATION_TIMED_OUT
        )

    async def _call(
        self, provider: str, operation: str, call: Callable[[], Awaitable[R]], timed_out: R
    ) -> R:
        with telemetry.span(
            f"payments.{operation}", {"payment.provider": provider, "payment.operation": operation}
        ) as span:
            result, outcome = await self._measured(provider, operation, call, timed_out)
            span.set_attribute("payment.outcome", outcome)
        self._breakers[provider].record(failed=outcome in FAILED)
        if result is None:
            raise ProviderUnavailable(
                "The payment provider is failing; nothing was charged. Try again shortly.",
                retry_after_s=5,
            )
        return result

    async def _measured(
        self, provider: str, operation: str, call: Callable[[], Awaitable[R]], timed_out: R
    ) -> tuple[R | None, str]:
        """One call with its retries, counted and timed; (None, "error") when every
        attempt failed retryably."""
        started = self._clock()
        try:
            try:
                result = await self._attempt(call)
            except RetryableProviderError:
                if self._max_attempts <= 1:
                    raise
                # Retries, with jittered exponential backoff, only on errors the provider
                # did not act on; the same idempotency key makes each retry safe.
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self._max_attempts - 1),
                    wait=wait_random_exponential(multiplier=0.05, max=1.0),
                    retry=retry_if_exception_type(RetryableProviderError),
                    reraise=True,
                ):
                    with attempt:
                        result = await self._attempt(call)
        except TimeoutError:
            metrics.payment_calls.labels(provider, operation, "timeout").inc()
            return timed_out, "timeout"
        except RetryableProviderError:
            metrics.payment_calls.labels(provider, operation, "error").inc()
            return None, "error"
        finally:
            metrics.payment_latency.labels(provider, operation).observe(self._clock() - started)
        metrics.payment_calls.labels(provider, operation, result.status.value).inc()
        return result, result.status.value

    async def _attempt(self, call: Callable[[], Awaitable[R]]) -> R:
        async with asyncio.timeout(self._timeout_s):
            return await call()
