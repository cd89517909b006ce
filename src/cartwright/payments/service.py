"""Payments: the state of each payment, and the calls to providers behind it.

State lives in `payments`; every change is a guarded transition (`payments.state`) that
returns the events describing it, for the caller to write in the same transaction.
Provider calls go through `payments.gateway.Gateway`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, assert_never

import orjson
import structlog

from cartwright.events.service import Event
from cartwright.kit import clock, metrics
from cartwright.kit.db import Conn, Row, Stmt
from cartwright.kit.errors import InvalidState, NotFound
from cartwright.payments import repository
from cartwright.payments.connector import (
    OperationResult,
    OperationStatus,
    ProviderResult,
    ProviderStatus,
    WebhookEvent,
)
from cartwright.payments.state import (
    CAPTURABLE,
    ORDER_PAYMENT_STATUS,
    REFUNDABLE,
    PaymentStatus,
    sources_of,
)

log = structlog.get_logger("cartwright.payments")


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment as stored: enough to present it and to plan its next transition."""

    id: str
    order_id: str
    provider: str
    status: PaymentStatus
    currency: str
    amount: int
    amount_authorized: int
    amount_captured: int
    amount_refunded: int
    capture_pending: int
    refund_pending: int
    capture_method: str
    provider_reference: str | None
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
            amount_authorized=row["amount_authorized"],
            amount_captured=row["amount_captured"],
            amount_refunded=row["amount_refunded"],
            capture_pending=row["capture_pending"],
            refund_pending=row["refund_pending"],
            capture_method=row["capture_method"],
            provider_reference=row["provider_reference"],
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
            "amount_authorized": money(self.amount_authorized),
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


def _status_for(payment: Payment, result: ProviderResult) -> PaymentStatus:
    """Where an awaited payment goes on the provider's answer."""
    match result.status:
        case ProviderStatus.AUTHORIZED:
            return PaymentStatus.AUTHORIZED
        case ProviderStatus.CAPTURED:
            return PaymentStatus.CAPTURED
        case ProviderStatus.DECLINED | ProviderStatus.NOT_FOUND:
            return PaymentStatus.FAILED
        case ProviderStatus.VOIDED:
            # Canceled before anything was authorized (an abandoned challenge): it failed.
            return PaymentStatus.VOIDED if payment.amount_authorized else PaymentStatus.FAILED
        case ProviderStatus.REQUIRES_ACTION:
            return PaymentStatus.REQUIRES_ACTION
        case ProviderStatus.PENDING:
            return PaymentStatus.UNKNOWN
        case _:
            assert_never(result.status)


def _failure_code(result: ProviderResult) -> str:
    match result.status:
        case ProviderStatus.DECLINED:
            return result.decline_code or "card_declined"
        case ProviderStatus.VOIDED:
            return "canceled"
        case _:
            return "provider_unreachable"


_EVENTS: dict[PaymentStatus, tuple[str, ...]] = {
    PaymentStatus.AUTHORIZED: ("payment.authorized",),
    PaymentStatus.CAPTURED: ("payment.authorized", "payment.captured"),
    PaymentStatus.FAILED: ("payment.failed",),
    PaymentStatus.REQUIRES_ACTION: ("payment.requires_action",),
    PaymentStatus.UNKNOWN: ("payment.pending",),
    PaymentStatus.VOIDED: ("payment.voided",),
}


def mismatch(
    currency: str, amount: int, reported_currency: str | None, reported: int | None
) -> str | None:
    """What the provider reports differently from our books, if anything."""
    if reported_currency is not None and reported_currency.upper() != currency:
        return f"currency {reported_currency} instead of {currency}"
    if reported is not None and reported != amount:
        return f"amount {reported} instead of {amount}"
    return None


def alert_mismatch(provider: str, subject_id: str, differs: str) -> None:
    metrics.payment_mismatches.labels(provider).inc()
    log.error("the provider reports a different amount or currency", id=subject_id, differs=differs)


def new_payment(
    *,
    payment_id: str,
    order_id: str,
    provider: str,
    amount: int,
    currency: str,
    capture_method: str,
) -> tuple[Payment, Stmt]:
    """The payment recorded before the provider is asked (`pending`), and its insert.
    The shopper's payment token is not part of it: it goes to the provider and nowhere
    else (nothing after the authorization needs it)."""
    now = clock.utcnow()
    payment = Payment(
        id=payment_id,
        order_id=order_id,
        provider=provider,
        status=PaymentStatus.PENDING,
        currency=currency,
        amount=amount,
        amount_authorized=0,
        amount_captured=0,
        amount_refunded=0,
        capture_pending=0,
        refund_pending=0,
        capture_method=capture_method,
        provider_reference=None,
        failure_code=None,
        next_action=None,
        created_at=now,
        updated_at=now,
    )
    return payment, repository.insert_payment_stmt(
        payment_id=payment_id,
        order_id=order_id,
        provider=provider,
        status=PaymentStatus.PENDING,
        currency=currency,
        amount=amount,
        capture_method=capture_method,
        now=now,
    )


def plan_result(payment: Payment, result: ProviderResult) -> PaymentChange:
    """Plan applying a provider's answer to an awaited payment. The caller runs the
    statement in its transaction and must find row count 1, or another process moved the
    payment first. A success whose amount or currency differs from ours is not trusted:
    the payment stays unknown and `payment.mismatch` asks a person to look."""
    differs = None
    if result.status in (ProviderStatus.AUTHORIZED, ProviderStatus.CAPTURED):
        differs = mismatch(payment.currency, payment.amount, result.currency, result.amount)
        if differs is not None:
            alert_mismatch(payment.provider, payment.id, differs)
            result = ProviderResult(ProviderStatus.PENDING, result.reference, message=differs)
    target = _status_for(payment, result)
    now = clock.utcnow()
    succeeded = target in (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED)
    captured = (
        result.amount_captured if target is PaymentStatus.CAPTURED else payment.amount_captured
    )
    failed = target in (PaymentStatus.FAILED, PaymentStatus.VOIDED)
    failure_code = _failure_code(result) if failed else "amount_mismatch" if differs else None
    statement = repository.move_stmt(
        payment.id,
        sources=sources_of(target),
        target=target,
        reference=result.reference,
        amount_authorized=payment.amount if succeeded else None,
        amount_captured=captured if target is PaymentStatus.CAPTURED else None,
        failure_code=failure_code,
        failure_message=result.message if failed or differs else None,
        next_action=orjson.dumps(result.next_action).decode() if result.next_action else None,
        unknown_since=now if target is PaymentStatus.UNKNOWN else None,
        now=now,
    )
    after = replace(
        payment,
        status=target,
        amount_authorized=payment.amount if succeeded else payment.amount_authorized,
        amount_captured=captured,
        provider_reference=result.reference or payment.provider_reference,
        failure_code=failure_code,
        next_action=result.next_action,
        updated_at=now,
    )
    data = after.present()
    # Payments belong to their order: the order is the aggregate their events are filed under.
    types = _EVENTS[target] + (("payment.mismatch",) if differs else ())
    events = [Event(t, payment.order_id, data) for t in types]
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


# --------------------------------------------------------------------------- operations


class OperationKind(StrEnum):
    CAPTURE = "capture"
    REFUND = "refund"
    VOID = "void"


# What an operation that succeeded is announced as.
_OPERATION_EVENTS = {
    OperationKind.CAPTURE: "payment.captured",
    OperationKind.REFUND: "payment.refunded",
    OperationKind.VOID: "payment.voided",
}


@dataclass(frozen=True, slots=True)
class Operation:
    """A capture, refund or void of a payment, as stored. Its id is the idempotency key
    at the provider."""

    id: str
    payment_id: str
    order_id: str
    kind: OperationKind
    status: OperationStatus
    currency: str
    amount: int
    final: bool
    reason: str | None
    provider_reference: str | None
    failure_code: str | None
    created_at: datetime
    # A refund's {goods, discount, shipping, tax} when the caller gave one (refunds by lines).
    breakdown: dict[str, int] | None = None

    @classmethod
    def from_row(cls, row: Row) -> Operation:
        breakdown = row["breakdown"]
        return cls(
            id=row["id"],
            payment_id=row["payment_id"],
            order_id=row["order_id"],
            kind=OperationKind(row["kind"]),
            status=OperationStatus(row["status"]),
            currency=row["currency"],
            amount=row["amount"],
            final=bool(row["final"]),
            reason=row["reason"],
            provider_reference=row["provider_reference"],
            failure_code=row["failure_code"],
            created_at=row["created_at"],
            breakdown=orjson.loads(breakdown) if isinstance(breakdown, str | bytes) else breakdown,
        )

    def present(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self.kind.value,
            "order_id": self.order_id,
            "payment_id": self.payment_id,
            "status": self.status.value,
            "amount": {"amount": self.amount, "currency": self.currency},
            "reason": self.reason,
            "failure_code": self.failure_code,
            "created_at": clock.isoformat(self.created_at),
            "breakdown": (
                None
                if self.breakdown is None
                else {
                    k: {"amount": v, "currency": self.currency} for k, v in self.breakdown.items()
                }
            ),
        }


@dataclass(frozen=True, slots=True)
class Settled:
    """An operation settled, the payment as it is now, and the events to record."""

    operation: Operation
    payment: Payment
    events: list[Event]


async def payment_of_order(conn: Conn, order_id: str) -> Payment:
    """The payment that paid for the order (the last one recorded)."""
    rows = await repository.for_order(conn, order_id)
    if not rows:
        raise NotFound(f"No payment for order {order_id}.")
    return Payment.from_row(rows[-1])


def remainder(payment: Payment, kind: OperationKind) -> int:
    """What an operation of `kind` may still take: uncaptured authorization for captures
    and voids, captured and not refunded for refunds (amounts in flight excluded)."""
    if kind is OperationKind.REFUND:
        return payment.amount_captured - payment.amount_refunded - payment.refund_pending
    return payment.amount_authorized - payment.amount_captured - payment.capture_pending


_ALLOWED_FROM = {
    OperationKind.CAPTURE: CAPTURABLE,
    OperationKind.VOID: CAPTURABLE,
    OperationKind.REFUND: REFUNDABLE,
}


async def begin_operation(
    conn: Conn,
    payment: Payment,
    *,
    kind: OperationKind,
    operation_id: str,
    amount: int | None,
    final: bool = False,
    reason: str | None = None,
    check_after: timedelta,
    breakdown: dict[str, int] | None = None,
) -> Operation:
    """Record an operation as pending and reserve its amount, before the provider is
    asked; the caller commits, then calls the provider outside any transaction. An
    operation with this id already recorded (a retried request) is returned as it is, to
    be resumed with the same idempotency key. `InvalidState` when the payment's state or
    amounts do not allow it (nothing is changed)."""
    existing = await repository.get_operation(conn, operation_id)
    if existing is not None:
        return Operation.from_row(existing)
    if payment.status not in _ALLOWED_FROM[kind]:
        raise InvalidState(
            f"A payment that is {payment.status.value} cannot be given a {kind.value}.",
            extensions={"payment_status": ORDER_PAYMENT_STATUS[payment.status]},
        )
    left = remainder(payment, kind)
    closes = kind is OperationKind.VOID or (kind is OperationKind.CAPTURE and final)
    if closes and payment.capture_pending:
        what = "void" if kind is OperationKind.VOID else "final capture"
        raise InvalidState(f"A capture of this payment is in flight; a {what} must wait for it.")
    if kind is OperationKind.VOID or amount is None:
        amount = left
    if (
        breakdown is not None
        and sum(breakdown.values()) - 2 * breakdown.get("discount", 0) != amount
    ):
        raise ValueError(f"breakdown {breakdown} does not add up to {amount}")
    if amount <= 0 or amount > left:
        raise InvalidState(
            f"The payment has {left} {payment.currency} (minor units) left to"
            f" {'refund' if kind is OperationKind.REFUND else 'capture'}; asked {amount}.",
            extensions={"available": {"amount": max(left, 0), "currency": payment.currency}},
        )
    now = clock.utcnow()
    if not await repository.reserve(conn, kind, payment.id, amount, final, now):
        # Another operation took the money between our read and this write.
        raise InvalidState("The payment changed meanwhile; read the order and try again.")
    await repository.insert_operation(
        conn,
        operation_id=operation_id,
        payment_id=payment.id,
        order_id=payment.order_id,
        kind=kind,
        currency=payment.currency,
        amount=amount,
        final=final,
        reason=reason,
        next_check_at=now + check_after,
        now=now,
        breakdown=None if breakdown is None else orjson.dumps(breakdown).decode(),
    )
    row = await repository.get_operation(conn, operation_id)
    assert row is not None
    return Operation.from_row(row)


def operation_outcome(
    operation: Operation, result: OperationResult | ProviderResult
) -> OperationResult:
    """A void is answered with the payment as the provider now holds it: its outcome as
    an operation's."""
    if isinstance(result, OperationResult):
        return result
    match result.status:
        case ProviderStatus.VOIDED:
            return OperationResult(OperationStatus.SUCCEEDED, result.reference)
        case ProviderStatus.PENDING:
            return OperationResult(OperationStatus.PENDING, result.reference)
        case _:
            return OperationResult(
                OperationStatus.FAILED,
                result.reference,
                failure_code=f"provider_{result.status.value}",
                message=result.message,
            )


async def settle_operation(
    conn: Conn, operation: Operation, result: OperationResult, *, retry_after: timedelta
) -> Settled | None:
    """Apply the provider's answer to a pending operation, in the caller's transaction.
    None when it is still pending (rescheduled) or was settled already by another path
    (the request, the provider's webhook or the janitor: the first one settles it). An
    answer with another amount or currency than ours is not trusted: it stays pending
    and is raised as an alert."""
    now = clock.utcnow()
    differs = None
    if result.status is OperationStatus.SUCCEEDED:
        differs = mismatch(operation.currency, operation.amount, result.currency, result.amount)
    if result.status is OperationStatus.PENDING or differs is not None:
        if differs is not None:
            payment = await get_payment(conn, operation.payment_id)
            alert_mismatch(payment.provider, operation.id, differs)
        await repository.reschedule_operation(conn, operation.id, now + retry_after)
        return None
    closed = await repository.close_operation(
        conn,
        operation.id,
        status=result.status.value,
        reference=result.reference,
        failure_code=result.failure_code if result.status is OperationStatus.FAILED else None,
        now=now,
    )
    if closed is None:
        return None
    settled = Operation.from_row(closed)
    row = await repository.settle_payment(
        conn,
        operation.kind,
        result.status.value,
        operation.payment_id,
        operation.amount,
        operation.final,
        now,
    )
    if row is None:
        raise RuntimeError(
            f"payment {operation.payment_id} left the state its {operation.kind} needs"
        )
    payment = Payment.from_row(row)
    events = []
    if result.status is OperationStatus.SUCCEEDED:
        data = {**payment.present(), "operation": settled.present()}
        events.append(Event(_OPERATION_EVENTS[operation.kind], payment.order_id, data))
    return Settled(settled, payment, events)


async def operations_of_order(conn: Conn, order_id: str) -> list[Operation]:
    return [Operation.from_row(r) for r in await repository.operations_of_order(conn, order_id)]


async def get_operation(conn: Conn, operation_id: str) -> Operation | None:
    row = await repository.get_operation(conn, operation_id)
    return None if row is None else Operation.from_row(row)


async def due_operations(conn: Conn, *, limit: int, lease: timedelta) -> list[Operation]:
    now = clock.utcnow()
    rows = await repository.lease_due_operations(
        conn, now=now, lease_until=now + lease, limit=limit
    )
    return [Operation.from_row(r) for r in rows]


async def record_webhook(conn: Conn, provider: str, event: WebhookEvent, outcome: str) -> bool:
    """Note a verified provider event; False when it had arrived before (do nothing)."""
    return await repository.record_webhook(
        conn,
        provider=provider,
        event_id=event.event_id,
        type_=event.type,
        payment_id=event.payment_id,
        outcome=outcome,
        now=clock.utcnow(),
    )


async def webhook_seen(conn: Conn, provider: str, event_id: str) -> bool:
    return await repository.webhook_seen(conn, provider, event_id)


# ------------------------------------------------------------------------ reconciliation
# Reads for matching a provider's report against our payments (reconciliation/).


async def find_payment(conn: Conn, payment_id: str) -> Payment | None:
    row = await repository.get(conn, payment_id)
    return None if row is None else Payment.from_row(row)


async def find_by_provider_reference(conn: Conn, provider: str, reference: str) -> Payment | None:
    """The payment `provider` knows by `reference` (its id of the payment)."""
    row = await repository.payment_by_reference(conn, provider, reference)
    return None if row is None else Payment.from_row(row)


async def find_operation_by_provider_reference(
    conn: Conn, provider: str, reference: str
) -> Operation | None:
    """The capture, refund or void of a `provider` payment it knows by `reference`."""
    row = await repository.operation_by_provider_reference(conn, provider, reference)
    return None if row is None else Operation.from_row(row)


async def operations_of_payment(conn: Conn, payment_id: str) -> list[Operation]:
    return [Operation.from_row(r) for r in await repository.operations_of_payment(conn, payment_id)]


def captured_by_operations(operations: list[Operation]) -> int:
    """What the payment's captures after the authorization took (succeeded ones)."""
    return sum(
        o.amount
        for o in operations
        if o.kind is OperationKind.CAPTURE and o.status is OperationStatus.SUCCEEDED
    )


async def settled_between(
    conn: Conn, provider: str, start: datetime, end: datetime
) -> tuple[list[Payment], list[Operation]]:
    """What we believe `provider` settled for us, recorded in [start, end): payments
    captured with their authorization, and captures and refunds that succeeded."""
    payments = await repository.captured_at_authorization(conn, provider, start, end)
    operations = await repository.succeeded_operations(conn, provider, start, end)
    return [Payment.from_row(r) for r in payments], [Operation.from_row(r) for r in operations]
