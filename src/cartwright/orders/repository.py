from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Dialect, Row, Stmt, Where, insert_rows_stmt, stmt

ORDER_COLUMNS = (
    "number, id, cart_id, status, payment_status, fulfillment_status, currency, email,"
    " shipping_address, billing_address, shipping_method, subtotal, discount, shipping, tax,"
    " total, amount_captured, amount_refunded, next_action, created_at,"
    " updated_at, customer_id, dispute"
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
        " created_at, updated_at, customer_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
        " $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20)",
        *values,
    )


def insert_lines_stmt(lines: Sequence[tuple[object, ...]]) -> Stmt:
    return insert_rows_stmt(
        "order_lines (id, order_id, position, sku, variant_id, title, quantity, unit_price,"
        " subtotal, tax)",
        lines,
    )


async def get_order(conn: Conn, order_id: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1", order_id)


async def lines_of(conn: Conn, order_ids: Sequence[str]) -> list[Row]:
    marks = ", ".join(f"${i}" for i in range(1, len(order_ids) + 1))
    return await conn.fetch(
        "SELECT id, order_id, position, sku, variant_id, title, quantity, unit_price, subtotal,"
        f" tax, quantity_fulfilled FROM order_lines WHERE order_id IN ({marks})"
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
