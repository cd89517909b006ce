"""Calls to payment providers: a timeout per call, bounded retries with jittered backoff on
retryable errors only, and our idempotency key on each, so a retry can never act twice. A
timeout is never retried or guessed: the result is unknown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from cartwright.kit import metrics, telemetry
from cartwright.kit.errors import ProviderUnavailable
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

TIMED_OUT = ProviderResult(ProviderStatus.PENDING, message="the provider did not answer in time")
OPERATION_TIMED_OUT = OperationResult(
    OperationStatus.PENDING, message="the provider did not answer in time"
)

R = TypeVar("R", ProviderResult, OperationResult)


class Gateway:
    """Calls payment providers with a timeout, bounded jittered retries and idempotency."""

    def __init__(
        self, connectors: dict[str, PaymentConnector], *, timeout_s: float, max_attempts: int
    ) -> None:
        self._connectors = connectors
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts

    @property
    def default_provider(self) -> str:
        """The provider new payments go to; `ProviderUnavailable` when none is enabled."""
        for provider in self._connectors:
            return provider
        raise ProviderUnavailable("No payment provider is enabled; nothing was charged.")

    def connector(self, provider: str) -> PaymentConnector:
        return self._connectors[provider]

    def has(self, provider: str) -> bool:
        return provider in self._connectors

    async def authorize(self, provider: str, request: AuthorizeRequest) -> ProviderResult:
        """Raises `ProviderUnavailable` when every attempt failed retryably (nothing was
        charged); returns a PENDING result when the answer was lost."""
        connector = self._connectors[provider]
        return await self._call(
            provider, "authorize", lambda: connector.authorize(request), TIMED_OUT
        )

    async def confirm(
        self, provider: str, payment_id: str, reference: str | None
    ) -> ProviderResult:
        connector = self._connectors[provider]
        return await self._call(
            provider, "confirm", lambda: connector.confirm(payment_id, reference), TIMED_OUT
        )

    async def retrieve(self, provider: str, payment_id: str) -> ProviderResult:
        connector = self._connectors[provider]
        return await self._call(
            provider, "retrieve", lambda: connector.retrieve(payment_id), TIMED_OUT
        )

    async def void(self, provider: str, request: VoidRequest) -> ProviderResult:
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
        started = time.perf_counter()
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
            metrics.payment_latency.labels(provider, operation).observe(
                time.perf_counter() - started
            )
        metrics.payment_calls.labels(provider, operation, result.status.value).inc()
        return result, result.status.value

    async def _attempt(self, call: Callable[[], Awaitable[R]]) -> R:
        async with asyncio.timeout(self._timeout_s):
            return await call()
