"""The checkout saga: a cart becomes an order, paid for exactly once.

    read      the cart and its lines, priced (no lock)
    commit 1  one atomic batch: claim the Idempotency-Key, freeze the cart if unchanged
              since read, reserve the stock, record the payment (`processing`) and the
              checkout with its snapshot. A failed guard applies nothing; `_why_refused`
              then tells why (key taken, cart closed or changed, stock short).
    call      the provider authorizes, idempotency key = payment id (no transaction open)
    commit 2  paid / pending / needs 3-D Secure → one atomic batch places the order and
              completes the cart; declined / provider down → stock released, cart
              reopened, no order. Either way the answer is stored under the key.

A crash between the two commits leaves a `processing` checkout; the recovery worker asks
the provider what happened and finishes it through the same `_finish`. Every move of a
checkout is guarded (`repository.move_stmt` as a guard), so the request and the worker
never both finish it. Orders exist only for payments that succeeded or might still (see
docs/adr/0003-order-after-authorization.md).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
import structlog

from cartwright.audit import service as audit
from cartwright.cart import service as cart
from cartwright.cart.errors import CartChanging
from cartwright.cart.service import Quote
from cartwright.checkout import repository
from cartwright.events import service as events
from cartwright.idempotency import service as idempotency
from cartwright.inventory import service as inventory
from cartwright.inventory.errors import InsufficientStock
from cartwright.kit import clock, ids, metrics, privacy, telemetry
from cartwright.kit.db import Conn, Deadlock, GuardFailed, Row, Stmt, UniqueViolation, guarded
from cartwright.kit.errors import AppError, NotFound, ProviderUnavailable
from cartwright.kit.failpoints import failpoint
from cartwright.kit.settings import Settings
from cartwright.kit.viewer import Viewer
from cartwright.orders import service as orders
from cartwright.orders.service import NewOrder, NewOrderLine
from cartwright.payments import service as payments
from cartwright.payments.connector import (
    AuthorizeRequest,
    ProviderResult,
    ProviderStatus,
    VoidRequest,
)
from cartwright.payments.errors import PaymentDeclined
from cartwright.payments.gateway import TIMED_OUT
from cartwright.payments.service import Payment, PaymentChange
from cartwright.payments.state import FAILED, ORDER_PAYMENT_STATUS, SUCCEEDED
from cartwright.platform import Platform

log = structlog.get_logger("cartwright.checkout")

UNREACHABLE = ProviderResult(ProviderStatus.NOT_FOUND, message="the provider could not be reached")


class CheckoutStatus(StrEnum):
    PROCESSING = "processing"  # between the two commits
    AWAITING_PAYMENT = "awaiting_payment"  # order exists; payment unknown or needs 3-D Secure
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


def with_order_token(p: Platform, answer: Answer) -> bytes:
    """The answer's body, with the order's `access_token` when it is an order. The stored
    body is orjson's rendering of the order (a JSON object without that member), so the
    token is spliced in before its closing brace rather than parsed and re-rendered."""
    if not answer.places_order:
        return answer.body
    order_id = answer.order_id or orjson.loads(answer.body)["id"]
    token = orders.order_token(p.secrets, order_id).encode()
    return answer.body[:-1] + b',"access_token":"' + token + b'"}'


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


def _new_order(order_id: str, number: int, q: Quote) -> NewOrder:
    return NewOrder(
        order_id=order_id,
        number=number,
        cart_id=q.cart_id,
        currency=q.currency,
        email=q.email,
        shipping_address=q.shipping_address,
        billing_address=q.billing_address,
        shipping_method=q.shipping_method,
        lines=[
            NewOrderLine(
                sku=line.sku,
                variant_id=line.variant_id or "",
                title=line.title,
                quantity=line.quantity,
                unit_price=line.unit_price or 0,
                subtotal=line.subtotal,
                tax=line.tax,
            )
            for line in q.lines
        ],
        subtotal=q.subtotal,
        discount=q.discount,
        shipping=q.shipping,
        tax=q.tax,
        total=q.total,
        customer_id=q.customer_id,
    )


async def require_cart_visible(p: Platform, viewer: Viewer, cart_id: str) -> None:
    """404 unless the cart exists and is the viewer's (before the body is read)."""
    async with p.db.connection() as conn:
        await cart.ensure_visible(conn, viewer, cart_id)


async def checkout(
    p: Platform, *, cart_id: str, token: str, claim: idempotency.Claim, viewer: Viewer
) -> Answer:
    started = time.perf_counter()
    try:
        answer = await _checkout(p, cart_id=cart_id, token=token, claim=claim, viewer=viewer)
    except AppError as err:
        metrics.checkouts.labels(err.code).inc()
        raise
    except Exception:  # answered 5xx (the database failed, or a bug)
        metrics.checkouts.labels("error").inc()
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


CHECKOUT_ATTEMPTS = 3  # when the cart changes between being read and being frozen


async def _checkout(
    p: Platform, *, cart_id: str, token: str, claim: idempotency.Claim, viewer: Viewer
) -> Answer:
    settings = p.settings
    checkout_id, order_id, payment_id = ids.new_id("chk"), ids.new_id("ord"), ids.new_id("pay")
    capture = settings.capture_method == "automatic"

    # Commit 1: read and price the cart, then one atomic batch claims the key, freezes the
    # cart (if unchanged since read), takes the stock and records payment and checkout.
    # Its guards fail, and nothing applies, if any of that cannot be done as read.
    for _ in range(CHECKOUT_ATTEMPTS):
        number = await p.order_numbers.take(p.db)
        async with p.db.connection() as conn:
            with telemetry.span("checkout.read", {"cart.id": cart_id}):
                view = await cart.read_for_checkout(conn, p.pricing, cart_id)
            cart.require_visible(viewer, cart_id, view.quote.customer_id)
            refused = cart.refusal(view)
            if refused is None:
                order = _new_order(order_id, number, view.quote)
                provider = p.gateway.route(currency=order.currency, amount=order.total)
                payment, writes = _commit_one_writes(
                    settings,
                    view,
                    order,
                    claim,
                    checkout_id=checkout_id,
                    payment_id=payment_id,
                    provider=provider,
                    capture=capture,
                )
                # Made with a secret key: audited in the same batch (None for a storefront).
                entry = audit.record_stmt(
                    p.db.dialect,
                    "checkout.created",
                    "order",
                    order.order_id,
                    {
                        "cart_id": order.cart_id,
                        "payment_id": payment_id,
                        "total": {"amount": order.total, "currency": order.currency},
                    },
                )
                if entry is not None:
                    writes.append(entry)
                try:
                    with telemetry.span("checkout.commit_1", {"checkout.id": checkout_id}):
                        await conn.atomic_batch(writes)
                    break
                except GuardFailed:
                    pass
                except Deadlock:
                    # Two multi-SKU checkouts met on the same stock in opposite orders and
                    # the database aborted this one: nothing applied; try again.
                    continue
        if refused is not None:
            return await _refuse(p, claim, refused)
        why = await _why_refused(p, claim, view)
        if isinstance(why, Answer):
            return why
        if why is not None:
            return await _refuse(p, claim, why)
        # The cart changed between read and freeze: read it again.
    else:
        raise CartChanging("The cart keeps changing; try again.")

    # The provider call: no transaction is open while we wait for it.
    failpoint("checkout.before_authorize")
    request = AuthorizeRequest(payment_id, order.total, order.currency, token, capture)
    with telemetry.span(
        "checkout.provider_call", {"payment.id": payment_id, "payment.provider": provider}
    ) as span:
        try:
            result = await p.gateway.authorize(provider, request)
        except ProviderUnavailable:
            # Every attempt failed. A 5xx does not prove the provider did nothing: void the
            # key there before answering 503; if even that cannot be confirmed, the result
            # is unknown (202 pending) and recovery finds out.
            try:
                result = await _void_unseen(p, payment)
            except ProviderUnavailable:
                result = TIMED_OUT
        span.set_attribute("payment.result", result.status.value)
    failpoint("checkout.after_authorize")

    # Commit 2.
    saga = Saga(checkout_id, payment, order, claim)
    with telemetry.span("checkout.commit_2", {"checkout.id": checkout_id}):
        answer = await _finish(p, saga, result)
    if answer is None:  # the recovery worker finished it first: answer as it did
        async with p.db.connection() as conn:
            stored = await idempotency.lookup(conn, claim)
        if stored is None:
            raise RuntimeError(f"checkout {checkout_id} finished without a stored answer")
        answer = Answer(stored.status, stored.body)
    return answer


def _commit_one_writes(
    settings: Settings,
    view: cart.CheckoutView,
    order: NewOrder,
    claim: idempotency.Claim,
    *,
    checkout_id: str,
    payment_id: str,
    provider: str,
    capture: bool,
) -> tuple[Payment, list[Stmt]]:
    """Commit 1 as one atomic batch. Its guards (the key is new, the cart is as read, each
    SKU has the units) fail, and nothing applies, if any of it cannot be done."""
    payment, insert_payment = payments.new_payment(
        payment_id=payment_id,
        order_id=order.order_id,
        provider=provider,
        amount=order.total,
        currency=order.currency,
        capture_method="automatic" if capture else "manual",
    )
    now = clock.utcnow()
    return payment, [
        guarded(idempotency.claim_stmt(claim)),
        guarded(cart.freeze_stmt(view)),
        *inventory.reservation_writes(
            order.order_id, [inventory.Item(line.sku, line.quantity) for line in order.lines]
        ),
        insert_payment,
        repository.insert_checkout_stmt(
            (
                checkout_id,
                order.cart_id,
                order.order_id,
                payment_id,
                CheckoutStatus.PROCESSING,
                order.to_json(),
                claim.owner,
                claim.route,
                claim.key,
                now + timedelta(seconds=settings.payment_recovery_after_s),
                now,
                telemetry.traceparent(),
            )
        ),
    ]


async def _refuse(p: Platform, claim: idempotency.Claim, error: AppError) -> Answer:
    """A checkout refused before it had any effect: replay what the key already answered,
    or store this refusal (when the contract stores it) and raise it."""
    async with p.db.transaction() as conn:
        stored = await idempotency.lookup(conn, claim)
        if stored is not None:
            return Answer(stored.status, stored.body, replayed=True)
        if error.replayable:
            await idempotency.store_outcome(
                conn, claim, error.status, orjson.dumps(error.problem())
            )
    raise error


async def _why_refused(
    p: Platform, claim: idempotency.Claim, view: cart.CheckoutView
) -> Answer | AppError | None:
    """Commit 1's batch failed a guard: find which. The key was taken (replay it, or it is
    in use), the cart moved on (closed) or only changed (None: read it again), or the
    stock was short."""
    async with p.db.connection() as conn:
        stored = await idempotency.lookup(conn, claim)
        if stored is not None:
            return Answer(stored.status, stored.body, replayed=True)
        now = await cart.read_for_checkout(conn, p.pricing, view.quote.cart_id)
    if now.status is not cart.CartStatus.OPEN:
        return cart.refusal(now)
    if now.updated_at != view.updated_at:
        return None
    async with p.db.connection() as conn:
        short = await inventory.short_skus(
            conn, [inventory.Item(line.sku, line.quantity) for line in view.quote.lines]
        )
    if not short:
        return None  # stock came back meanwhile: try again
    metrics.stock_outs.inc()
    return InsufficientStock(f"Not enough stock for: {', '.join(short)}.")


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


class _Unresolved(Exception):
    """The payment is still awaited; this transaction must roll back."""


async def _finish(p: Platform, saga: Saga, result: ProviderResult) -> Answer | None:
    """Commit 2 of the saga, from `processing`. None when another process finished the
    checkout first: then nothing of this attempt is applied."""
    change = payments.plan_result(saga.payment, result)
    try:
        if change.status in FAILED:
            async with p.db.transaction() as conn:
                return await _fail(conn, p.settings, saga, change, result)
        return await _place(p, saga, change, result)
    except (GuardFailed, UniqueViolation):
        return None


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
    await cart.reopen(conn, order.cart_id)
    error = _failure(result)
    body = orjson.dumps(error.problem())
    writes = [events.record_stmt(change.events)]
    if saga.claim is not None:
        writes.append(idempotency.complete_stmt(saga.claim, error.status, body))
    await conn.batch(writes)
    return Answer(error.status, body, headers=error.headers)


async def _resolve(
    conn: Conn, settings: Settings, saga: Saga, result: ProviderResult
) -> dict[str, Any] | None:
    """Move an awaiting checkout on once its payment resolved. None while the payment is
    still awaited; `GuardFailed` when another process resolved it first."""
    if result.status in (ProviderStatus.PENDING, ProviderStatus.REQUIRES_ACTION):
        return None
    change = payments.plan_result(saga.payment, result)
    order_id = saga.order.order_id
    succeeded = change.status in SUCCEEDED
    now = clock.utcnow()
    guard = repository.move_stmt(
        saga.checkout_id,
        from_status=CheckoutStatus.AWAITING_PAYMENT,
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
    if not succeeded:
        await inventory.release(conn, order_id)
    await events.record(conn, [*change.events, *order_events])
    return view


async def _saga_for_order(conn: Conn, order_id: str) -> tuple[Row, Saga]:
    row = await repository.get_by_order(conn, order_id)
    if row is None:
        raise NotFound(f"No order {order_id}.")
    payment = await payments.get_payment(conn, row["payment_id"])
    return row, Saga.from_row(row, payment)


async def confirm_payment(p: Platform, order_id: str) -> dict[str, Any]:
    """The shopper passed 3-D Secure: ask the provider and move the order on."""
    async with p.db.connection() as conn:
        row, saga = await _saga_for_order(conn, order_id)
    if row["status"] == CheckoutStatus.AWAITING_PAYMENT:
        result = await p.gateway.confirm(saga.payment.provider, saga.payment.id, None)
        with contextlib.suppress(GuardFailed):  # resolved meanwhile by another process
            async with p.db.transaction() as conn:
                view = await _resolve(conn, p.settings, saga, result)
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


# ---------------------------------------------------------------------------- customers


async def erase_snapshots(conn: Conn, cart_ids: list[str]) -> list[str]:
    """Replace the personal data in the snapshots of these carts' checkouts (erasure);
    amounts and lines stay, so recovery could still place exactly what was paid for.
    Returns the order ids of those checkouts (placed or not), whose events the caller
    erases too."""
    if not cart_ids:
        return []
    rows = await repository.snapshots_of(conn, cart_ids)
    for row in rows:
        await repository.set_snapshot(conn, row["id"], privacy.redact_json(row["snapshot"]))
    return [r["order_id"] for r in rows]


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
            conn, now=now, lease_until=now + LEASE, limit=RECOVERY_BATCH
        )
    moved = 0
    for row in due:
        # A trace of its own per checkout, linked to the trace of the request that began it.
        with telemetry.span(
            "checkout.recover",
            {"checkout.id": row["id"], "checkout.status": row["status"]},
            link=row["trace_context"],
        ):
            try:
                moved += await _recover_one(p, row)
            except ProviderUnavailable:
                metrics.recoveries.labels("provider_unavailable").inc()  # the lease retries
            except Exception:  # one bad row must not hold up the others; its lease retries
                metrics.recoveries.labels("error").inc()
                log.exception("payment recovery failed", checkout_id=row["id"])
    return moved


def _next_look_at(settings: Settings, row: Row, result: ProviderResult) -> datetime:
    """When to ask again about a payment still awaited: a 3-D Secure challenge at its
    expiry (a fixed deadline from the checkout, not pushed back by each look), anything
    else after the recovery delay."""
    now = clock.utcnow()
    if result.status is ProviderStatus.REQUIRES_ACTION:
        deadline: datetime = row["created_at"] + timedelta(
            seconds=settings.requires_action_expiry_s
        )
        if deadline > now:
            return deadline
    return now + timedelta(seconds=settings.payment_recovery_after_s)


def _canceled_unseen(result: ProviderResult) -> bool:
    return result.status in (ProviderStatus.NOT_FOUND, ProviderStatus.VOIDED)


async def _void_unseen(p: Platform, payment: Payment) -> ProviderResult:
    """Cancel a payment's key at the provider. UNREACHABLE (nothing charged, and nothing
    can be any more) when it was unseen or is now canceled; what the provider did if the
    request reached it meanwhile. Raises `ProviderUnavailable` if the provider cannot say."""
    cancel = await p.gateway.void(payment.provider, VoidRequest(payment.id, None))
    if cancel.status is ProviderStatus.PENDING:
        raise ProviderUnavailable("the provider did not confirm the cancellation")
    return UNREACHABLE if _canceled_unseen(cancel) else cancel


async def _recover_one(p: Platform, row: Row) -> int:
    settings = p.settings
    async with p.db.connection() as conn:
        payment = await payments.get_payment(conn, row["payment_id"])
    saga = Saga.from_row(row, payment)
    result = await p.gateway.retrieve(payment.provider, payment.id)
    # A payment still needing the shopper after the expiry is canceled, whether it asked
    # for 3-D Secure at checkout or only turned out to once its lost answer was found.
    expired = clock.utcnow() - row["created_at"] >= timedelta(
        seconds=settings.requires_action_expiry_s
    )
    if expired and result.status is ProviderStatus.REQUIRES_ACTION:
        result = await p.gateway.void(payment.provider, VoidRequest(payment.id, None))
        if result.status is ProviderStatus.REQUIRES_ACTION:
            return 0
    if result.status is ProviderStatus.NOT_FOUND:
        # The provider never saw the payment (the request died, or its answer was lost on
        # the way). Cancel the key there first, so a request still on its way cannot charge
        # later; then nothing was charged.
        result = await _void_unseen(p, payment)
    if row["status"] == CheckoutStatus.PROCESSING:
        finished = await _finish(p, saga, result)
        if finished is None:
            return 0
        metrics.recoveries.labels(f"finished_{finished.status}").inc()
        return 1
    try:
        async with p.db.transaction() as conn:
            resolved = await _resolve(conn, settings, saga, result)
            if resolved is None:
                raise _Unresolved()
    except GuardFailed:
        return 0
    except _Unresolved:
        async with p.db.transaction() as conn:
            await repository.reschedule(
                conn, saga.checkout_id, _next_look_at(settings, row, result)
            )
        return 0
    metrics.recoveries.labels(f"resolved_{resolved['payment_status']}").inc()
    return 1
