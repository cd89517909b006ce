"""The order after checkout, in the caller's transaction: fulfilments, the start and end
of a cancellation, edits before fulfilment, returns, and the units a refund by lines takes.

Each operation checks the state machine (`orders.state`) first, then writes guarded
updates; an operation that changes several lines first takes the order's row
(`repository.claim_open`), so two fulfilments, a cancellation or an edit of one order run
one after the other. The provider is never called here: `orders.lifecycle_actions` does
that between the transactions (ADR 0017).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from cartwright.audit import service as audit
from cartwright.events import service as events
from cartwright.events.service import Event
from cartwright.inventory import service as inventory
from cartwright.inventory.service import Item
from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Row
from cartwright.kit.errors import InvalidState, NotFound, ValidationFailed
from cartwright.kit.money import round_half_up_div
from cartwright.orders import repository
from cartwright.orders.allocation import Breakdown, lines_of_order, units
from cartwright.orders.service import present
from cartwright.orders.state import Action, FulfillmentStatus, fulfillment_of, require, statuses
from cartwright.payments import service as payments
from cartwright.payments.service import Operation, OperationKind
from cartwright.payments.state import CAPTURABLE
from cartwright.promotions import service as promotions


@dataclass(frozen=True, slots=True)
class LineQuantity:
    line_id: str
    quantity: int
    restock: bool = False


def state_of(row: Row | dict[str, Any]) -> dict[str, Any]:
    return {
        "status": row["status"],
        "fulfillment_status": row["fulfillment_status"],
        "payment_status": row["payment_status"],
        "canceling": row["cancel_requested_at"] is not None and row["status"] == "open",
        "risk_review": row["risk_review"],
    }


async def order_row(conn: Conn, order_id: str) -> Row:
    row = await repository.get_order(conn, order_id)
    if row is None:
        raise NotFound(f"No order {order_id}.")
    return row


def allocations(order: Row, lines: Sequence[Row]) -> dict[str, Breakdown]:
    """Each line's part of the order's total (`orders.allocation`)."""
    parts = lines_of_order(
        [(int(line["subtotal"]), int(line["tax"])) for line in lines],
        discount=int(order["discount"]),
        shipping=int(order["shipping"]),
        tax=int(order["tax"]),
        line_discounts=[int(line["discount"]) for line in lines],
    )
    return {line["id"]: part for line, part in zip(lines, parts, strict=True)}


def requested(lines: Sequence[Row], wanted: Sequence[LineQuantity]) -> list[tuple[Row, int]]:
    """The order's lines named by `wanted`, quantities of a line named twice added; an
    unknown line is 422 (nothing changed)."""
    by_id = {line["id"]: line for line in lines}
    totals: dict[str, int] = {}
    unknown = [w.line_id for w in wanted if w.line_id not in by_id]
    if unknown:
        raise ValidationFailed(
            f"The order has no line {unknown[0]}.",
            errors=[{"field": "lines", "message": f"unknown line {u}"} for u in unknown],
        )
    for w in wanted:
        totals[w.line_id] = totals.get(w.line_id, 0) + w.quantity
    return [(by_id[line_id], quantity) for line_id, quantity in totals.items()]


def _too_many(what: str, line: Row, asked: int, left: int) -> InvalidState:
    return InvalidState(
        f"Line {line['id']} has {left} unit(s) left to {what}; asked {asked}.",
        extensions={"line_id": line["id"], "available": left},
    )


async def _claim(conn: Conn, order: Row, action: Action, fulfillment: Sequence[str]) -> Row:
    claimed = await repository.claim_open(conn, order["id"], fulfillment, clock.utcnow())
    if claimed is None:  # changed since it was read: tell what it is now
        now = await order_row(conn, order["id"])
        require(action, state_of(now))
        raise InvalidState("The order changed meanwhile; read it and try again.")
    return claimed


# ------------------------------------------------------------------------- fulfilments


@dataclass(frozen=True, slots=True)
class CaptureDue:
    """With capture on fulfilment: what the fulfilment's capture takes, after it commits."""

    fulfillment_id: str
    order_id: str
    amount: int
    final: bool


def present_fulfillment(row: Row | dict[str, Any]) -> dict[str, Any]:
    lines = row["lines"]
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "lines": orjson.loads(lines) if isinstance(lines, str | bytes) else lines,
        "tracking_number": row["tracking_number"],
        "carrier": row["carrier"],
        "created_at": clock.isoformat(row["created_at"]),
    }


async def fulfil(
    conn: Conn,
    order_id: str,
    wanted: Sequence[LineQuantity],
    *,
    tracking_number: str | None,
    carrier: str | None,
    recheck: timedelta,
) -> tuple[dict[str, Any], dict[str, Any], CaptureDue | None]:
    """Ship units of the order's lines: their reservation is consumed, the lines and the
    order's `fulfillment_status` move on, `order.fulfilled` is recorded. Returns the order,
    the fulfilment, and the capture due when the payment is captured on fulfilment."""
    order = await order_row(conn, order_id)
    require(Action.FULFIL, state_of(order))
    order = await _claim(
        conn,
        order,
        Action.FULFIL,
        [FulfillmentStatus.UNFULFILLED, FulfillmentStatus.PARTIALLY_FULFILLED],
    )
    lines = await repository.lines_of(conn, [order_id])
    taken = requested(lines, wanted)
    parts = allocations(order, lines)
    value = Breakdown()
    for line, quantity in taken:
        left = int(line["quantity"]) - int(line["quantity_fulfilled"])
        if quantity > left or not await repository.add_fulfilled(conn, line["id"], quantity):
            raise _too_many("fulfil", line, quantity, left)
        value += units(
            parts[line["id"]], int(line["quantity"]), int(line["quantity_fulfilled"]), quantity
        )
    await inventory.consume(conn, order_id, [Item(line["sku"], q) for line, q in taken])
    lines = await repository.lines_of(conn, [order_id])
    status = fulfillment_of([(int(r["quantity"]), int(r["quantity_fulfilled"])) for r in lines])
    now = clock.utcnow()
    row = await repository.set_fulfillment_status(conn, order_id, status, now)
    assert row is not None  # the order's row is ours since `claim_open`
    payment = await payments.payment_of_order(conn, order_id)
    fulfillment_id = ids.new_id("ful")
    due = None
    if payment.capture_method == "manual" and payment.status in CAPTURABLE:
        due = CaptureDue(
            fulfillment_id, order_id, value.total, status is FulfillmentStatus.FULFILLED
        )
    ful_lines = [{"line_id": line["id"], "quantity": q} for line, q in taken]
    await repository.insert_fulfillment(
        conn,
        fulfillment_id=fulfillment_id,
        order_id=order_id,
        lines=orjson.dumps(ful_lines).decode(),
        tracking_number=tracking_number,
        carrier=carrier,
        capture_status="pending" if due else "none",
        capture_amount=due.amount if due else 0,
        capture_final=due.final if due else False,
        capture_check_at=now + recheck if due else None,
        now=now,
    )
    fulfillment = present_fulfillment(
        {
            "id": fulfillment_id,
            "order_id": order_id,
            "lines": ful_lines,
            "tracking_number": tracking_number,
            "carrier": carrier,
            "created_at": now,
        }
    )
    recorded = []
    completed = await repository.complete_if_done(conn, order_id, now)
    row = completed or row
    view = present(row, lines)
    recorded.append(Event("order.fulfilled", order_id, {**view, "fulfillment": fulfillment}))
    if completed is not None:
        recorded.append(Event("order.completed", order_id, view))
    await events.record(conn, recorded)
    await audit.record(
        conn,
        "order.fulfilled",
        "order",
        order_id,
        {"fulfillment_id": fulfillment_id, "lines": ful_lines},
    )
    return view, fulfillment, due


async def fulfillments_of(conn: Conn, order_id: str) -> list[dict[str, Any]]:
    await order_row(conn, order_id)
    return [present_fulfillment(r) for r in await repository.fulfillments_of(conn, order_id)]


async def complete_if_done(conn: Conn, order_id: str) -> list[Event]:
    """`completed` once every unit is fulfilled and the payment is captured."""
    row = await repository.complete_if_done(conn, order_id, clock.utcnow())
    if row is None:
        return []
    return [
        Event(
            "order.completed", order_id, present(row, await repository.lines_of(conn, [order_id]))
        )
    ]


# ------------------------------------------------------------------------ cancellation


async def begin_cancel(conn: Conn, order_id: str, *, recheck: timedelta) -> Row:
    """Mark the cancellation begun (nothing may be fulfilled); a cancellation begun
    already is resumed. The money and the stock follow (`finish_cancel`)."""
    order = await order_row(conn, order_id)
    if order["cancel_requested_at"] is not None:
        return order  # begun before (a retry, or the worker finishing it)
    require(Action.CANCEL, state_of(order))
    now = clock.utcnow()
    row = await repository.begin_cancel(conn, order_id, now + recheck, now)
    if row is None:
        again = await order_row(conn, order_id)
        if again["cancel_requested_at"] is not None:
            return again
        require(Action.CANCEL, state_of(again))
        raise InvalidState("The order changed meanwhile; read it and try again.")
    await audit.record(conn, "order.cancel_requested", "order", order_id, {"status": "open"})
    return row


async def finish_cancel(conn: Conn, order_id: str) -> dict[str, Any] | None:
    """The money is back: the order is `canceled`, its stock released, `order.canceled`
    recorded. None when it was finished already."""
    row = await repository.finish_cancel(conn, order_id, clock.utcnow())
    if row is None:
        return None
    await inventory.release(conn, order_id)
    await promotions.give_back(conn, order_id)
    view = present(row, await repository.lines_of(conn, [order_id]))
    await events.record(conn, [Event("order.canceled", order_id, view)])
    return view


def unrefunded(order: Row, lines: Sequence[Row]) -> Breakdown:
    """What the units not refunded by lines are worth."""
    parts = allocations(order, lines)
    value = Breakdown()
    for line in lines:
        q, done = int(line["quantity"]), int(line["quantity_refunded"])
        value += units(parts[line["id"]], q, done, q - done)
    return value


# ----------------------------------------------------------------------------- refunds


async def begin_line_refund(
    conn: Conn,
    order_id: str,
    wanted: Sequence[LineQuantity],
    *,
    operation_id: str,
    reason: str | None,
    recheck: timedelta,
    action: Action = Action.REFUND,
) -> tuple[Operation, payments.Payment]:
    """Take the units of a refund by lines and begin its refund (the amount from the
    allocation, with its breakdown), in one transaction. A refund begun before under
    `operation_id` is returned as it is (a retry)."""
    existing = await payments.get_operation(conn, operation_id)
    if existing is not None:
        return existing, await payments.get_payment(conn, existing.payment_id)
    order = await order_row(conn, order_id)
    require(action, state_of(order))
    lines = await repository.lines_of(conn, [order_id])
    taken = requested(lines, wanted)
    parts = allocations(order, lines)
    value = Breakdown()
    for line, quantity in taken:
        before, sold = int(line["quantity_refunded"]), int(line["quantity"])
        if before + quantity > sold or not await repository.take_refund_units(
            conn, operation_id, order_id, line["id"], quantity
        ):
            raise _too_many("refund", line, quantity, sold - before)
        value += units(parts[line["id"]], sold, before, quantity)
    if value.total <= 0:
        raise InvalidState("The units asked are worth nothing; there is nothing to refund.")
    payment = await payments.payment_of_order(conn, order_id)
    operation = await payments.begin_operation(
        conn,
        payment,
        kind=OperationKind.REFUND,
        operation_id=operation_id,
        amount=value.total,
        reason=reason,
        check_after=recheck,
        breakdown=value.as_dict(),
    )
    return operation, payment


async def refund_failed(conn: Conn, operation: Operation) -> None:
    """A refund by lines the provider refused gives its units back."""
    if operation.kind is OperationKind.REFUND:
        await repository.give_back_refund_units(conn, operation.id)


# ------------------------------------------------------------------------------- edits


async def edit_line(
    conn: Conn,
    order_id: str,
    line_id: str,
    quantity: int,
    *,
    operation_id: str,
    recheck: timedelta,
) -> tuple[dict[str, Any], tuple[Operation, payments.Payment] | None]:
    """Lower a line's quantity (0: remove it) before anything ships: the totals are
    recomputed (the line's tax kept per unit, the discount re-allocated, shipping
    unchanged), the units released, `order.updated` recorded. A captured payment gets the
    difference refunded (the refund is begun here, sent after the commit); an authorized
    one keeps the authorization, of which the order's new total is what may be captured
    (the final capture releases the rest)."""
    order = await order_row(conn, order_id)
    require(Action.EDIT, state_of(order))
    if int(order["amount_refunded"]):
        raise InvalidState(
            "An order refunded in part cannot be edited; refund by lines instead.",
            extensions=statuses(state_of(order)),
        )
    order = await _claim(conn, order, Action.EDIT, [FulfillmentStatus.UNFULFILLED])
    lines = await repository.lines_of(conn, [order_id])
    line = next((r for r in lines if r["id"] == line_id), None)
    if line is None:
        raise NotFound(f"Order {order_id} has no line {line_id}.")
    old = int(line["quantity"])
    if quantity > old:
        raise InvalidState(
            "A higher quantity needs a new authorization of the payment, which is not"
            " supported yet: place a new order for the extra units.",
            extensions={**statuses(state_of(order)), "line_id": line_id, "quantity": old},
        )
    if quantity == 0 and len(lines) == 1:
        raise InvalidState("The order's only line cannot be removed; cancel the order instead.")
    if quantity == old:
        return present(order, lines), None
    subtotal = int(line["unit_price"]) * quantity
    tax = round_half_up_div(int(line["tax"]) * quantity, old)
    # The units kept keep their part of the line's discount (the rule refunds use), so the
    # units removed give back exactly theirs.
    line_discount = int(line["discount"]) * quantity // old
    changed = (
        await repository.delete_line(conn, line_id, old)
        if quantity == 0
        else await repository.set_line_quantity(
            conn,
            line_id,
            old=old,
            new=quantity,
            subtotal=subtotal,
            tax=tax,
            discount=line_discount,
        )
    )
    if not changed:
        raise InvalidState("The line changed meanwhile; read the order and try again.")
    new_subtotal = int(order["subtotal"]) - (int(line["subtotal"]) - subtotal)
    new_discount = int(order["discount"]) - (int(line["discount"]) - line_discount)
    new_tax = int(order["tax"]) - (int(line["tax"]) - tax)
    new_total = new_subtotal - new_discount + int(order["shipping"]) + new_tax
    now = clock.utcnow()
    row = await repository.set_totals(
        conn,
        order_id,
        subtotal=new_subtotal,
        discount=new_discount,
        tax=new_tax,
        total=new_total,
        now=now,
    )
    assert row is not None
    await inventory.release_items(conn, order_id, [Item(line["sku"], old - quantity)])
    refund = None
    difference = Breakdown(
        goods=int(line["subtotal"]) - subtotal,
        discount=int(order["discount"]) - new_discount,
        tax=int(line["tax"]) - tax,
    )
    if order["payment_status"] == "captured" and difference.total > 0:
        payment = await payments.payment_of_order(conn, order_id)
        operation = await payments.begin_operation(
            conn,
            payment,
            kind=OperationKind.REFUND,
            operation_id=operation_id,
            amount=difference.total,
            reason="order edited",
            check_after=recheck,
            breakdown=difference.as_dict(),
        )
        refund = (operation, payment)
    view = present(row, await repository.lines_of(conn, [order_id]))
    await events.record(conn, [Event("order.updated", order_id, view)])
    await audit.record(
        conn,
        "order.line_changed",
        "order",
        order_id,
        {"line_id": line_id, "quantity": {"from": old, "to": quantity}},
    )
    return view, refund


# ----------------------------------------------------------------------------- returns


def present_return(row: Row | dict[str, Any]) -> dict[str, Any]:
    def doc(value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value

    return {
        "id": row["id"],
        "object": "return",
        "order_id": row["order_id"],
        "status": row["status"],
        "lines": doc(row["lines"]),
        "received": doc(row["received"]),
        "reason": row["reason"],
        "refund_id": row["refund_id"],
        "created_at": clock.isoformat(row["created_at"]),
        "updated_at": clock.isoformat(row["updated_at"]),
    }


async def get_return(conn: Conn, return_id: str) -> Row:
    row = await repository.get_return(conn, return_id)
    if row is None:
        raise NotFound(f"No return {return_id}.")
    return row


async def request_return(
    conn: Conn, order_id: str, wanted: Sequence[LineQuantity], *, reason: str | None
) -> dict[str, Any]:
    """Units the shopper sends back (only fulfilled units, each once): `requested`."""
    order = await order_row(conn, order_id)
    require(Action.RETURN, state_of(order))
    lines = await repository.lines_of(conn, [order_id])
    taken = requested(lines, wanted)
    for line, quantity in taken:
        left = int(line["quantity_fulfilled"]) - int(line["quantity_returned"])
        if quantity > left or not await repository.take_returned(
            conn, order_id, line["id"], quantity
        ):
            raise _too_many("return (only fulfilled units can be)", line, quantity, left)
    now = clock.utcnow()
    return_id = ids.new_id("ret")
    ret_lines = [{"line_id": line["id"], "quantity": q} for line, q in taken]
    await repository.insert_return(
        conn,
        return_id=return_id,
        order_id=order_id,
        lines=orjson.dumps(ret_lines).decode(),
        reason=reason,
        now=now,
    )
    row = await get_return(conn, return_id)
    view = present_return(row)
    await events.record(conn, [Event("return.requested", order_id, view)])
    await audit.record(conn, "return.requested", "return", return_id, {"lines": ret_lines})
    return view


async def receive_return(
    conn: Conn, return_id: str, received: Sequence[LineQuantity]
) -> dict[str, Any]:
    """The goods arrived: `received`; units with `restock` go back on hand, the rest
    (damaged) do not."""
    ret = await get_return(conn, return_id)
    if ret["status"] != "requested":
        raise InvalidState(
            f"A return that is {ret['status']} cannot be received.",
            extensions={"return_status": ret["status"]},
        )
    asked = {line["line_id"]: int(line["quantity"]) for line in present_return(ret)["lines"]}
    unknown = [r.line_id for r in received if r.line_id not in asked]
    if unknown:
        raise ValidationFailed(
            f"The return has no line {unknown[0]}.",
            errors=[
                {"field": "lines", "message": f"line {u} is not in the return"} for u in unknown
            ],
        )
    counted: dict[str, int] = {}
    for r in received:
        counted[r.line_id] = counted.get(r.line_id, 0) + r.quantity
    for line_id, quantity in counted.items():
        if quantity > asked[line_id]:
            raise InvalidState(
                f"Line {line_id}: {asked[line_id]} unit(s) were asked back; received {quantity}.",
                extensions={"line_id": line_id, "available": asked[line_id]},
            )
    skus = {r["id"]: r["sku"] for r in await repository.lines_of(conn, [ret["order_id"]])}
    row = await repository.move_return(
        conn,
        return_id,
        source="requested",
        target="received",
        now=clock.utcnow(),
        received=orjson.dumps(
            [{"line_id": r.line_id, "quantity": r.quantity, "restock": r.restock} for r in received]
        ).decode(),
    )
    if row is None:
        raise InvalidState("The return changed meanwhile; read it and try again.")
    for r in received:
        if r.restock and r.quantity:
            await inventory.restock(
                conn, inventory.DEFAULT_WAREHOUSE, skus[r.line_id], r.quantity, return_id
            )
    view = present_return(row)
    await events.record(conn, [Event("return.received", ret["order_id"], view)])
    await audit.record(conn, "return.received", "return", return_id, {"received": view["received"]})
    return view


async def mark_return_refunded(conn: Conn, return_id: str, refund_id: str) -> dict[str, Any]:
    row = await repository.move_return(
        conn,
        return_id,
        source="received",
        target="refunded",
        now=clock.utcnow(),
        refund_id=refund_id,
    )
    return present_return(row if row is not None else await get_return(conn, return_id))
