"""Every SQL statement on the risk tables."""

from __future__ import annotations

from datetime import datetime

from cartwright.kit.db import Conn, Row, Where

DENYLIST_COLUMNS = "id, kind, value, note, created_at"


async def insert_entry(
    conn: Conn, entry_id: str, kind: str, value: str, note: str | None, now: datetime
) -> Row | None:
    """The new entry, or None when (kind, value) is listed already."""
    return await conn.fetchrow(
        "INSERT INTO risk_denylist (id, kind, value, note, created_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, value) DO NOTHING"
        f" RETURNING {DENYLIST_COLUMNS}",
        entry_id,
        kind,
        value,
        note,
        now,
    )


async def entry_of(conn: Conn, kind: str, value: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {DENYLIST_COLUMNS} FROM risk_denylist WHERE kind = $1 AND value = $2",
        kind,
        value,
    )


async def delete_entry(conn: Conn, entry_id: str) -> Row | None:
    return await conn.fetchrow(
        f"DELETE FROM risk_denylist WHERE id = $1 RETURNING {DENYLIST_COLUMNS}", entry_id
    )


async def list_entries(conn: Conn, *, starting_after: str | None, limit: int) -> list[Row]:
    where = Where()
    if starting_after is not None:
        where.add("id > {}", starting_after)
    return await conn.fetch(
        f"SELECT {DENYLIST_COLUMNS} FROM risk_denylist{where.sql()}"
        f" ORDER BY id LIMIT {where.param(limit)}",
        *where.args,
    )


async def all_entries(conn: Conn) -> list[Row]:
    return await conn.fetch("SELECT kind, value FROM risk_denylist")
