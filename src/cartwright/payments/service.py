"""Payments: the state of each payment, and the calls to providers behind it.

State lives in `payments`; every change is a guarded transition (`payments.state`) that
returns the events describing it, for the caller to write in the same transaction.
Provider calls go through `payments.gateway.Gateway`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, assert_never

import orjson

from cartwright.events.service import Event
from cartwright.kit import clock
from cartwright.kit.db import Conn, Row, Stmt
from cartwright.kit.errors import NotFound
from cartwright.payments import repository
from cartwright.payments.connector import ProviderResult, ProviderStatus
from cartwright.payments.state import PaymentStatus, sources_of


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment as stored: enough to present it and to plan its next transition."""

    id: str
    order_id: str
    provider: str
    status: PaymentStatus
    currency: str
    amount: int
    amount_captured: int
    amount_refunded: int
    capture_method: str
    failure_code: str | None
    next_action: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Payment:
        next_action = row["next_action"]
        return cls(
            id=row["id"],
            order_id=row["order_id"],
            provider=row["provider"],
            status=PaymentStatus(row["status"]),
            currency=row["currency"],
            amount=row["amount"],
            amount_captured=row["amount_captured"],
            amount_refunded=row["amount_refunded"],
            capture_method=row["capture_method"],
            failure_code=row["failure_code"],
            next_action=orjson.loads(next_action) if isinstance(next_action, str) else next_action,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def present(self) -> dict[str, Any]:
        def money(amount: int) -> dict[str, Any]:
            return {"amount": amount, "currency": self.currency}

        return {
            "id": self.id,
            "order_id": self.order_id,
            "provider": self.provider,
            "status": self.status.value,
            "amount": money(self.amount),
            "amount_captured": money(self.amount_captured),
            "amount_refunded": money(self.amount_refunded),
            "capture_method": self.capture_method,
            "failure_code": self.failure_code,
            "next_action": self.next_action,
            "created_at": clock.isoformat(self.created_at),
            "updated_at": clock.isoformat(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class PaymentChange:
    """A planned transition: the guarded write (row count 1 when it applied), the payment
    as it will be, and the events that describe the change."""

    statement: Stmt
    payment: Payment
    events: list[Event]

    @property
    def status(self) -> PaymentStatus:
        return self.payment.status


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
        case ProviderStatus.VOIDED:
            return PaymentStatus.CANCELED
        case ProviderStatus.NOT_FOUND:
            return PaymentStatus.FAILED
        case ProviderStatus.PENDING:
            return PaymentStatus.UNKNOWN
        case _:
            assert_never(result.status)


_EVENTS: dict[PaymentStatus, tuple[str, ...]] = {
    PaymentStatus.AUTHORIZED: ("payment.authorized",),
    PaymentStatus.CAPTURED: ("payment.authorized", "payment.captured"),
    PaymentStatus.DECLINED: ("payment.failed",),
    PaymentStatus.FAILED: ("payment.failed",),
    PaymentStatus.REQUIRES_ACTION: ("payment.requires_action",),
    PaymentStatus.UNKNOWN: ("payment.pending",),
    PaymentStatus.CANCELED: ("payment.canceled",),
}


def new_payment(
    *,
    payment_id: str,
    order_id: str,
    provider: str,
    amount: int,
    currency: str,
    capture_method: str,
) -> tuple[Payment, Stmt]:
    """The payment recorded before the provider is asked (`processing`), and its insert.
    The shopper's payment token is not part of it: it goes to the provider and nowhere
    else (nothing after the authorization needs it)."""
    now = clock.utcnow()
    payment = Payment(
        id=payment_id,
        order_id=order_id,
        provider=provider,
        status=PaymentStatus.PROCESSING,
        currency=currency,
        amount=amount,
        amount_captured=0,
        amount_refunded=0,
        capture_method=capture_method,
        failure_code=None,
        next_action=None,
        created_at=now,
        updated_at=now,
    )
    return payment, repository.insert_payment_stmt(
        payment_id=payment_id,
        order_id=order_id,
        provider=provider,
        status=PaymentStatus.PROCESSING,
        currency=currency,
        amount=amount,
        capture_method=capture_method,
        now=now,
    )


def plan_result(payment: Payment, result: ProviderResult) -> PaymentChange:
    """Plan applying a provider's answer to `payment`. The caller runs the statement in its
    transaction and must find row count 1, or another process moved the payment first."""
    target = _status_for(result)
    if target is PaymentStatus.CANCELED and payment.status is not PaymentStatus.AUTHORIZED:
        # Canceled before anything was authorized (an abandoned challenge): it failed.
        target = PaymentStatus.DECLINED
        result = replace(result, decline_code=result.decline_code or "canceled")
    now = clock.utcnow()
    succeeded = target in (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED)
    captured = (
        result.amount_captured if target is PaymentStatus.CAPTURED else payment.amount_captured
    )
    failure_code = (
        result.decline_code
        if target is PaymentStatus.DECLINED
        else "provider_unreachable"
        if target is PaymentStatus.FAILED
        else None
    )
    statement = repository.move_stmt(
        payment.id,
        sources=sources_of(target),
        target=target,
        reference=result.reference,
        amount_authorized=payment.amount if succeeded else None,
        amount_captured=captured if target is PaymentStatus.CAPTURED else None,
        failure_code=failure_code,
        failure_message=result.message
        if target in (PaymentStatus.DECLINED, PaymentStatus.FAILED)
        else None,
        next_action=orjson.dumps(result.next_action).decode() if result.next_action else None,
        unknown_since=now if target is PaymentStatus.UNKNOWN else None,
        now=now,
    )
    after = replace(
        payment,
        status=target,
        amount_captured=captured,
        failure_code=failure_code,
        next_action=result.next_action,
        updated_at=now,
    )
    data = after.present()
    # Payments belong to their order: the order is the aggregate their events are filed under.
    events = [Event(t, payment.order_id, data) for t in _EVENTS[target]]
    return PaymentChange(statement, after, events)


async def get_payment(conn: Conn, payment_id: str) -> Payment:
    row = await repository.get(conn, payment_id)
    if row is None:
        raise NotFound(f"No payment {payment_id}.")
    return Payment.from_row(row)


async def unknown_payments(conn: Conn) -> tuple[int, float]:
    """How many payments have an unknown result, and how long (seconds) the oldest has
    been unknown (0 when none)."""
    count, oldest = await repository.unknown_summary(conn)
    if oldest is None:
        return count, 0.0
    if isinstance(oldest, str):  # SQLite hands an aggregate back as text
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return count, max(0.0, (clock.utcnow() - oldest).total_seconds())
