"""The checkout saga: a cart becomes an order, paid for exactly once.

    commit 1  claim the Idempotency-Key, freeze the cart, price it, reserve the stock,
              record the payment (`processing`) and the checkout with its snapshot
    call      the provider authorizes, idempotency key = payment id (no transaction open)
    commit 2  paid / pending / needs 3-D Secure → the order is placed, the cart completed;
              declined / provider down → stock released, cart reopened, no order.
              Either way the response is stored under the Idempotency-Key.

A crash between the two commits leaves a `processing` checkout; the recovery worker asks
the provider what happened and finishes it through the same `_finish`. Every move of a
checkout is guarded (`repository.move`), so the request and the worker never both finish
it. Orders exist only for payments that succeeded or might still (see
docs/adr/0003-order-after-authorization.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import orjson

from cartwright.cart import service as cart
from cartwright.checkout import repository
from cartwright.cart.service import Quote
from cartwright.events import service as events
from cartwright.idempotency import service as idempotency
from cartwright.inventory import service as inventory
from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Row
from cartwright.kit.errors import AppError, NotFound, ProviderUnavailable
from cartwright.kit.failpoints import failpoint
from cartwright.ops import metrics
from cartwright.orders import service as orders
from cartwright.orders.service import NewOrder, NewOrderLine
from cartwright.payments import service as payments
from cartwright.payments.connector import AuthorizeRequest, ProviderResult, ProviderStatus
from cartwright.payments.errors import PaymentDeclined
from cartwright.payments.state import ORDER_PAYMENT_STATUS, SUCCEEDED, PaymentStatus
from cartwright.kit.settings import Settings
from cartwright.platform import Platform

UNREACHABLE = ProviderResult(ProviderStatus.NOT_FOUND, message="the provider could not be reached")
# An unknown payment the provider has no record of: it never reached the provider.
UNREACHABLE_AFTER_TIMEOUT = ProviderResult(
    ProviderStatus.NOT_FOUND, message="the provider has no record of the payment"
)


class CheckoutStatus(StrEnum):
    PROCESSING = "processing"  # between the two commits
    AWAITING_PAYMENT = "awaiting_payment"  # order exists; payment unknown or needs 3-D Secure
    PLACED = "placed"  # order exists and is paid for
    FAILED = "failed"  # no order; stock released, cart reopened
    CANCELED = "canceled"  # order existed but its payment failed: order canceled


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    replayed: bool = False
    headers: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Saga:
    """What commit 2 (or recovery) needs to finish a checkout."""

    checkout_id: str
    payment_id: str
    provider: str
    order: NewOrder
    access_token_hash: str
    claim: idempotency.Claim | None

    @classmethod
    def from_row(cls, row: Row, provider: str) -> Saga:
        claim = None
        if row["idempotency_key"] is not None:
            claim = idempotency.Claim(
                row["idempotency_owner"], row["idempotency_route"], row["idempotency_key"], ""
            )
        return cls(
            row["id"], row["payment_id"], provider, NewOrder.from_json(row["snapshot"]),
            row["access_token_hash"], claim,
        )


def _new_order(order_id: str, q: Quote) -> NewOrder:
    return NewOrder(
        order_id=order_id,
        cart_id=q.cart_id,
        currency=q.currency,
        email=q.email,
        shipping_address=q.shipping_address,
        billing_address=q.billing_address,
        shipping_method=q.shipping_method,
        lines=[
            NewOrderLine(
                sku=line.sku, variant_id=line.variant_id or "", title=line.title,
                quantity=line.quantity, unit_price=line.unit_price or 0,
                subtotal=line.subtotal, tax=line.tax,
            )
            for line in q.lines
        ],
        subtotal=q.subtotal,
        discount=q.discount,
        shipping=q.shipping,
        tax=q.tax,
        total=q.total,
    )


async def checkout(
    p: Platform, *, cart_id: str, token: str, claim: idempotency.Claim
) -> Answer:
    started = time.perf_counter()
    try:
        answer = await _checkout(p, cart_id=cart_id, token=token, claim=claim)
    except AppError as err:
        metrics.checkouts.labels(err.code).inc()
        raise
    finally:
        metrics.checkout_latency.observe(time.perf_counter() - started)
    metrics.checkouts.labels(_outcome(answer)).inc()
    return answer


def _outcome(answer: Answer) -> str:
    if answer.replayed:
        return "replayed"
    return {201: "placed", 202: "awaiting_payment", 402: "payment_declined"}.get(
        answer.status, "provider_unavailable" if answer.status == 503 else str(answer.status)
    )


async def _checkout(
    p: Platform, *, cart_id: str, token: str, claim: idempotency.Claim
) -> Answer:
    settings = p.settings
    checkout_id, order_id, payment_id = ids.new_id("chk"), ids.new_id("ord"), ids.new_id("pay")
    access_token = ids.new_secret_id("otok", 32)
    provider = p.gateway.default_provider
    capture = settings.capture_method == "automatic"

    # Commit 1. Anything refused here rolls back whole; a replayable refusal is stored.
    try:
        async with p.db.transaction() as conn:
            stored = await idempotency.claim(conn, claim)
            if stored is not None:
                return Answer(stored.status, stored.body, replayed=True)
            quote = await cart.begin_checkout(conn, p.providers, cart_id)
            order = _new_order(order_id, quote)
            await inventory.reserve(
                conn, order_id, [inventory.Item(line.sku, line.quantity) for line in order.lines]
            )
            await payments.create_payment(
                conn, payment_id=payment_id, order_id=order_id, provider=provider,
                amount=order.total, currency=order.currency, token=token,
                capture_method="automatic" if capture else "manual",
            )
            now = clock.utcnow()
            await repository.insert_checkout(
                conn,
                (
                    checkout_id, cart_id, order_id, payment_id, CheckoutStatus.PROCESSING,
                    order.to_json(), orders.hash_token(access_token), claim.owner,
                    claim.route, claim.key,
                    now + timedelta(seconds=settings.payment_recovery_after_s), now,
                ),
            )
    except AppError as err:
        if err.replayable:
            async with p.db.transaction() as conn:
                await idempotency.store_outcome(
                    conn, claim, err.status, orjson.dumps(err.problem())
                )
        raise

    # The provider call: no transaction is open while we wait for it.
    failpoint("checkout.before_authorize")
    request = AuthorizeRequest(payment_id, order.total, order.currency, token, capture)
    try:
        result = await p.gateway.authorize(provider, request)
    except ProviderUnavailable:
        result = UNREACHABLE
    failpoint("checkout.after_authorize")

    # Commit 2.
    saga = Saga(checkout_id, payment_id, provider, order, orders.hash_token(access_token), claim)
    async with p.db.transaction() as conn:
        answer = await _finish(conn, settings, saga, result, access_token=access_token)
        if answer is None:  # the recovery worker finished it first: answer as it did
            stored = await idempotency.claim(conn, claim)
            if stored is None:
                raise RuntimeError(f"checkout {checkout_id} finished without a stored answer")
            answer = Answer(stored.status, stored.body, replayed=True)
    return answer


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


async def _finish(
    conn: Conn, settings: Settings, saga: Saga, result: ProviderResult, *,
    access_token: str | None,
) -> Answer | None:
    """Commit 2 of the saga, from `processing`. None when another process finished it."""
    order = saga.order
    now = clock.utcnow()
    failed = result.status in (ProviderStatus.DECLINED, ProviderStatus.NOT_FOUND)
    target = CheckoutStatus.FAILED if failed else (
        CheckoutStatus.PLACED
        if result.status in (ProviderStatus.AUTHORIZED, ProviderStatus.CAPTURED)
        else CheckoutStatus.AWAITING_PAYMENT
    )
    if not await repository.move(
        conn, saga.checkout_id, from_status=CheckoutStatus.PROCESSING, to_status=target,
        next_check_at=now + _next_look(settings, result), now=now,
    ):
        return None
    change = await payments.apply_result(conn, saga.payment_id, result, amount=order.total)
    if change is None:
        raise RuntimeError(f"payment {saga.payment_id} of a processing checkout has moved")
    if failed:
        await inventory.release(conn, order.order_id)
        await cart.reopen(conn, order.cart_id)
        await events.record(conn, change.events)
        error = _failure(result)
        body = orjson.dumps(error.problem())
        if saga.claim is not None:
            await idempotency.complete(conn, saga.claim, error.status, body)
        return Answer(error.status, body, headers=error.headers)

    payment_status = ORDER_PAYMENT_STATUS[change.status]
    view, order_events = await orders.place_order(
        conn, order, payment_status=payment_status,
        amount_captured=int(change.payment["amount_captured"]),
        next_action=result.next_action, access_token_hash=saga.access_token_hash,
    )
    await cart.complete_checkout(conn, order.cart_id, order.order_id)
    await events.record(conn, [*change.events, *order_events])
    if access_token is not None:
        view["access_token"] = access_token
    status = 201 if change.status in SUCCEEDED else 202
    body = orjson.dumps(view)
    if saga.claim is not None:
        await idempotency.complete(conn, saga.claim, status, body)
    return Answer(status, body)


async def _resolve(
    conn: Conn, settings: Settings, saga: Saga, result: ProviderResult
) -> dict[str, Any] | None:
    """Move an awaiting checkout on once its payment resolved; None if it did not move."""
    if result.status in (ProviderStatus.PENDING, ProviderStatus.REQUIRES_ACTION):
        return None
    change = await payments.apply_result(conn, saga.payment_id, result, amount=saga.order.total)
    if change is None:
        return None
    order_id = saga.order.order_id
    succeeded = change.status in SUCCEEDED
    target = CheckoutStatus.PLACED if succeeded else CheckoutStatus.CANCELED
    now = clock.utcnow()
    if not await repository.move(
        conn, saga.checkout_id, from_status=CheckoutStatus.AWAITING_PAYMENT, to_status=target,
        next_check_at=now, now=now,
    ):
        raise RuntimeError(f"checkout {saga.checkout_id} moved while its payment was awaited")
    moved = await orders.record_payment_outcome(
        conn, order_id, from_statuses=("pending", "requires_action"),
        payment_status=ORDER_PAYMENT_STATUS[change.status],
        amount_captured=int(change.payment["amount_captured"]),
    )
    if moved is None:
        raise RuntimeError(f"order {order_id} moved while its payment was awaited")
    view, order_events = moved
    if not succeeded:
        await inventory.release(conn, order_id)
    await events.record(conn, [*change.events, *order_events])
    return view


async def _saga_for_order(conn: Conn, p: Platform, order_id: str) -> tuple[Row, Saga]:
    row = await repository.get_by_order(conn, order_id)
    if row is None:
        raise NotFound(f"No order {order_id}.")
    payment = await payments.get_payment(conn, row["payment_id"])
    return row, Saga.from_row(row, payment["provider"])


async def confirm_payment(p: Platform, order_id: str) -> dict[str, Any]:
    """The shopper passed 3-D Secure: ask the provider and move the order on."""
    async with p.db.connection() as conn:
        row, saga = await _saga_for_order(conn, p, order_id)
    if row["status"] == CheckoutStatus.AWAITING_PAYMENT:
        result = await p.gateway.confirm(saga.provider, saga.payment_id)
        async with p.db.transaction() as conn:
            await _resolve(conn, p.settings, saga, result)
    async with p.db.connection() as conn:
        return await orders.get_order(conn, order_id)


# ----------------------------------------------------------------------------- recovery

RECOVERY_BATCH = 20
LEASE = timedelta(seconds=60)


async def recover_due(p: Platform) -> int:
    """One pass of the recovery worker: finish checkouts whose request died between its
    commits, and resolve payments whose result is unknown or whose 3-D Secure expired.
    Returns how many checkouts it moved on."""
    now = clock.utcnow()
    async with p.db.transaction() as conn:
        due = await repository.lease_due(
            conn, statuses=(CheckoutStatus.PROCESSING, CheckoutStatus.AWAITING_PAYMENT),
            now=now, lease_until=now + LEASE, limit=RECOVERY_BATCH,
        )
    moved = 0
    for row in due:
        try:
            moved += await _recover_one(p, row)
        except ProviderUnavailable:
            metrics.recoveries.labels("provider_unavailable").inc()  # the lease retries later
    return moved


async def _recover_one(p: Platform, row: Row) -> int:
    settings = p.settings
    async with p.db.connection() as conn:
        payment = await payments.get_payment(conn, row["payment_id"])
    saga = Saga.from_row(row, payment["provider"])
    result = await p.gateway.retrieve(saga.provider, saga.payment_id)
    expired = (
        payment["status"] == PaymentStatus.REQUIRES_ACTION
        and clock.utcnow() - row["created_at"]
        >= timedelta(seconds=settings.requires_action_expiry_s)
    )
    if expired and result.status is ProviderStatus.REQUIRES_ACTION:
        result = await p.gateway.cancel(saga.provider, saga.payment_id)
        if result.status is ProviderStatus.REQUIRES_ACTION:
            return 0
    async with p.db.transaction() as conn:
        if row["status"] == CheckoutStatus.PROCESSING:
            finished = await _finish(conn, settings, saga, result, access_token=None)
            if finished is not None:
                metrics.recoveries.labels(f"finished_{finished.status}").inc()
                return 1
            return 0
        if result.status is ProviderStatus.NOT_FOUND:
            # The provider never saw the payment whose answer we lost: nothing was charged.
            result = UNREACHABLE_AFTER_TIMEOUT
        resolved = await _resolve(conn, settings, saga, result)
        if resolved is None:
            await repository.reschedule(
                conn, saga.checkout_id, clock.utcnow() + _next_look(settings, result)
            )
            return 0
        metrics.recoveries.labels(f"resolved_{resolved['payment_status']}").inc()
        return 1
