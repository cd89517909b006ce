from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Row, Stmt, stmt


async def insert_claim(
    conn: Conn, owner: str, route: str, key: str, request_hash: str, now: datetime
) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO idempotency_keys (owner, route, key, request_hash, status, created_at)"
        " VALUES ($1, $2, $3, $4, 'in_progress', $5)"
        " ON CONFLICT (owner, route, key) DO NOTHING RETURNING 1",
        owner,
        route,
        key,
        request_hash,
        now,
    )
    return inserted is not None


def insert_claim_stmt(owner: str, route: str, key: str, request_hash: str, now: datetime) -> Stmt:
    return stmt(
        "INSERT INTO idempotency_keys (owner, route, key, request_hash, status, created_at)"
        " VALUES ($1, $2, $3, $4, 'in_progress', $5)"
        " ON CONFLICT (owner, route, key) DO NOTHING",
        owner,
        route,
        key,
        request_hash,
        now,
    )


async def delete_expired_key(
    conn: Conn, owner: str, route: str, key: str, expired_before: datetime
) -> None:
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE owner = $1 AND route = $2 AND key = $3"
        " AND created_at < $4",
        owner,
        route,
        key,
        expired_before,
    )


async def get(conn: Conn, owner: str, route: str, key: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT request_hash, status, response_status, response_body, created_at"
        " FROM idempotency_keys WHERE owner = $1 AND route = $2 AND key = $3",
        owner,
        route,
        key,
    )


def complete_stmt(owner: str, route: str, key: str, status: int, body: str, now: datetime) -> Stmt:
    return stmt(
        "UPDATE idempotency_keys SET status = 'done', response_status = $4,"
        " response_body = $5, completed_at = $6 WHERE owner = $1 AND route = $2 AND key = $3",
        owner,
        route,
        key,
        status,
        body,
        now,
    )


async def insert_completed(
    conn: Conn,
    owner: str,
    route: str,
    key: str,
    request_hash: str,
    status: int,
    body: str,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (owner, route, key, request_hash, status,"
        " response_status, response_body, created_at, completed_at)"
        " VALUES ($1, $2, $3, $4, 'done', $5, $6, $7, $7)"
        " ON CONFLICT (owner, route, key) DO NOTHING",
        owner,
        route,
        key,
        request_hash,
        status,
        body,
        now,
    )


async def delete_claim(conn: Conn, owner: str, route: str, key: str) -> None:
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE owner = $1 AND route = $2 AND key = $3"
        " AND status = 'in_progress'",
        owner,
        route,
        key,
    )


async def delete_expired(conn: Conn, expired_before: datetime) -> int:
    return await conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < $1 AND status = 'done'", expired_before
    )


async def answers_mentioning(conn: Conn, needles: Sequence[str]) -> list[Row]:
    """Stored answers whose route or body contains any of `needles` (a superset: LIKE's
    `_` matches any character; the caller checks)."""
    conditions = " OR ".join(
        f"route LIKE ${i} OR response_body LIKE ${i}" for i in range(1, len(needles) + 1)
    )
    return await conn.fetch(
        "SELECT owner, route, key, response_body FROM idempotency_keys"
        f" WHERE response_body IS NOT NULL AND ({conditions})",
        *(f"%{n}%" for n in needles),
    )


async def set_answer_body(conn: Conn, owner: str, route: str, key: str, body: str) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET response_body = $4"
        " WHERE owner = $1 AND route = $2 AND key = $3",
        owner,
        route,
        key,
        body,
    )
