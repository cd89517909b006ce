"""Every SQL statement on `feature_flags`."""

from __future__ import annotations

from datetime import datetime

from cartwright.kit.db import Conn, Dialect, Row

COLUMNS = "key, enabled, description, updated_at, updated_by"


async def all_flags(conn: Conn) -> list[Row]:
    """Every row: the refresh's one query (the table holds a row per flag set, a dozen)."""
    return await conn.fetch(f"SELECT {COLUMNS} FROM feature_flags")


async def ensure_row(
    conn: Conn, flag_id: str, key: str, default: bool, description: str, now: datetime
) -> None:
    """A row holding the default when the flag has none yet (so it can be locked)."""
    await conn.execute(
        "INSERT INTO feature_flags (id, key, enabled, description, updated_at, updated_by)"
        " VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (key) DO NOTHING",
        flag_id,
        key,
        default,
        description,
        now,
    )


async def locked(conn: Conn, key: str) -> Row | None:
    """The flag's row, locked until the transaction ends (PostgreSQL; SQLite's write
    transaction already holds the database)."""
    lock = " FOR UPDATE" if conn.dialect is Dialect.POSTGRES else ""
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM feature_flags WHERE key = $1{lock}", key)


async def update(
    conn: Conn,
    key: str,
    *,
    enabled: bool,
    description: str,
    now: datetime,
    updated_by: str | None,
) -> None:
    await conn.execute(
        "UPDATE feature_flags SET enabled = $2, description = $3, updated_at = $4,"
        " updated_by = $5 WHERE key = $1",
        key,
        enabled,
        description,
        now,
        updated_by,
    )
