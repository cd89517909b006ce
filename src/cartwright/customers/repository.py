from __future__ import annotations

from datetime import datetime

from cartwright.kit.db import Conn, Row, Where

CUSTOMER_COLUMNS = (
    "id, issuer, subject, email, status, created_at, updated_at, erased_at, customer_group"
)


async def find_by_subject(conn: Conn, issuer: str, subject: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE issuer = $1 AND subject = $2",
        issuer,
        subject,
    )


async def insert_if_new(
    conn: Conn, customer_id: str, issuer: str, subject: str, email: str | None, now: datetime
) -> Row | None:
    """The new customer; None when (issuer, subject) exists already (a concurrent first
    sight made it: the unique constraint decides, one row is made)."""
    return await conn.fetchrow(
        "INSERT INTO customers (id, issuer, subject, email, status, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, 'active', $5, $5)"
        f" ON CONFLICT (issuer, subject) DO NOTHING RETURNING {CUSTOMER_COLUMNS}",
        customer_id,
        issuer,
        subject,
        email,
        now,
    )


async def set_email(conn: Conn, customer_id: str, email: str, now: datetime) -> Row | None:
    return await conn.fetchrow(
        "UPDATE customers SET email = $2, updated_at = $3 WHERE id = $1 AND status = 'active'"
        f" RETURNING {CUSTOMER_COLUMNS}",
        customer_id,
        email,
        now,
    )


async def get(conn: Conn, customer_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1", customer_id
    )


async def list_customers(
    conn: Conn, *, email: str | None, limit: int, starting_after: str | None
) -> list[Row]:
    """Newest first (ids are time-ordered)."""
    where = Where()
    if email is not None:
        where.add("email = {}", email)
    if starting_after is not None:
        where.add("id < {}", starting_after)
    return await conn.fetch(
        f"SELECT {CUSTOMER_COLUMNS} FROM customers{where.sql()}"
        f" ORDER BY id DESC LIMIT {where.param(limit)}",
        *where.args,
    )


async def erase(
    conn: Conn, customer_id: str, *, subject: str, email: str | None, now: datetime
) -> Row | None:
    """Mark the customer erased (once: the first erasure's time stays)."""
    return await conn.fetchrow(
        "UPDATE customers SET subject = $2, email = $3, status = 'erased', updated_at = $4,"
        f" erased_at = COALESCE(erased_at, $4) WHERE id = $1 RETURNING {CUSTOMER_COLUMNS}",
        customer_id,
        subject,
        email,
        now,
    )


async def group_of(conn: Conn, customer_id: str) -> str | None:
    value = await conn.fetchval("SELECT customer_group FROM customers WHERE id = $1", customer_id)
    return None if value is None else str(value)


async def set_group(conn: Conn, customer_id: str, group: str | None, now: datetime) -> Row | None:
    return await conn.fetchrow(
        "UPDATE customers SET customer_group = $2, updated_at = $3 WHERE id = $1"
        f" RETURNING {CUSTOMER_COLUMNS}",
        customer_id,
        group,
        now,
    )
