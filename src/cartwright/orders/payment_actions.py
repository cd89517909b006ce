"""Money after the order is placed: captures, refunds and voids of the order's payment.

Each is a small saga with the checkout's shape:

    begin   one transaction records the operation as `pending` and reserves its amount
            in the payment row (a guarded UPDATE: the state and the amounts must allow it,
            so concurrent requests can never capture more than was authorized or refund
            more than was captured)
    call    the provider is asked, with the operation's id as idempotency key; no
            transaction is open meanwhile
    settle  one transaction closes the operation (guarded: only from `pending`), moves
            the payment's amounts and state, mirrors them on the order and records the
            event

An answer that is lost (timeout, crash, a 5xx after retries) leaves the operation pending:
the provider's webhook or the janitor (`settle_due`, in the worker) settles it by sending
the same operation again, which the idempotency key makes safe. Whichever comes first
settles it; the others find it done.

The operation's id is derived from the request's Idempotency-Key, so a request retried
after its process died resumes the same operation rather than starting a second one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from cartwright.events import service as events
from cartwright.kit import clock, ids, metrics
from cartwright.kit.db import Conn
from cartwright.kit.errors import InvalidState, NotFound, ProviderUnavailable
from cartwright.ledger import service as ledger
from cartwright.orders import lifecycle, repository
from cartwright.orders import service as orders
from cartwright.orders.state import Action, require
from cartwright.payments import service as payments
from cartwright.payments.connector import (
    CaptureRequest,
    OperationResult,
    OperationStatus,
    ProviderResult,
    RefundRequest,
    VoidRequest,
)
from cartwright.payments.gateway import OPERATION_TIMED_OUT
from cartwright.payments.service import Operation, OperationKind, Payment, Settled
from cartwright.payments.state import ORDER_PAYMENT_STATUS, PaymentStatus
from cartwright.platform import Platform
from cartwright.promotions import service as promotions

log = structlog.get_logger("cartwright.orders")

LEASE = timedelta(seconds=60)
BATCH = 20


async def capture(
    p: Platform, order_id: str, *, operation_id: str, amount: int | None, final: bool
) -> tuple[int, dict[str, Any]]:
    """Capture `amount` (default: all that is left) of the order's authorization: 200 with
    the order when the provider captured it, 202 while its answer is awaited."""
    operation, payment = await _begin(
        p, order_id, OperationKind.CAPTURE, operation_id, amount, final=final, action=Action.CAPTURE
    )
    settled = await _ask_and_settle(p, operation, payment)
    return await _answer(p, order_id, operation, settled)


async def void(p: Platform, order_id: str, *, operation_id: str) -> tuple[int, dict[str, Any]]:
    """Release what is authorized and not captured: the payment becomes `voided`, or
    `captured` when part of it was captured already."""
    operation, payment = await _begin(p, order_id, OperationKind.VOID, operation_id, None)
    settled = await _ask_and_settle(p, operation, payment)
    return await _answer(p, order_id, operation, settled)


async def refund(
    p: Platform, order_id: str, *, operation_id: str, amount: int | None, reason: str | None
) -> tuple[int, dict[str, Any]]:
    """Refund `amount` (default: all that was captured and not refunded): 201 with the
    refund, `pending` while the provider's answer is awaited."""
    operation, payment = await _begin(
        p, order_id, OperationKind.REFUND, operation_id, amount, reason=reason, action=Action.REFUND
    )
    final = await _settled(p, operation, await _ask_and_settle(p, operation, payment))
    return 201, final.present()


async def give_back(p: Platform, payment: Payment, *, reason: str) -> str:
    """Return money taken for which no order exists: void an authorization, refund a
    capture. Settled now if the provider answers, else by the janitor. Returns the
    action taken (`void` or `refund`)."""
    kind = OperationKind.REFUND if payment.amount_captured else OperationKind.VOID
    async with p.db.transaction() as conn:
        operation = await payments.begin_operation(
            conn,
            payment,
            kind=kind,
            operation_id=ids.derived_id("cmp", payment.id),
            amount=None,
            reason=reason,
            check_after=_recheck(p),
        )
    await _ask_and_settle(p, operation, payment)
    return kind.value


async def refunds_of(conn: Conn, order_id: str) -> list[dict[str, Any]]:
    return [
        op.present()
        for op in await payments.operations_of_order(conn, order_id)
        if op.kind is OperationKind.REFUND
    ]


async def _begin(
    p: Platform,
    order_id: str,
    kind: OperationKind,
    operation_id: str,
    amount: int | None,
    *,
    final: bool = False,
    reason: str | None = None,
    action: Action | None = None,
) -> tuple[Operation, Payment]:
    async with p.db.transaction() as conn:
        order = await lifecycle.order_row(conn, order_id)  # 404 before anything else
        payment = await payments.payment_of_order(conn, order_id)
        if action is not None and await payments.get_operation(conn, operation_id) is None:
            require(action, lifecycle.state_of(order))
        if kind is OperationKind.CAPTURE:
            # An order lowered by an edit may capture its new total only: what is asked
            # for by default, with the rest of the authorization released (ADR 0017).
            capturable = int(order["total"]) - payment.amount_captured - payment.capture_pending
            if capturable < payments.remainder(payment, kind):
                if amount is None:
                    amount, final = capturable, True
                elif amount > capturable:
                    raise InvalidState(
                        f"The order's total leaves {capturable} to capture; asked {amount}.",
                        extensions={
                            "available": {
                                "amount": max(capturable, 0),
                                "currency": payment.currency,
                            }
                        },
                    )
        operation = await payments.begin_operation(
            conn,
            payment,
            kind=kind,
            operation_id=operation_id,
            amount=amount,
            final=final,
            reason=reason,
            check_after=_recheck(p),
        )
    return operation, payment


async def _ask(p: Platform, operation: Operation, payment: Payment) -> OperationResult:
    """The provider's answer, or pending when it cannot be had now (the janitor asks
    again with the same key)."""
    try:
        result: OperationResult | ProviderResult
        match operation.kind:
            case OperationKind.CAPTURE:
                result = await p.gateway.capture(
                    payment.provider,
                    CaptureRequest(
                        payment.id,
                        payment.provider_reference,
                        operation.id,
                        operation.amount,
                        operation.currency,
                        operation.final,
                    ),
                )
            case OperationKind.REFUND:
                result = await p.gateway.refund(
                    payment.provider,
                    RefundRequest(
                        payment.id,
                        payment.provider_reference,
                        operation.id,
                        operation.amount,
                        operation.currency,
                        operation.reason,
                    ),
                )
            case OperationKind.VOID:
                result = await p.gateway.void(
                    payment.provider, VoidRequest(payment.id, payment.provider_reference)
                )
    except ProviderUnavailable:
        # Every attempt failed; a 5xx does not prove the provider did nothing, so the
        # operation stays pending and is sent again later with the same key.
        return OPERATION_TIMED_OUT
    return payments.operation_outcome(operation, result)


def _recheck(p: Platform) -> timedelta:
    """How soon the janitor asks again about an operation whose answer did not come."""
    return timedelta(seconds=p.settings.payment_operation_recheck_s)


async def _ask_and_settle(p: Platform, operation: Operation, payment: Payment) -> Settled | None:
    if operation.status is not OperationStatus.PENDING:
        return None  # a retried request of an operation already settled
    result = await _ask(p, operation, payment)
    async with p.db.transaction() as conn:
        return await settle(conn, operation, result, retry_after=_recheck(p))


async def settle(
    conn: Conn, operation: Operation, result: OperationResult, *, retry_after: timedelta
) -> Settled | None:
    """Apply the provider's answer to a pending operation and mirror it on the order, in
    the caller's transaction (the request, a provider webhook or the janitor)."""
    settled = await payments.settle_operation(conn, operation, result, retry_after=retry_after)
    if settled is None:
        return None
    payment = settled.payment
    row = await repository.set_payment_amounts(
        conn,
        operation.order_id,
        payment_status=ORDER_PAYMENT_STATUS[payment.status],
        amount_captured=payment.amount_captured,
        amount_refunded=payment.amount_refunded,
        now=clock.utcnow(),
    )
    if row is None:  # money given back for a checkout that never became an order
        log.info("payment operation settled without an order", operation_id=operation.id)
    elif row["payment_status"] == "refunded":  # fully refunded: its promotions' uses back
        await promotions.give_back(conn, operation.order_id)
    given = settled.operation.breakdown  # a refund by lines, an edit's, a cancellation's
    breakdown = ledger.RefundBreakdown(**given) if given is not None else None
    await ledger.post(conn, operation_entries(settled, placed=row is not None, breakdown=breakdown))
    recorded = list(settled.events)
    if settled.operation.status is OperationStatus.FAILED:
        await lifecycle.refund_failed(conn, settled.operation)
    elif row is not None:
        recorded += await lifecycle.complete_if_done(conn, operation.order_id)
    if recorded:
        await events.record(conn, recorded)
    metrics.payment_operations.labels(operation.kind.value, settled.operation.status.value).inc()
    return settled


def operation_entries(
    settled: Settled, *, placed: bool, breakdown: ledger.RefundBreakdown | None = None
) -> list[ledger.Entry]:
    """The ledger's entries for an operation that succeeded (none for one that failed):
    a capture (and the rest of the authorization released by a final one), a refund, a
    void of what was still owed. `placed`: whether the payment's order exists; money of a
    payment without one was posted as owed back (`compensation`), and its refund returns
    it (`give_back`)."""
    operation, payment = settled.operation, settled.payment
    if operation.status is not OperationStatus.SUCCEEDED:
        return []
    payment_id, currency, amount = payment.id, operation.currency, operation.amount
    match operation.kind:
        case OperationKind.CAPTURE:
            entries = [
                ledger.capture_entry(
                    source_id=operation.id,
                    order_id=operation.order_id if placed else None,
                    provider=payment.provider,
                    payment_id=payment_id,
                    currency=currency,
                    amount=amount,
                )
            ]
            rest = payment.amount_authorized - payment.amount_captured
            if placed and operation.final and payment.status is PaymentStatus.CAPTURED and rest:
                entries.append(
                    ledger.release_entry(
                        operation_id=operation.id,
                        order_id=operation.order_id,
                        payment_id=payment.id,
                        currency=operation.currency,
                        amount=rest,
                    )
                )
            return entries
        case OperationKind.REFUND:
            if not placed:
                return [
                    ledger.give_back_entry(
                        operation_id=operation.id,
                        provider=payment.provider,
                        payment_id=payment_id,
                        currency=currency,
                        amount=amount,
                    )
                ]
            return [
                ledger.refund_entry(
                    operation_id=operation.id,
                    order_id=operation.order_id,
                    provider=payment.provider,
                    breakdown=breakdown,
                    payment_id=payment_id,
                    currency=currency,
                    amount=amount,
                )
            ]
        case OperationKind.VOID:
            if not placed:
                return []  # an authorization without an order: nothing was owed
            return [
                ledger.void_entry(
                    operation_id=operation.id,
                    order_id=operation.order_id,
                    payment_id=payment_id,
                    currency=currency,
                    amount=amount,
                )
            ]


async def _settled(p: Platform, operation: Operation, settled: Settled | None) -> Operation:
    """The operation as it stands after this request's attempt (read again when another
    path settled it, or it is still pending); `InvalidState` when the provider refused it."""
    if settled is not None:
        final = settled.operation
    else:
        async with p.db.connection() as conn:
            again = await payments.get_operation(conn, operation.id)
        assert again is not None
        final = again
    if final.status is OperationStatus.FAILED:
        raise _refused(final)
    return final


def _refused(operation: Operation) -> InvalidState:
    return InvalidState(
        f"The provider refused the {operation.kind.value}"
        f" ({operation.failure_code or 'no reason given'}); nothing moved.",
        extensions={"failure_code": operation.failure_code or "provider_refused"},
    )


async def _answer(
    p: Platform, order_id: str, operation: Operation, settled: Settled | None
) -> tuple[int, dict[str, Any]]:
    final = await _settled(p, operation, settled)
    async with p.db.connection() as conn:
        order = await orders.get_order(conn, order_id)
    return (200 if final.status is OperationStatus.SUCCEEDED else 202), order


async def settle_due(p: Platform) -> int:
    """One pass of the janitor: send every pending operation whose answer is overdue
    again (same idempotency key) and settle what the provider says. Returns how many
    it settled."""
    async with p.db.transaction() as conn:
        due = await payments.due_operations(conn, limit=BATCH, lease=LEASE)
    done = 0
    for operation in due:
        try:
            async with p.db.connection() as conn:
                payment = await payments.get_payment(conn, operation.payment_id)
            if await _ask_and_settle(p, operation, payment) is not None:
                done += 1
        except NotFound:
            log.error("operation without its payment", operation_id=operation.id)
        except Exception:  # one bad row must not hold up the others; its lease retries
            log.exception("settling a payment operation failed", operation_id=operation.id)
    return done
