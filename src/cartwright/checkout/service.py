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

A crash between the two commits leaves a `processing` checkout; the recovery worker
(`recovery.py`) asks the provider what happened and finishes it through the same
`resolution.finish`. Every move of a
checkout is guarded (`repository.move_stmt` as a guard), so the request and the worker
never both finish it. Orders exist only for payments that succeeded or might still (see
docs/adr/0003-order-after-authorization.md).
"""

from __future__ import annotations

import time
from datetime import timedelta

import orjson
import structlog

from cartwright.audit import service as audit
from cartwright.cart import service as cart
from cartwright.cart.errors import CartChanging
from cartwright.cart.service import Quote
from cartwright.channels import service as channels
from cartwright.channels.service import CaptureMethod
from cartwright.checkout import repository, screening
from cartwright.checkout.recovery import recover_due
from cartwright.checkout.resolution import (
    Answer,
    CheckoutStatus,
    Saga,
    confirm_payment,
    finish,
    void_unseen,
)
from cartwright.idempotency import service as idempotency
from cartwright.inventory import service as inventory
from cartwright.inventory.errors import InsufficientStock
from cartwright.kit import clock, ids, metrics, privacy, telemetry
from cartwright.kit.db import Conn, Deadlock, GuardFailed, Stmt, guarded
from cartwright.kit.errors import AppError, ProviderUnavailable
from cartwright.kit.failpoints import failpoint
from cartwright.kit.settings import Settings
from cartwright.kit.viewer import Viewer
from cartwright.orders import service as orders
from cartwright.orders.service import NewOrder, NewOrderLine
from cartwright.payments import service as payments
from cartwright.payments.connector import AuthorizeRequest
from cartwright.payments.gateway import TIMED_OUT
from cartwright.payments.service import Payment
from cartwright.platform import Platform
from cartwright.promotions import service as promotions
from cartwright.promotions.errors import PromotionUnavailable
from cartwright.risk.service import FailureMode

log = structlog.get_logger("cartwright.checkout")

# What the rest of the platform uses of the checkout, beside `checkout` itself.
__all__ = [
    "Answer",
    "CheckoutStatus",
    "checkout",
    "confirm_payment",
    "erase_snapshots",
    "recover_due",
    "require_cart_visible",
    "with_order_token",
]


def with_order_token(p: Platform, answer: Answer) -> bytes:
    """The answer's body, with the order's `access_token` when it is an order. The stored
    body is orjson's rendering of the order (a JSON object without that member), so the
    token is spliced in before its closing brace rather than parsed and re-rendered."""
    if not answer.places_order:
        return answer.body
    order_id = answer.order_id or orjson.loads(answer.body)["id"]
    token = orders.order_token(p.secrets, order_id).encode()
    return answer.body[:-1] + b',"access_token":"' + token + b'"}'


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
                discount=line.discount,
            )
            for line in q.lines
        ],
        subtotal=q.subtotal,
        discount=q.discount,
        shipping=q.shipping,
        tax=q.tax,
        total=q.total,
        customer_id=q.customer_id,
        shipping_fallback=q.shipping_fallback,
        channel=q.channel,
        tax_id=q.tax_id,
        tax_exempt_reason=q.tax_exempt_reason,
        tax_estimated=q.tax_estimated,
        promotions=[a.as_json() for a in q.promotions.applied] if q.promotions else [],
    )


def _items(order: NewOrder) -> list[inventory.Item]:
    return [inventory.Item(line.sku, line.quantity) for line in order.lines]


def _country(q: Quote) -> str | None:
    return None if q.shipping_address is None else q.shipping_address.get("country")


async def require_cart_visible(p: Platform, viewer: Viewer, cart_id: str) -> None:
    """404 unless the cart exists and is the viewer's (before the body is read)."""
    async with p.db.connection() as conn:
        await cart.ensure_visible(conn, viewer, cart_id)


async def checkout(
    p: Platform, *, cart_id: str, token: str, claim: idempotency.Claim, viewer: Viewer
) -> Answer:
    started = time.perf_counter()
    try:
        # The kill switch, before anything: no key claimed, no stock, no payment, no cart
        # change, so the same request runs normally once checkout is back on.
        p.flags.require_checkout()
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

    # Commit 1: read and price the cart, then one atomic batch claims the key, freezes the
    # cart (if unchanged since read), takes the stock and records payment and checkout.
    # Its guards fail, and nothing applies, if any of that cannot be done as read.
    for _ in range(CHECKOUT_ATTEMPTS):
        number = await p.order_numbers.take(p.db)
        async with p.db.connection() as conn:
            with telemetry.span("checkout.read", {"cart.id": cart_id}):
                view = await cart.read_for_checkout(conn, p.pricing, cart_id)
            cart.require_visible(viewer, cart_id, view.quote.customer_id)
            refused = cart.refusal(view) or await _promotions_lost(conn, view)
            if refused is None:
                # The cart's channel (cached): its capture policy, routes and warehouses.
                channel = await channels.lookup(conn, view.quote.channel)
                capture = channel.capture_method is CaptureMethod.AUTOMATIC
                order = _new_order(order_id, number, view.quote)
                provider = p.gateway.route(
                    currency=order.currency, amount=order.total, channel=channel.code
                )
                # Which warehouses hold what (no read with a single warehouse; ADR 0016).
                holds = await inventory.plan_holds(
                    conn,
                    p.stock_locations,
                    _items(order),
                    country=_country(view.quote),
                    warehouses=channel.warehouses,
                )
                payment, writes = _commit_one_writes(
                    settings,
                    view,
                    order,
                    claim,
                    holds,
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

    # Fraud screening (ADR 0024), no transaction open: a rejection is taken as a decline
    # without calling the provider; a review only authorizes.
    # When the external fraud service cannot answer: closed if the channel or the
    # platform's setting (CARTWRIGHT_FRAUD_FAILURE_MODE) says so, the stricter one winning.
    closed = FailureMode.CLOSED.value in (channel.fraud_failure_mode, settings.fraud_failure_mode)
    screened = await screening.screen(
        p,
        checkout_id,
        order,
        token,
        failure_mode=FailureMode.CLOSED if closed else FailureMode.OPEN,
    )
    order = screened.order

    # The provider call: no transaction is open while we wait for it.
    failpoint("checkout.before_authorize")
    request = AuthorizeRequest(
        payment_id, order.total, order.currency, token, capture and not screened.hold_capture
    )
    with telemetry.span(
        "checkout.provider_call", {"payment.id": payment_id, "payment.provider": provider}
    ) as span:
        try:
            if screened.refusal is not None:
                result = screened.refusal
            else:
                result = await p.gateway.authorize(provider, request)
        except ProviderUnavailable:
            # Every attempt failed. A 5xx does not prove the provider did nothing: void the
            # key there before answering 503; if even that cannot be confirmed, the result
            # is unknown (202 pending) and recovery finds out. The checkout's next look is
            # pushed back first, so recovery does not act on it while the void is on its way.
            await _hold_off_recovery(p, checkout_id)
            try:
                result = await void_unseen(p, payment)
            except ProviderUnavailable:
                result = TIMED_OUT
        span.set_attribute("payment.result", result.status.value)
    failpoint("checkout.after_authorize")

    # Commit 2.
    saga = Saga(checkout_id, payment, order, claim)
    with telemetry.span("checkout.commit_2", {"checkout.id": checkout_id}):
        answer = await finish(p, saga, result)
    if answer is None:  # the recovery worker finished it first: answer as it did
        async with p.db.connection() as conn:
            stored = await idempotency.lookup(conn, claim)
        if stored is None:
            raise RuntimeError(f"checkout {checkout_id} finished without a stored answer")
        answer = Answer(stored.status, stored.body)
    return answer


async def _hold_off_recovery(p: Platform, checkout_id: str) -> None:
    later = clock.utcnow() + timedelta(seconds=p.settings.payment_recovery_after_s)
    async with p.db.transaction() as conn:
        await repository.reschedule(conn, checkout_id, later)


def _commit_one_writes(
    settings: Settings,
    view: cart.CheckoutView,
    order: NewOrder,
    claim: idempotency.Claim,
    holds: list[inventory.Hold],
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
    applied = view.quote.promotions.applied if view.quote.promotions else ()
    return payment, [
        guarded(idempotency.claim_stmt(claim)),
        guarded(cart.freeze_stmt(view)),
        *inventory.reservation_writes(order.order_id, _items(order), holds),
        *promotions.take_stmts(order.order_id, order.customer_id, order.currency, applied, now),
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
    in use), the cart moved on (closed) or only changed (None: read it again), a
    promotion it got is used up (409 with the cart re-priced), or the stock was short."""
    got = view.quote.promotions.applied if view.quote.promotions else ()
    if got:  # what this process knows of them may be stale: read them afresh
        p.pricing.promotions.forget()
    async with p.db.connection() as conn:
        stored = await idempotency.lookup(conn, claim)
        if stored is not None:
            return Answer(stored.status, stored.body, replayed=True)
        now = await cart.read_for_checkout(conn, p.pricing, view.quote.cart_id)
    if now.status is not cart.CartStatus.OPEN:
        return cart.refusal(now)
    if now.updated_at != view.updated_at:
        return None
    still = {a.id: a.amount for a in (now.quote.promotions.applied if now.quote.promotions else ())}
    lost = [a.id for a in got if still.get(a.id, 0) < a.amount]
    if lost:
        async with p.db.connection() as conn:
            return await _unavailable(conn, now, lost)
    async with p.db.connection() as conn:
        short = await inventory.short_skus(
            conn,
            [inventory.Item(line.sku, line.quantity) for line in view.quote.lines],
            locations=p.stock_locations,
            country=_country(view.quote),
            warehouses=(await channels.lookup(conn, view.quote.channel)).warehouses,
        )
    if not short:
        return None  # stock came back meanwhile: try again
    metrics.stock_outs.inc()
    return InsufficientStock(f"Not enough stock for: {', '.join(short)}.")


async def _promotions_lost(conn: Conn, view: cart.CheckoutView) -> AppError | None:
    """A promotion the shopper was shown ran out since (used up, budget spent, ended):
    409 rather than charging the difference unseen."""
    assert view.row is not None
    lost = cart.lost_promotions(view.row, view.quote)
    return await _unavailable(conn, view, lost) if lost else None


async def _unavailable(conn: Conn, view: cart.CheckoutView, lost: list[str]) -> AppError:
    """409 `promotion_unavailable` with the cart re-priced, which becomes what the shopper
    was shown (checking out again pays that)."""
    assert view.row is not None
    metrics.promotions_unavailable.inc()
    await cart.remember_shown(conn, view.row, view.quote)
    names = {
        c.id: c.name for c in (view.quote.promotions.considered if view.quote.promotions else ())
    }
    return PromotionUnavailable(
        f"No longer available as the cart was priced: {', '.join(names.get(i, i) for i in lost)}"
        " (a limit or budget ran out, or the promotion ended); nothing was charged. The cart"
        " is re-priced: review it and check out again.",
        extensions={"promotions": lost, "cart": cart.present(view.row, view.quote)},
    )


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
