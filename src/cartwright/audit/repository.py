from __future__ import annotations

from datetime import datetime
from typing import Any

from cartwright.kit.db import Conn, Dialect, Row, Stmt, stmt

_COLUMNS = (
    "id, seq, action, actor_key_id, request_id, client_address, target_type, target_id,"
    " changes, created_at, prev_hash, hash"
)

# PostgreSQL: the BEFORE INSERT trigger `audit_events_chain` (migration 0009) takes the
# chain's advisory lock, numbers the row after the last one and turns the row digest passed
# in `hash` into the chained hash. One INSERT, so it also fits an atomic batch.
_INSERT_PG = (
    f"INSERT INTO audit_events ({_COLUMNS})"
    " VALUES ($1, 0, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10)"
)
# SQLite: the transaction's write lock (BEGIN IMMEDIATE) already serialises writers, so the
# row reads the last one and chains itself (`sha256_hex` is registered by kit.db).
_INSERT_SQLITE = (
    f"INSERT INTO audit_events ({_COLUMNS})"
    " SELECT $1, COALESCE(last.seq, 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, last.hash,"
    " sha256_hex(COALESCE(last.hash, '') || '|' || (COALESCE(last.seq, 0) + 1) || '|' || $10)"
    " FROM (SELECT 1) AS one"
    " LEFT JOIN (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS last ON 1 = 1"
)


def insert_stmt(
    dialect: Dialect,
    *,
    event_id: str,
    action: str,
    actor_key_id: str,
    request_id: str | None,
    client_address: str | None,
    target_type: str,
    target_id: str,
    changes_json: str,
    created_at: datetime,
    digest: str,
) -> Stmt:
    sql = _INSERT_PG if dialect is Dialect.POSTGRES else _INSERT_SQLITE
    return stmt(
        sql,
        event_id,
        action,
        actor_key_id,
        request_id,
        client_address,
        target_type,
        target_id,
        changes_json,
        created_at,
        digest,
    )


async def list_events(
    conn: Conn,
    *,
    limit: int,
    starting_after: str | None,
    filters: dict[str, str],
) -> list[Row]:
    """Newest first (by `seq`); `filters` maps column names (fixed by the caller) to values."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in filters.items():
        args.append(value)
        where.append(f"{column} = ${len(args)}")
    if starting_after is not None:
        args.append(starting_after)
        where.append(f"seq < (SELECT seq FROM audit_events WHERE id = ${len(args)})")
    args.append(limit)
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM audit_events{condition} ORDER BY seq DESC LIMIT ${len(args)}",
        *args,
    )


async def rows_after(conn: Conn, seq: int, limit: int) -> list[Row]:
    """The chain in order, from the row after `seq`."""
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2", seq, limit
    )
