from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Dialect, Row, Stmt, placeholders, stmt

CHECKOUT_COLUMNS = (
    "id, cart_id, order_id, payment_id, status, snapshot,"
    " idempotency_owner, idempotency_route, idempotency_key, next_check_at, created_at,"
    " updated_at, trace_context"
)


def insert_checkout_stmt(values: Sequence[object]) -> Stmt:
    return stmt(
        "INSERT INTO checkouts (id, cart_id, order_id, payment_id, status, snapshot,"
        " idempotency_owner, idempotency_route, idempotency_key,"
        " next_check_at, created_at, updated_at, trace_context)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
        *values,
    )


def move_stmt(
    checkout_id: str,
    *,
    from_status: str,
    to_status: str,
    next_check_at: datetime,
    now: datetime,
) -> Stmt:
    """The saga's guard: only one process moves a checkout out of a state (row count 1)."""
    return stmt(
        "UPDATE checkouts SET status = $3, next_check_at = $4, updated_at = $5"
        " WHERE id = $1 AND status = $2",
        checkout_id,
        from_status,
        to_status,
        next_check_at,
        now,
    )


async def get(conn: Conn, checkout_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {CHECKOUT_COLUMNS} FROM checkouts WHERE id = $1", checkout_id
    )


async def get_by_order(conn: Conn, order_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {CHECKOUT_COLUMNS} FROM checkouts WHERE order_id = $1", order_id
    )


async def lease_due(conn: Conn, *, now: datetime, lease_until: datetime, limit: int) -> list[Row]:
    """Take up to `limit` unfinished checkouts due for a look, pushing their next look to
    `lease_until` so other workers skip them meanwhile. (The statuses are written out so
    the planner can use the partial index of unfinished checkouts.)"""
    skip_locked = " FOR UPDATE SKIP LOCKED" if conn.dialect is Dialect.POSTGRES else ""
    return await conn.fetch(
        "UPDATE checkouts SET next_check_at = $2 WHERE id IN (SELECT id FROM checkouts"
        " WHERE status IN ('processing', 'awaiting_payment', 'canceling') AND next_check_at <= $1"
        f" ORDER BY next_check_at LIMIT $3{skip_locked}) RETURNING {CHECKOUT_COLUMNS}",
        now,
        lease_until,
        limit,
    )


async def reschedule(conn: Conn, checkout_id: str, next_check_at: datetime) -> None:
    await conn.execute(
        "UPDATE checkouts SET next_check_at = $2 WHERE id = $1", checkout_id, next_check_at
    )


async def snapshots_of(conn: Conn, cart_ids: Sequence[str]) -> list[Row]:
    return await conn.fetch(
        "SELECT id, order_id, snapshot FROM checkouts"
        f" WHERE cart_id IN ({placeholders(1, len(cart_ids))}) ORDER BY id",
        *cart_ids,
    )


async def set_snapshot(conn: Conn, checkout_id: str, snapshot: str | None) -> None:
    await conn.execute("UPDATE checkouts SET snapshot = $2 WHERE id = $1", checkout_id, snapshot)
