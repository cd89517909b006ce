from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Row, Stmt, placeholders, stmt

PAYMENT_COLUMNS = (
    "id, order_id, provider, status, currency, amount, amount_authorized, amount_captured,"
    " amount_refunded, capture_method, provider_reference, failure_code, failure_message,"
    " next_action, unknown_since, created_at, updated_at"
)


def insert_payment_stmt(
    *,
    payment_id: str,
    order_id: str,
    provider: str,
    status: str,
    currency: str,
    amount: int,
    capture_method: str,
    now: datetime,
) -> Stmt:
    return stmt(
        "INSERT INTO payments (id, order_id, provider, status, currency, amount,"
        " capture_method, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        payment_id,
        order_id,
        provider,
        status,
        currency,
        amount,
        capture_method,
        now,
    )


def move_stmt(
    payment_id: str,
    *,
    sources: Sequence[str],
    target: str,
    reference: str | None,
    amount_authorized: int | None,
    amount_captured: int | None,
    failure_code: str | None,
    failure_message: str | None,
    next_action: str | None,
    unknown_since: datetime | None,
    now: datetime,
) -> Stmt:
    """Move the payment to `target` only from one of `sources` (the state machine's guard):
    its row count is 0 when the payment is not in one of them."""
    return stmt(
        "UPDATE payments SET status = $2, provider_reference = COALESCE($3, provider_reference),"
        " amount_authorized = COALESCE($4, amount_authorized),"
        " amount_captured = COALESCE($5, amount_captured), failure_code = $6,"
        " failure_message = $7, next_action = $8, unknown_since = $9, updated_at = $10"
        f" WHERE id = $1 AND status IN ({placeholders(11, len(sources))})",
        payment_id,
        target,
        reference,
        amount_authorized,
        amount_captured,
        failure_code,
        failure_message,
        next_action,
        unknown_since,
        now,
        *sources,
    )


async def get(conn: Conn, payment_id: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1", payment_id)


async def for_order(conn: Conn, order_id: str) -> list[Row]:
    return await conn.fetch(
        f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1 ORDER BY created_at",
        order_id,
    )


async def unknown_summary(conn: Conn) -> tuple[int, datetime | None]:
    """How many payments have an unknown result, and since when the oldest has."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, min(unknown_since) AS oldest FROM payments WHERE status = 'unknown'"
    )
    assert row is not None
    return int(row["n"]), row["oldest"]
