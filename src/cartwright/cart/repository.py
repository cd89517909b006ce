from __future__ import annotations

from datetime import datetime
from typing import Any

from cartwright.kit.db import Conn, Dialect, Row, Stmt, placeholders, stmt

CART_COLUMNS = (
    "id, currency, email, status, shipping_address, billing_address, shipping_method,"
    " order_id, created_at, updated_at, customer_id, channel, tax_id, promotion_codes,"
    " promotions_shown"
)


async def insert_cart(
    conn: Conn,
    cart_id: str,
    currency: str,
    email: str | None,
    now: datetime,
    customer_id: str | None = None,
    channel: str = "default",
) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO carts (id, currency, email, status, created_at, updated_at, customer_id,"
        f" channel) VALUES ($1, $2, $3, 'open', $4, $4, $5, $6) RETURNING {CART_COLUMNS}",
        cart_id,
        currency,
        email,
        now,
        customer_id,
        channel,
    )
    assert row is not None
    return row


async def get_cart(conn: Conn, cart_id: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {CART_COLUMNS} FROM carts WHERE id = $1", cart_id)


async def touch_open_cart(conn: Conn, cart_id: str, now: datetime) -> Row | None:
    """Mark an open cart changed (a checkout that priced it before then finds it changed
    and prices it again); None when it is not open."""
    return await conn.fetchrow(
        "UPDATE carts SET updated_at = $2 WHERE id = $1 AND status = 'open'"
        f" RETURNING {CART_COLUMNS}",
        cart_id,
        now,
    )


async def update_fields(
    conn: Conn, cart_id: str, fields: dict[str, Any], now: datetime
) -> Row | None:
    columns = sorted(fields)
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=3))
    return await conn.fetchrow(
        f"UPDATE carts SET updated_at = $2, {assignments} WHERE id = $1 AND status = 'open'"
        f" RETURNING {CART_COLUMNS}",
        cart_id,
        now,
        *(fields[c] for c in columns),
    )


async def set_promotions_shown(conn: Conn, cart_id: str, shown: str | None) -> None:
    """What the shopper was shown of the promotions (the cart's version unchanged)."""
    await conn.execute(
        "UPDATE carts SET promotions_shown = $2 WHERE id = $1 AND status = 'open'",
        cart_id,
        shown,
    )


async def set_status(
    conn: Conn,
    cart_id: str,
    *,
    from_status: str,
    to_status: str,
    order_id: str | None,
    now: datetime,
) -> Row | None:
    return await conn.fetchrow(
        "UPDATE carts SET status = $3, order_id = $4, updated_at = $5"
        f" WHERE id = $1 AND status = $2 RETURNING {CART_COLUMNS}",
        cart_id,
        from_status,
        to_status,
        order_id,
        now,
    )


async def lines(conn: Conn, cart_id: str) -> list[Row]:
    return await conn.fetch(
        "SELECT id, sku, quantity FROM cart_lines WHERE cart_id = $1 ORDER BY created_at, id",
        cart_id,
    )


async def add_line(
    conn: Conn, line_id: str, cart_id: str, sku: str, quantity: int, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO cart_lines (id, cart_id, sku, quantity, created_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cart_id, sku)"
        " DO UPDATE SET quantity = cart_lines.quantity + excluded.quantity",
        line_id,
        cart_id,
        sku,
        quantity,
        now,
    )


async def set_line_quantity(conn: Conn, cart_id: str, line_id: str, quantity: int) -> bool:
    return (
        await conn.execute(
            "UPDATE cart_lines SET quantity = $3 WHERE id = $2 AND cart_id = $1",
            cart_id,
            line_id,
            quantity,
        )
        == 1
    )


async def delete_line(conn: Conn, cart_id: str, line_id: str) -> bool:
    return (
        await conn.execute(
            "DELETE FROM cart_lines WHERE id = $2 AND cart_id = $1", cart_id, line_id
        )
        == 1
    )


def set_status_stmt(
    cart_id: str, *, from_status: str, to_status: str, order_id: str | None, now: datetime
) -> Stmt:
    return stmt(
        "UPDATE carts SET status = $3, order_id = $4, updated_at = $5"
        " WHERE id = $1 AND status = $2",
        cart_id,
        from_status,
        to_status,
        order_id,
        now,
    )


async def get_with_lines(conn: Conn, cart_id: str) -> tuple[Row, list[Row]] | None:
    """The cart and its lines, read together (one statement, one snapshot)."""
    rows = await conn.fetch(
        "SELECT c.id, c.currency, c.email, c.status, c.shipping_address, c.billing_address,"
        " c.shipping_method, c.order_id, c.created_at, c.updated_at, c.customer_id, c.channel,"
        " c.tax_id, c.promotion_codes, c.promotions_shown,"
        " l.id AS line_id,"
        " l.sku AS line_sku, l.quantity AS line_quantity"
        " FROM carts c LEFT JOIN cart_lines l ON l.cart_id = c.id WHERE c.id = $1"
        " ORDER BY l.created_at, l.id",
        cart_id,
    )
    if not rows:
        return None
    cart_lines: list[Row] = [
        {"id": r["line_id"], "sku": r["line_sku"], "quantity": r["line_quantity"]}
        for r in rows
        if r["line_id"] is not None
    ]
    return rows[0], cart_lines


def freeze_stmt(
    cart_id: str, *, seen_updated_at: datetime, from_status: str, to_status: str, now: datetime
) -> Stmt:
    """Move the cart on only if it is still as it was read (row count 0 otherwise)."""
    return stmt(
        "UPDATE carts SET status = $4, updated_at = $5, checkout_started_at = $5"
        " WHERE id = $1 AND status = $2 AND updated_at = $3",
        cart_id,
        from_status,
        seen_updated_at,
        to_status,
        now,
    )


async def claim(conn: Conn, cart_id: str, customer_id: str, now: datetime) -> Row | None:
    """Give an open guest cart to the customer; None when it is not an open guest cart.
    The cart's email, when it has none, becomes the customer's."""
    return await conn.fetchrow(
        "UPDATE carts SET customer_id = $2, updated_at = $3"
        " WHERE id = $1 AND status = 'open' AND customer_id IS NULL"
        f" RETURNING {CART_COLUMNS}",
        cart_id,
        customer_id,
        now,
    )


async def fill_email(conn: Conn, cart_id: str, email: str) -> None:
    await conn.execute(
        "UPDATE carts SET email = $2 WHERE id = $1 AND email IS NULL", cart_id, email
    )


async def carts_of(conn: Conn, customer_id: str) -> list[Row]:
    return await conn.fetch(
        f"SELECT {CART_COLUMNS} FROM carts WHERE customer_id = $1 ORDER BY id", customer_id
    )


async def lines_of(conn: Conn, cart_ids: list[str]) -> list[Row]:
    marks = placeholders(1, len(cart_ids))
    return await conn.fetch(
        "SELECT id, cart_id, sku, quantity, created_at FROM cart_lines"
        f" WHERE cart_id IN ({marks}) ORDER BY cart_id, created_at, id",
        *cart_ids,
    )


async def set_personal_data(
    conn: Conn,
    cart_id: str,
    *,
    email: str | None,
    shipping_address: str | None,
    billing_address: str | None,
) -> None:
    """Overwrite what a cart holds about its shopper (erasure; `updated_at` stays, so an
    erasure is not mistaken for a shopper's change)."""
    await conn.execute(
        "UPDATE carts SET email = $2, shipping_address = $3, billing_address = $4 WHERE id = $1",
        cart_id,
        email,
        shipping_address,
        billing_address,
    )


async def purge_stale(conn: Conn, *, untouched_since: datetime, limit: int) -> int:
    """Delete up to `limit` open carts (and their lines) untouched since then that no
    checkout ever froze; the count deleted. Rows another transaction holds are skipped."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if conn.dialect is Dialect.POSTGRES else ""
    rows = await conn.fetch(
        "SELECT id FROM carts WHERE status = 'open' AND order_id IS NULL"
        " AND checkout_started_at IS NULL AND updated_at < $1"
        f" ORDER BY updated_at LIMIT $2{skip_locked}",
        untouched_since,
        limit,
    )
    ids = [r["id"] for r in rows]
    if not ids:
        return 0
    marks = placeholders(1, len(ids))
    await conn.execute(f"DELETE FROM cart_lines WHERE cart_id IN ({marks})", *ids)
    await conn.execute(f"DELETE FROM carts WHERE id IN ({marks})", *ids)
    return len(ids)
