from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Row, Stmt, Where, insert_rows_stmt, placeholders


def insert_events_stmt(rows: Sequence[tuple[str, str, str, str, datetime]]) -> Stmt:
    return insert_rows_stmt("events (id, type, aggregate_id, data, created_at)", rows)


async def seq_of(conn: Conn, event_id: str) -> int | None:
    value = await conn.fetchval("SELECT seq FROM events WHERE id = $1", event_id)
    return None if value is None else int(value)


async def list_events(
    conn: Conn, *, after_seq: int, event_type: str | None, aggregate_id: str | None, limit: int
) -> list[Row]:
    where = Where()
    where.add("seq > {}", after_seq)
    if event_type is not None:
        where.add("type = {}", event_type)
    if aggregate_id is not None:
        where.add("aggregate_id = {}", aggregate_id)
    return await conn.fetch(
        "SELECT seq, id, type, data, created_at FROM events"
        f"{where.sql()} ORDER BY seq LIMIT {where.param(limit)}",
        *where.args,
    )


async def about(conn: Conn, aggregate_ids: Sequence[str]) -> list[Row]:
    return await conn.fetch(
        "SELECT seq, id, type, data, created_at FROM events"
        f" WHERE aggregate_id IN ({placeholders(1, len(aggregate_ids))}) ORDER BY seq",
        *aggregate_ids,
    )


async def set_data(conn: Conn, seq: int, data: str) -> None:
    await conn.execute("UPDATE events SET data = $2 WHERE seq = $1", seq, data)


# Readers for the outgoing webhooks' dispatcher (until the commit-ordered feed replaces it).
async def after_seq(conn: Conn, seq: int, limit: int) -> list[Row]:
    return await conn.fetch(
        "SELECT seq, id, type, data, created_at FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        seq,
        limit,
    )


async def by_ids(conn: Conn, event_ids: Sequence[str]) -> list[Row]:
    return await conn.fetch(
        "SELECT seq, id, type, data, created_at FROM events"
        f" WHERE id IN ({placeholders(1, len(event_ids))})",
        *event_ids,
    )


async def created_between(
    conn: Conn, start: datetime, end: datetime, seq: int, limit: int
) -> list[Row]:
    return await conn.fetch(
        "SELECT seq, id, type, data, created_at FROM events"
        " WHERE created_at >= $1 AND created_at < $2 AND seq > $3 ORDER BY seq LIMIT $4",
        start,
        end,
        seq,
        limit,
    )
