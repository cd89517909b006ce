"""Payments: the state of each payment, and the calls to providers behind it.

State lives in `payments`; every change is a guarded transition (`payments.state`) that
returns the events describing it, for the caller to write in the same transaction.
Provider calls go through `Gateway`: a timeout per call, bounded retries with jittered
backoff on retryable errors only, and the payment id as idempotency key, so a retry can
never charge twice. A timeout is never retried or guessed: the result is unknown.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from cartwright.events.service import Event
from cartwright.kit import clock
from cartwright.kit.db import Conn, Row
from cartwright.kit.errors import NotFound, ProviderUnavailable
from cartwright.ops import metrics
from cartwright.payments import repository
from cartwright.payments.connector import (
    AuthorizeRequest,
    PaymentConnector,
    ProviderResult,
    ProviderStatus,
    RetryableProviderError,
)
from cartwright.payments.state import PaymentStatus, sources_of

TIMED_OUT = ProviderResult(ProviderStatus.PENDING, message="the provider did not answer in time")


@dataclass(frozen=True, slots=True)
class PaymentChange:
    payment: Row
    status: PaymentStatus
    events: list[Event]


def _status_for(result: ProviderResult) -> PaymentStatus:
    match result.status:
        case ProviderStatus.AUTHORIZED:
            return PaymentStatus.AUTHORIZED
        case ProviderStatus.CAPTURED:
            return PaymentStatus.CAPTURED
        case ProviderStatus.DECLINED:
            return PaymentStatus.DECLINED
        case ProviderStatus.REQUIRES_ACTION:
            return PaymentStatus.REQUIRES_ACTION
        case ProviderStatus.NOT_FOUND:
            return PaymentStatus.FAILED
        case ProviderStatus.PENDING:
            return PaymentStatus.UNKNOWN


def present(row: Row) -> dict[str, Any]:
    next_action = row["next_action"]
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "provider": row["provider"],
        "status": row["status"],
        "amount": {"amount": row["amount"], "currency": row["currency"]},
        "amount_captured": {"amount": row["amount_captured"], "currency": row["currency"]},
        "amount_refunded": {"amount": row["amount_refunded"], "currency": row["currency"]},
        "capture_method": row["capture_method"],
        "failure_code": row["failure_code"],
        "next_action": orjson.loads(next_action) if isinstance(next_action, str) else next_action,
        "created_at": clock.isoformat(row["created_at"]),
        "updated_at": clock.isoformat(row["updated_at"]),
    }


_EVENTS: dict[PaymentStatus, tuple[str, ...]] = {
    PaymentStatus.AUTHORIZED: ("payment.authorized",),
    PaymentStatus.CAPTURED: ("payment.authorized", "payment.captured"),
    PaymentStatus.DECLINED: ("payment.failed",),
    PaymentStatus.FAILED: ("payment.failed",),
    PaymentStatus.REQUIRES_ACTION: ("payment.requires_action",),
    PaymentStatus.UNKNOWN: ("payment.pending",),
    PaymentStatus.CANCELED: ("payment.canceled",),
}


async def create_payment(
    conn: Conn, *, payment_id: str, order_id: str, provider: str, amount: int, currency: str,
    token: str, capture_method: str,
) -> None:
    """Record the payment before the provider is asked (status `processing`)."""
    await repository.insert_payment(
        conn, payment_id=payment_id, order_id=order_id, provider=provider,
        status=PaymentStatus.PROCESSING, currency=currency, amount=amount,
        capture_method=capture_method, token=token, now=clock.utcnow(),
    )


async def apply_result(
    conn: Conn, payment_id: str, result: ProviderResult, *, amount: int
) -> PaymentChange | None:
    """Apply a provider's answer; None when the state machine does not allow the move
    (another process got there first, or nothing changed)."""
    target = _status_for(result)
    now = clock.utcnow()
    next_action = orjson.dumps(result.next_action).decode() if result.next_action else None
    row = await repository.move(
        conn, payment_id, sources=sources_of(target), target=target,
        reference=result.reference,
        amount_authorized=amount if target in (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED) else None,
        amount_captured=result.amount_captured if target is PaymentStatus.CAPTURED else None,
        failure_code=result.decline_code if target is PaymentStatus.DECLINED else (
            "provider_unreachable" if target is PaymentStatus.FAILED else None
        ),
        failure_message=result.message if target in (PaymentStatus.DECLINED, PaymentStatus.FAILED) else None,
        next_action=next_action, unknown_since=now if target is PaymentStatus.UNKNOWN else None,
        now=now,
    )
    if row is None:
        return None
    data = present(row)
    # Payments belong to their order: the order is the aggregate their events are filed under.
    events = [Event(t, row["order_id"], data) for t in _EVENTS[target]]
    return PaymentChange(row, target, events)


async def get_payment(conn: Conn, payment_id: str) -> Row:
    row = await repository.get(conn, payment_id)
    if row is None:
        raise NotFound(f"No payment {payment_id}.")
    return row


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
        return next(iter(self._connectors))

    def connector(self, provider: str) -> PaymentConnector:
        return self._connectors[provider]

    async def authorize(self, provider: str, request: AuthorizeRequest) -> ProviderResult:
        """Raises `ProviderUnavailable` when every attempt failed retryably (nothing was
        charged); returns a PENDING result when the answer was lost."""
        connector = self._connectors[provider]
        return await self._call(provider, "authorize", lambda: connector.authorize(request))

    async def confirm(self, provider: str, payment_id: str) -> ProviderResult:
        connector = self._connectors[provider]
        return await self._call(provider, "confirm", lambda: connector.confirm(payment_id))

    async def retrieve(self, provider: str, payment_id: str) -> ProviderResult:
        connector = self._connectors[provider]
        return await self._call(provider, "retrieve", lambda: connector.retrieve(payment_id))

    async def cancel(self, provider: str, payment_id: str) -> ProviderResult:
        connector = self._connectors[provider]
        return await self._call(provider, "cancel", lambda: connector.cancel(payment_id))

    async def _call(self, provider: str, operation: str, call: Any) -> ProviderResult:
        started = time.perf_counter()
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._max_attempts),
                wait=wait_random_exponential(multiplier=0.05, max=1.0),
                retry=retry_if_exception_type(RetryableProviderError),
                reraise=True,
            ):
                with attempt:
                    async with asyncio.timeout(self._timeout_s):
                        result: ProviderResult = await call()
        except TimeoutError:
            metrics.payment_calls.labels(provider, operation, "timeout").inc()
            return TIMED_OUT
        except RetryableProviderError:
            metrics.payment_calls.labels(provider, operation, "error").inc()
            raise ProviderUnavailable(
                "The payment provider is failing; nothing was charged. Try again shortly.",
                retry_after_s=5,
            ) from None
        finally:
            metrics.payment_latency.labels(provider, operation).observe(
                time.perf_counter() - started
            )
        metrics.payment_calls.labels(provider, operation, result.status.value).inc()
        return result
