"""How a checkout ends: the guarded transitions that place its order or fail it.

Every path that learns how a payment went comes here: the checkout request's commit 2
(`finish`, from `processing`), and, for a payment still awaited (3-D Secure, a redirect,
a lost answer), the shopper's confirm, the provider's webhook and the recovery worker
(`resolve`, from `awaiting_payment`). Each move is a guarded UPDATE of the checkout, so
whichever comes first places the order once; the others find it done.

A payment awaited may have to be canceled at the provider (its challenge expired, or the
provider never saw it). Canceling and confirming must be exclusive, or a confirm could
place an order whose authorization the cancel then voids: the worker first moves the
checkout to `canceling` (guarded), and only it resolves a checkout in that state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import orjson
import structlog

from cartwright.audit import service as audit
from cartwright.cart import service as cart
from cartwright.checkout import repository
from cartwright.events import service as events
from cartwright.idempotency import service as idempotency
from cartwright.inventory import service as inventory
from cartwright.kit import clock, metrics
from cartwright.kit.db import Conn, GuardFailed, Row, Stmt, UniqueViolation, guarded
from cartwright.kit.errors import AppError, NotFound, ProviderUnavailable, ServiceUnavailable
from cartwright.kit.settings import Settings
from cartwright.ledger import service as ledger
from cartwright.orders import service as orders
from cartwright.orders.service import NewOrder
from cartwright.payments import service as payments
from cartwright.payments.connector import ProviderResult, ProviderStatus, VoidRequest
from cartwright.payments.errors import PaymentDeclined
from cartwright.payments.service import Payment, PaymentChange
from cartwright.payments.state import FAILED, ORDER_PAYMENT_STATUS, SUCCEEDED
from cartwright.platform import Platform
from cartwright.promotions import service as promotions

log = structlog.get_logger("cartwright.checkout")

UNREACHABLE = ProviderResult(ProviderStatus.NOT_FOUND, message="the provider could not be reached")


class CheckoutStatus(StrEnum):
    PROCESSING = "processing"  # between the two commits
    AWAITING_PAYMENT = "awaiting_payment"  # order exists; payment unknown or needs 3-D Secure
    # The worker is canceling the awaited payment at the provider: no confirm or webhook
    # may resolve it meanwhile, only the worker, with what the cancel answered.
    CANCELING = "canceling"
    PLACED = "placed"  # order exists and is paid for
    FAILED = "failed"  # no order; stock released, cart reopened
    CANCELED = "canceled"  # order existed but its payment failed: order canceled


@dataclass(frozen=True, slots=True)
class Answer:
    """What the checkout answers. An order's body (201/202) is stored without its access
    token: `with_order_token` adds it on the way out (it is derived, never stored)."""

    status: int
    body: bytes
    replayed: bool = False
    headers: dict[str, str] | None = None
    order_id: str | None = None  # known when this request placed the order

    @property
    def places_order(self) -> bool:
        return self.status in (201, 202)


@dataclass(frozen=True, slots=True)
class Saga:
    """What commit 2 (or recovery) needs to finish a checkout."""

    checkout_id: str
    payment: Payment
    order: NewOrder
    claim: idempotency.Claim | None

    @classmethod
    def from_row(cls, row: Row, payment: Payment) -> Saga:
        claim = None
        if row["idempotency_key"] is not None:
            claim = idempotency.Claim(
                row["idempotency_owner"], row["idempotency_route"], row["idempotency_key"], ""
            )
        return cls(
            row["id"],
            payment,
            NewOrder.from_json(row["snapshot"]),
            claim,
        )


def _failure(result: ProviderResult) -> AppError:
    if result.status is ProviderStatus.DECLINED:
        return PaymentDeclined(
            result.message or "The card was declined.",
            extensions={"decline_code": result.decline_code or "card_declined"},
        )
    return ProviderUnavailable(
        "The payment provider could not be reached; nothing was charged and the cart can "
        "be paid again.",
        retry_after_s=5,
    )


def _next_look(settings: Settings, result: ProviderResult) -> timedelta:
    """When the worker should ask the provider about a payment still awaited."""
    if result.status is ProviderStatus.REQUIRES_ACTION:
        return timedelta(seconds=settings.requires_action_expiry_s)
    return timedelta(seconds=settings.payment_recovery_after_s)


async def finish(p: Platform, saga: Saga, result: ProviderResult) -> Answer | None:
    """Commit 2 of the saga, from `processing`. None when another process finished the
    checkout first: then nothing of this attempt is applied."""
    change = payments.plan_result(saga.payment, result)
    try:
        if change.status in FAILED:
            async with p.db.transaction() as conn:
                return await _fail(conn, p.settings, saga, change, result)
        return await _place(p, saga, change, result)
    except GuardFailed:
        return None
    except UniqueViolation:
        # Taken as "someone else finished" only once the checkout shows it: otherwise the
        # write failed for another reason, and saying nothing would lose the order.
        async with p.db.connection() as conn:
            row = await repository.get(conn, saga.checkout_id)
        if row is not None and row["status"] != CheckoutStatus.PROCESSING:
            return None
        metrics.checkout_stuck.inc()
        log.error(
            "commit 2 hit a unique violation and the checkout is still processing;"
            " the recovery worker will finish or compensate it",
            checkout_id=saga.checkout_id,
        )
        raise ServiceUnavailable(
            "The order could not be written yet; it completes in the background."
        ) from None


def _guard(saga: Saga, target: CheckoutStatus, settings: Settings, result: ProviderResult) -> Stmt:
    now = clock.utcnow()
    return guarded(
        repository.move_stmt(
            saga.checkout_id,
            from_status=CheckoutStatus.PROCESSING,
            to_status=target,
            next_check_at=now + _next_look(settings, result),
            now=now,
        )
    )


async def _place(p: Platform, saga: Saga, change: PaymentChange, result: ProviderResult) -> Answer:
    """Paid, pending or awaiting 3-D Secure: the order is placed. One atomic batch: the
    checkout, payment and cart moves are guards, so if another process finished this
    checkout first, nothing here is applied (`GuardFailed`)."""
    order = saga.order
    succeeded = change.status in SUCCEEDED
    target = CheckoutStatus.PLACED if succeeded else CheckoutStatus.AWAITING_PAYMENT
    view, order_events, order_writes = orders.plan_placement(
        order,
        payment_status=ORDER_PAYMENT_STATUS[change.status],
        amount_captured=change.payment.amount_captured,
        next_action=result.next_action,
    )
    status = 201 if succeeded else 202
    body = orjson.dumps(view)
    writes = [
        _guard(saga, target, p.settings, result),
        guarded(change.statement),
        guarded(cart.complete_checkout_stmt(order.cart_id, order.order_id)),
        *order_writes,
        events.record_stmt([*change.events, *order_events]),
    ]
    if succeeded:  # `order.placed`: its postings go in the same batch
        writes.extend(ledger.post_stmts(p.db.dialect, placement_entries(order, change.payment)))
    if saga.claim is not None:
        writes.append(idempotency.complete_stmt(saga.claim, status, body))
    await p.db.atomic_batch(writes)
    metrics.orders_created.inc()
    return Answer(status, body, order_id=order.order_id)


async def _fail(
    conn: Conn, settings: Settings, saga: Saga, change: PaymentChange, result: ProviderResult
) -> Answer:
    """Declined, or the provider was unreachable: no order; the stock goes back and the
    cart can be paid again."""
    order = saga.order
    await conn.batch(
        [_guard(saga, CheckoutStatus.FAILED, settings, result), guarded(change.statement)]
    )
    await inventory.release(conn, order.order_id)
    await promotions.give_back(conn, order.order_id)
    await cart.reopen(conn, order.cart_id)
    error = _failure(result)
    body = orjson.dumps(error.problem())
    writes = [events.record_stmt(change.events)]
    if saga.claim is not None:
        writes.append(idempotency.complete_stmt(saga.claim, error.status, body))
    await conn.batch(writes)
    return Answer(error.status, body, headers=error.headers)


async def resolve(
    conn: Conn,
    saga: Saga,
    result: ProviderResult,
    *,
    from_status: CheckoutStatus = CheckoutStatus.AWAITING_PAYMENT,
) -> dict[str, Any] | None:
    """Move an awaited checkout on once its payment resolved. None while the payment is
    still awaited; `GuardFailed` when another process resolved it first."""
    if result.status in (ProviderStatus.PENDING, ProviderStatus.REQUIRES_ACTION):
        return None
    change = payments.plan_result(saga.payment, result)
    order_id = saga.order.order_id
    succeeded = change.status in SUCCEEDED
    now = clock.utcnow()
    guard = repository.move_stmt(
        saga.checkout_id,
        from_status=from_status,
        to_status=CheckoutStatus.PLACED if succeeded else CheckoutStatus.CANCELED,
        next_check_at=now,
        now=now,
    )
    await conn.batch([guarded(guard), guarded(change.statement)])
    moved = await orders.record_payment_outcome(
        conn,
        order_id,
        from_statuses=("pending", "requires_action"),
        payment_status=ORDER_PAYMENT_STATUS[change.status],
        amount_captured=change.payment.amount_captured,
    )
    if moved is None:
        raise RuntimeError(f"order {order_id} moved while its payment was awaited")
    view, order_events = moved
    if succeeded:
        await ledger.post(conn, placement_entries(saga.order, change.payment))
    else:
        await inventory.release(conn, order_id)
        await promotions.give_back(conn, order_id)
    await events.record(conn, [*change.events, *order_events])
    return view


def placement_entries(order: NewOrder, payment: Payment) -> list[ledger.Entry]:
    """The ledger's entries for an order placed: what it is owed for, and the capture
    when the payment was captured at checkout."""
    entries = [
        ledger.placement_entry(
            order_id=order.order_id,
            payment_id=payment.id,
            currency=order.currency,
            subtotal=order.subtotal,
            discount=order.discount,
            shipping=order.shipping,
            tax=order.tax,
            total=order.total,
        )
    ]
    if payment.amount_captured:
        entries.append(
            ledger.capture_entry(
                source_id=payment.id,
                order_id=order.order_id,
                payment_id=payment.id,
                provider=payment.provider,
                currency=payment.currency,
                amount=payment.amount_captured,
            )
        )
    return entries


async def saga_for_order(conn: Conn, order_id: str) -> tuple[Row, Saga]:
    row = await repository.get_by_order(conn, order_id)
    if row is None:
        raise NotFound(f"No order {order_id}.")
    payment = await payments.get_payment(conn, row["payment_id"])
    return row, Saga.from_row(row, payment)


async def confirm_payment(
    p: Platform, order_id: str, details: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The shopper passed 3-D Secure or came back from a redirect: ask the provider and
    move the order on (a checkout being canceled is left to the worker)."""
    async with p.db.connection() as conn:
        row, saga = await saga_for_order(conn, order_id)
    if row["status"] == CheckoutStatus.AWAITING_PAYMENT:
        payment = saga.payment
        result = await p.gateway.confirm(
            payment.provider, payment.id, payment.provider_reference, details
        )
        with contextlib.suppress(GuardFailed):  # resolved meanwhile by another process
            async with p.db.transaction() as conn:
                view = await resolve(conn, saga, result)
                if view is not None:
                    await audit.record(
                        conn,
                        "order.payment_confirmed",
                        "order",
                        order_id,
                        {"status": view["status"], "payment_status": view["payment_status"]},
                    )
    async with p.db.connection() as conn:
        return await orders.get_order(conn, order_id)


def canceled_unseen(result: ProviderResult) -> bool:
    return result.status in (ProviderStatus.NOT_FOUND, ProviderStatus.VOIDED)


async def void_unseen(p: Platform, payment: Payment) -> ProviderResult:
    """Cancel a payment's key at the provider. UNREACHABLE (nothing charged, and nothing
    can be any more) when it was unseen or is now canceled; what the provider did if the
    request reached it meanwhile. Raises `ProviderUnavailable` if the provider cannot say."""
    cancel = await p.gateway.void(payment.provider, VoidRequest(payment.id, None))
    if cancel.status is ProviderStatus.PENDING:
        raise ProviderUnavailable("the provider did not confirm the cancellation")
    return UNREACHABLE if canceled_unseen(cancel) else cancel


async def apply_provider_result(p: Platform, payment: Payment, result: ProviderResult) -> str:
    """A provider's webhook told how an awaited payment went: the same guarded move as a
    confirm. Returns what it did (`applied`, `awaiting`, `already_done`, `not_awaited`).
    A checkout still `processing` is left to its request and the worker: the request may
    be voiding that very payment after a failed call."""
    async with p.db.connection() as conn:
        row, saga = await saga_for_order(conn, payment.order_id)
    if row["status"] != CheckoutStatus.AWAITING_PAYMENT:
        return "not_awaited"
    try:
        async with p.db.transaction() as conn:
            view = await resolve(conn, saga, result)
    except GuardFailed:
        return "already_done"
    return "awaiting" if view is None else "applied"


async def cancel_awaited(p: Platform, saga: Saga) -> int:
    """Cancel an awaited payment at the provider (its challenge expired, or the provider
    never saw it): claim the checkout first (`canceling`), so no confirm or webhook can
    place the order while the void is on its way; then resolve with what the void says.
    Returns 1 when the checkout moved on."""
    now = clock.utcnow()
    claim = repository.move_stmt(
        saga.checkout_id,
        from_status=CheckoutStatus.AWAITING_PAYMENT,
        to_status=CheckoutStatus.CANCELING,
        next_check_at=now + timedelta(seconds=p.settings.payment_recovery_after_s),
        now=now,
    )
    try:
        async with p.db.transaction() as conn:
            await conn.batch([guarded(claim)])
    except GuardFailed:
        return 0  # resolved meanwhile: nothing to cancel
    return await finish_cancel(p, saga)


async def finish_cancel(p: Platform, saga: Saga) -> int:
    """Void the payment of a `canceling` checkout and resolve it: voided or never seen →
    the order is canceled and its stock released; authorized after all (the shopper
    finished at the last moment and the void came too late) → the order is placed.
    While the provider cannot say, the checkout stays `canceling` for the next look."""
    payment = saga.payment
    result = await p.gateway.void(
        payment.provider, VoidRequest(payment.id, payment.provider_reference)
    )
    if result.status in (ProviderStatus.PENDING, ProviderStatus.REQUIRES_ACTION):
        return 0
    try:
        async with p.db.transaction() as conn:
            view = await resolve(conn, saga, result, from_status=CheckoutStatus.CANCELING)
    except GuardFailed:
        return 0
    return 0 if view is None else 1


UNPLACEABLE = "no order could be written for the payment"


async def fail_unplaceable(p: Platform, saga: Saga, result: ProviderResult) -> Payment | None:
    """The provider took the money but the order cannot be written: fail the checkout
    (stock back, cart open again), record the payment as the provider holds it, and say
    why (`payment.compensated`). The caller then gives the money back. None when the
    checkout was finished meanwhile."""
    change = payments.plan_result(saga.payment, result)
    if change.status not in SUCCEEDED:
        return None
    order = saga.order
    error = ServiceUnavailable("The order could not be placed; the payment is being given back.")
    body = orjson.dumps(error.problem())
    compensated = events.Event(
        "payment.compensated",
        order.order_id,
        {**change.payment.present(), "reason": UNPLACEABLE},
    )
    try:
        async with p.db.transaction() as conn:
            await conn.batch(
                [
                    _guard(saga, CheckoutStatus.FAILED, p.settings, result),
                    guarded(change.statement),
                ]
            )
            await inventory.release(conn, order.order_id)
            await promotions.give_back(conn, order.order_id)
            await cart.reopen(conn, order.cart_id)
            writes = [
                events.record_stmt([*change.events, compensated]),
                *ledger.post_stmts(conn.dialect, [_compensation_entry(saga, change.payment)]),
            ]
            if saga.claim is not None:
                writes.append(idempotency.complete_stmt(saga.claim, error.status, body))
            await conn.batch(writes)
    except GuardFailed:
        return None
    return change.payment


def _compensation_entry(saga: Saga, payment: Payment) -> ledger.Entry:
    """Money captured with no order to show for it: owed back to the customer until the
    refund that gives it back (`ledger.give_back_entry`). An authorization only is owed
    nothing: nothing is posted for it (the entry has no lines)."""
    return ledger.compensation_entry(
        payment_id=payment.id,
        checkout_id=saga.checkout_id,
        provider=payment.provider,
        currency=payment.currency,
        amount=payment.amount_captured,
    )
