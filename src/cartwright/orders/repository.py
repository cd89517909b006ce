from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Dialect, Row, Stmt, Where, insert_rows_stmt, stmt

ORDER_COLUMNS = (
    "number, id, cart_id, status, payment_status, fulfillment_status, currency, email,"
    " shipping_address, billing_address, shipping_method, subtotal, discount, shipping, tax,"
    " total, amount_captured, amount_refunded, next_action, created_at,"
    " updated_at, customer_id, dispute, cancel_requested_at, channel, tax_id,"
    " tax_exempt_reason, tax_estimated, risk, risk_review, promotions, shipping_fallback"
)


async def next_block(conn: Conn) -> int:
    """Take the next block of order numbers (see `orders.service.OrderNumbers`)."""
    if conn.dialect is Dialect.POSTGRES:
        return int(await conn.fetchval("SELECT nextval('order_number_blocks')"))
    return int(
        await conn.fetchval(
            "UPDATE order_number_blocks SET value = value + 1 WHERE id = 1 RETURNING value"
        )
    )


def insert_order_stmt(values: Sequence[object]) -> Stmt:
    return stmt(
        "INSERT INTO orders (number, id, cart_id, status, payment_status, fulfillment_status,"
        " currency, email, shipping_address, billing_address, shipping_method, subtotal,"
        " discount, shipping, tax, total, amount_captured, next_action,"
        " created_at, updated_at, customer_id, shipping_fallback, channel, tax_id,"
        " tax_exempt_reason, tax_estimated, risk, risk_review, promotions) VALUES ($1, $2, $3,"
        " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20,"
        " $21, $22, $23, $24, $25, $26, $27, $28)",
        *values,
    )


def insert_lines_stmt(lines: Sequence[tuple[object, ...]]) -> Stmt:
    return insert_rows_stmt(
        "order_lines (id, order_id, position, sku, variant_id, title, quantity, unit_price,"
        " subtotal, tax, discount)",
        lines,
    )


async def get_order(conn: Conn, order_id: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1", order_id)


async def lines_of(conn: Conn, order_ids: Sequence[str]) -> list[Row]:
    marks = ", ".join(f"${i}" for i in range(1, len(order_ids) + 1))
    return await conn.fetch(
        "SELECT id, order_id, position, sku, variant_id, title, quantity, unit_price, subtotal,"
        " tax, discount, quantity_fulfilled, quantity_refunded, quantity_returned"
        f" FROM order_lines WHERE order_id IN ({marks})"
        " ORDER BY order_id, position",
        *order_ids,
    )


async def list_orders(
    conn: Conn, *, limit: int, starting_after: str | None, customer_id: str | None = None
) -> list[Row]:
    """Newest first. Order ids start with the time their checkout began (numbers come in
    per-process blocks, so they are not in time order across processes)."""
    where = Where()
    if customer_id is not None:
        where.add("customer_id = {}", customer_id)
    if starting_after is not None:
        where.add("id < {}", starting_after)
    return await conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM orders{where.sql()}"
        f" ORDER BY id DESC LIMIT {where.param(limit)}",
        *where.args,
    )


async def owner_of(conn: Conn, order_id: str) -> str | None:
    value = await conn.fetchval("SELECT customer_id FROM orders WHERE id = $1", order_id)
    return None if value is None else str(value)


async def orders_of(conn: Conn, customer_id: str) -> list[Row]:
    return await conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE customer_id = $1 ORDER BY id DESC",
        customer_id,
    )


async def set_personal_data(
    conn: Conn,
    order_id: str,
    *,
    email: str | None,
    shipping_address: str | None,
    billing_address: str | None,
) -> None:
    await conn.execute(
        "UPDATE orders SET email = $2, shipping_address = $3, billing_address = $4 WHERE id = $1",
        order_id,
        email,
        shipping_address,
        billing_address,
    )


async def set_payment_state(
    conn: Conn,
    order_id: str,
    *,
    from_statuses: Sequence[str],
    payment_status: str,
    status: str,
    amount_captured: int | None,
    next_action: str | None,
    now: datetime,
) -> Row | None:
    marks = ", ".join(f"${i}" for i in range(7, 7 + len(from_statuses)))
    return await conn.fetchrow(
        "UPDATE orders SET payment_status = $2, status = $3,"
        " amount_captured = COALESCE($4, amount_captured), next_action = $5, updated_at = $6"
        f" WHERE id = $1 AND payment_status IN ({marks}) RETURNING {ORDER_COLUMNS}",
        order_id,
        payment_status,
        status,
        amount_captured,
        next_action,
        now,
        *from_statuses,
    )


async def set_payment_amounts(
    conn: Conn,
    order_id: str,
    *,
    payment_status: str,
    amount_captured: int,
    amount_refunded: int,
    now: datetime,
) -> Row | None:
    """Mirror the payment's state and amounts after a capture, refund or void."""
    return await conn.fetchrow(
        "UPDATE orders SET payment_status = $2, amount_captured = $3, amount_refunded = $4,"
        f" updated_at = $5 WHERE id = $1 RETURNING {ORDER_COLUMNS}",
        order_id,
        payment_status,
        amount_captured,
        amount_refunded,
        now,
    )


async def set_dispute(conn: Conn, order_id: str, dispute: str, now: datetime) -> Row | None:
    return await conn.fetchrow(
        f"UPDATE orders SET dispute = $2, updated_at = $3 WHERE id = $1 RETURNING {ORDER_COLUMNS}",
        order_id,
        dispute,
        now,
    )


# ------------------------------------------------------------------- the lifecycle (0017)
# Every change below is guarded; a change that spans lines first takes the order's row
# (`claim_open`), so concurrent fulfilments, a cancellation and edits of one order run one
# after the other and each sees what the previous one committed.


async def claim_open(
    conn: Conn, order_id: str, fulfillment: Sequence[str], now: datetime
) -> Row | None:
    """Lock the order for a change if it is open, not being canceled and its fulfilment
    is one of `fulfillment`; None otherwise."""
    marks = ", ".join(f"${i}" for i in range(3, 3 + len(fulfillment)))
    return await conn.fetchrow(
        "UPDATE orders SET updated_at = $2 WHERE id = $1 AND status = 'open'"
        f" AND cancel_requested_at IS NULL AND fulfillment_status IN ({marks})"
        f" RETURNING {ORDER_COLUMNS}",
        order_id,
        now,
        *fulfillment,
    )


async def add_fulfilled(conn: Conn, line_id: str, quantity: int) -> bool:
    return (
        await conn.execute(
            "UPDATE order_lines SET quantity_fulfilled = quantity_fulfilled + $2"
            " WHERE id = $1 AND quantity_fulfilled + $2 <= quantity",
            line_id,
            quantity,
        )
        == 1
    )


async def set_fulfillment_status(
    conn: Conn, order_id: str, status: str, now: datetime
) -> Row | None:
    return await conn.fetchrow(
        "UPDATE orders SET fulfillment_status = $2, updated_at = $3 WHERE id = $1"
        f" AND status = 'open' RETURNING {ORDER_COLUMNS}",
        order_id,
        status,
        now,
    )


async def complete_if_done(conn: Conn, order_id: str, now: datetime) -> Row | None:
    """`open` → `completed` when every unit is fulfilled and the payment captured."""
    return await conn.fetchrow(
        "UPDATE orders SET status = 'completed', updated_at = $2 WHERE id = $1"
        " AND status = 'open' AND cancel_requested_at IS NULL"
        " AND fulfillment_status = 'fulfilled'"
        " AND payment_status IN ('captured', 'partially_refunded', 'refunded')"
        f" RETURNING {ORDER_COLUMNS}",
        order_id,
        now,
    )


FULFILLMENT_COLUMNS = (
    "id, order_id, lines, tracking_number, carrier, capture_status, capture_amount,"
    " capture_final, created_at"
)


async def insert_fulfillment(
    conn: Conn,
    *,
    fulfillment_id: str,
    order_id: str,
    lines: str,
    tracking_number: str | None,
    carrier: str | None,
    capture_status: str,
    capture_amount: int,
    capture_final: bool,
    capture_check_at: datetime | None,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO fulfillments (id, order_id, lines, tracking_number, carrier,"
        " capture_status, capture_amount, capture_final, capture_check_at, created_at,"
        " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        fulfillment_id,
        order_id,
        lines,
        tracking_number,
        carrier,
        capture_status,
        capture_amount,
        capture_final,
        capture_check_at,
        now,
    )


async def fulfillments_of(conn: Conn, order_id: str) -> list[Row]:
    return await conn.fetch(
        f"SELECT {FULFILLMENT_COLUMNS} FROM fulfillments WHERE order_id = $1"
        " ORDER BY created_at, id",
        order_id,
    )


async def lease_due_captures(
    conn: Conn, *, now: datetime, lease_until: datetime, limit: int
) -> list[Row]:
    rows = await conn.fetch(
        f"SELECT {FULFILLMENT_COLUMNS}, capture_check_at FROM fulfillments"
        " WHERE capture_status = 'pending' AND capture_check_at <= $1"
        " ORDER BY capture_check_at LIMIT $2",
        now,
        limit,
    )
    leased = []
    for row in rows:
        if (
            await conn.execute(
                "UPDATE fulfillments SET capture_check_at = $3 WHERE id = $1"
                " AND capture_status = 'pending' AND capture_check_at = $2",
                row["id"],
                row["capture_check_at"],
                lease_until,
            )
            == 1
        ):
            leased.append(row)
    return leased


async def set_capture_status(
    conn: Conn, fulfillment_id: str, status: str, check_at: datetime | None, now: datetime
) -> None:
    await conn.execute(
        "UPDATE fulfillments SET capture_status = $2, capture_check_at = $3, updated_at = $4"
        " WHERE id = $1 AND capture_status = 'pending'",
        fulfillment_id,
        status,
        check_at,
        now,
    )


async def begin_cancel(conn: Conn, order_id: str, check_at: datetime, now: datetime) -> Row | None:
    """Mark the cancellation begun: only while open and nothing is fulfilled."""
    return await conn.fetchrow(
        "UPDATE orders SET cancel_requested_at = $3, cancel_check_at = $2, updated_at = $3"
        " WHERE id = $1 AND status = 'open' AND fulfillment_status = 'unfulfilled'"
        f" AND cancel_requested_at IS NULL RETURNING {ORDER_COLUMNS}",
        order_id,
        check_at,
        now,
    )


async def finish_cancel(conn: Conn, order_id: str, now: datetime) -> Row | None:
    return await conn.fetchrow(
        "UPDATE orders SET status = 'canceled', cancel_check_at = NULL, updated_at = $2"
        " WHERE id = $1 AND status = 'open' AND cancel_requested_at IS NOT NULL"
        f" RETURNING {ORDER_COLUMNS}",
        order_id,
        now,
    )


async def put_off_cancel(conn: Conn, order_id: str, check_at: datetime) -> None:
    await conn.execute(
        "UPDATE orders SET cancel_check_at = $2 WHERE id = $1 AND status = 'open'"
        " AND cancel_requested_at IS NOT NULL",
        order_id,
        check_at,
    )


async def lease_due_cancellations(
    conn: Conn, *, now: datetime, lease_until: datetime, limit: int
) -> list[str]:
    rows = await conn.fetch(
        "SELECT id, cancel_check_at FROM orders WHERE status = 'open'"
        " AND cancel_requested_at IS NOT NULL AND cancel_check_at <= $1"
        " ORDER BY cancel_check_at LIMIT $2",
        now,
        limit,
    )
    leased = []
    for row in rows:
        if (
            await conn.execute(
                "UPDATE orders SET cancel_check_at = $3 WHERE id = $1 AND status = 'open'"
                " AND cancel_check_at = $2",
                row["id"],
                row["cancel_check_at"],
                lease_until,
            )
            == 1
        ):
            leased.append(str(row["id"]))
    return leased


async def take_refund_units(
    conn: Conn, operation_id: str, order_id: str, line_id: str, quantity: int
) -> bool:
    """Count `quantity` units of the line as refunded (guarded: never more than it has)."""
    taken = await conn.execute(
        "UPDATE order_lines SET quantity_refunded = quantity_refunded + $3"
        " WHERE id = $1 AND order_id = $2 AND quantity_refunded + $3 <= quantity",
        line_id,
        order_id,
        quantity,
    )
    if taken != 1:
        return False
    await conn.execute(
        "INSERT INTO order_refund_units (operation_id, line_id, order_id, quantity)"
        " VALUES ($1, $2, $3, $4)",
        operation_id,
        line_id,
        order_id,
        quantity,
    )
    return True


async def give_back_refund_units(conn: Conn, operation_id: str) -> int:
    """A refund by lines failed: its units are refundable again."""
    rows = await conn.fetch(
        "DELETE FROM order_refund_units WHERE operation_id = $1 RETURNING line_id, quantity",
        operation_id,
    )
    for row in rows:
        await conn.execute(
            "UPDATE order_lines SET quantity_refunded = quantity_refunded - $2 WHERE id = $1",
            row["line_id"],
            row["quantity"],
        )
    return len(rows)


async def set_line_quantity(
    conn: Conn, line_id: str, *, old: int, new: int, subtotal: int, tax: int, discount: int
) -> bool:
    return (
        await conn.execute(
            "UPDATE order_lines SET quantity = $3, subtotal = $4, tax = $5, discount = $6"
            " WHERE id = $1 AND quantity = $2 AND quantity_fulfilled = 0"
            " AND quantity_refunded = 0",
            line_id,
            old,
            new,
            subtotal,
            tax,
            discount,
        )
        == 1
    )


async def delete_line(conn: Conn, line_id: str, old: int) -> bool:
    return (
        await conn.execute(
            "DELETE FROM order_lines WHERE id = $1 AND quantity = $2 AND quantity_fulfilled = 0"
            " AND quantity_refunded = 0",
            line_id,
            old,
        )
        == 1
    )


async def set_totals(
    conn: Conn, order_id: str, *, subtotal: int, discount: int, tax: int, total: int, now: datetime
) -> Row | None:
    return await conn.fetchrow(
        "UPDATE orders SET subtotal = $2, discount = $3, tax = $4, total = $5, updated_at = $6"
        f" WHERE id = $1 AND status = 'open' RETURNING {ORDER_COLUMNS}",
        order_id,
        subtotal,
        discount,
        tax,
        total,
        now,
    )


RETURN_COLUMNS = "id, order_id, status, lines, received, reason, refund_id, created_at, updated_at"


async def take_returned(conn: Conn, order_id: str, line_id: str, quantity: int) -> bool:
    return (
        await conn.execute(
            "UPDATE order_lines SET quantity_returned = quantity_returned + $3"
            " WHERE id = $1 AND order_id = $2 AND quantity_returned + $3 <= quantity_fulfilled",
            line_id,
            order_id,
            quantity,
        )
        == 1
    )


async def insert_return(
    conn: Conn, *, return_id: str, order_id: str, lines: str, reason: str | None, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO order_returns (id, order_id, status, lines, reason, created_at,"
        " updated_at) VALUES ($1, $2, 'requested', $3, $4, $5, $5)",
        return_id,
        order_id,
        lines,
        reason,
        now,
    )


async def get_return(conn: Conn, return_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {RETURN_COLUMNS} FROM order_returns WHERE id = $1", return_id
    )


async def move_return(
    conn: Conn,
    return_id: str,
    *,
    source: str,
    target: str,
    now: datetime,
    received: str | None = None,
    refund_id: str | None = None,
) -> Row | None:
    return await conn.fetchrow(
        "UPDATE order_returns SET status = $3, received = COALESCE($4, received),"
        " refund_id = COALESCE($5, refund_id), updated_at = $6 WHERE id = $1 AND status = $2"
        f" RETURNING {RETURN_COLUMNS}",
        return_id,
        source,
        target,
        received,
        refund_id,
        now,
    )


async def move_risk_review(
    conn: Conn, order_id: str, *, from_review: str, to_review: str, now: datetime
) -> Row | None:
    """Move an open order's fraud review on (guarded: only from `from_review`, and not
    while a cancellation is under way)."""
    return await conn.fetchrow(
        "UPDATE orders SET risk_review = $3, updated_at = $4 WHERE id = $1"
        " AND risk_review = $2 AND status = 'open' AND cancel_requested_at IS NULL"
        f" RETURNING {ORDER_COLUMNS}",
        order_id,
        from_review,
        to_review,
        now,
    )
