from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Dialect, Row, Stmt, Where, insert_rows_stmt, placeholders


def insert_events_stmt(rows: Sequence[tuple[str, str, str, str, datetime]]) -> Stmt:
    return insert_rows_stmt("events (id, type, aggregate_id, data, created_at)", rows)


async def seq_of(conn: Conn, event_id: str) -> int | None:
    value = await conn.fetchval("SELECT seq FROM events WHERE id = $1", event_id)
    return None if value is None else int(value)


async def position_of(conn: Conn, event_id: str) -> tuple[int, int] | None:
    """(txid, seq) of an event: its place in the feed (txid 0 on SQLite)."""
    row = await conn.fetchrow("SELECT txid, seq FROM events WHERE id = $1", event_id)
    return None if row is None else (int(row["txid"] or 0), int(row["seq"]))


FEED_COLUMNS = "seq, txid, id, type, aggregate_id, data, created_at"


async def feed(
    conn: Conn, *, after: tuple[int, int], types: Sequence[str] | None, limit: int
) -> list[Row]:
    """Events after `after` in feed order. PostgreSQL: only rows whose writing transaction is
    older than every transaction still open (`pg_snapshot_xmin`), ordered by (txid, seq); a
    transaction that commits later has a higher txid than anything served, so nothing is
    passed. SQLite: one writer at a time, so seq is commit order."""
    args: list[object] = []

    def param(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if conn.dialect is Dialect.POSTGRES:
        clauses = [
            f"(txid, seq) > ({param(after[0])}, {param(after[1])})",
            "txid < (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint",
        ]
        order = "txid, seq"
    else:
        clauses, order = [f"seq > {param(after[1])}"], "seq"
    if types:
        clauses.append(f"type IN ({', '.join(param(t) for t in types)})")
    return await conn.fetch(
        f"SELECT {FEED_COLUMNS} FROM events WHERE {' AND '.join(clauses)}"
        f" ORDER BY {order} LIMIT {param(limit)}",
        *args,
    )


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
        "SELECT seq, id, type, aggregate_id, data, created_at FROM events"
        f"{where.sql()} ORDER BY seq LIMIT {where.param(limit)}",
        *where.args,
    )


async def about(conn: Conn, aggregate_ids: Sequence[str]) -> list[Row]:
    return await conn.fetch(
        "SELECT seq, id, type, aggregate_id, data, created_at FROM events"
        f" WHERE aggregate_id IN ({placeholders(1, len(aggregate_ids))}) ORDER BY seq",
        *aggregate_ids,
    )


async def set_data(conn: Conn, seq: int, data: str) -> None:
    await conn.execute("UPDATE events SET data = $2 WHERE seq = $1", seq, data)


# Readers for the outgoing webhooks (replays: by id and by time).
async def by_ids(conn: Conn, event_ids: Sequence[str]) -> list[Row]:
    return await conn.fetch(
        "SELECT seq, id, type, aggregate_id, data, created_at FROM events"
        f" WHERE id IN ({placeholders(1, len(event_ids))})",
        *event_ids,
    )


async def created_between(
    conn: Conn, start: datetime, end: datetime, seq: int, limit: int
) -> list[Row]:
    return await conn.fetch(
        "SELECT seq, id, type, aggregate_id, data, created_at FROM events"
        " WHERE created_at >= $1 AND created_at < $2 AND seq > $3 ORDER BY seq LIMIT $4",
        start,
        end,
        seq,
        limit,
    )


async def take_lease(
    conn: Conn, name: str, holder: str, now: datetime, until: datetime
) -> tuple[int, int] | None:
    """Take (or keep) relay partition `name` for `holder` until `until`, if it is free, has
    expired or is already ours; its cursor when taken, None when another holder has it."""
    await conn.execute(
        "INSERT INTO event_relay_leases (name, cursor_txid, cursor_seq, updated_at)"
        " VALUES ($1, 0, 0, $2) ON CONFLICT (name) DO NOTHING",
        name,
        now,
    )
    row = await conn.fetchrow(
        "UPDATE event_relay_leases SET holder = $2, lease_until = $4, updated_at = $3"
        " WHERE name = $1 AND (holder IS NULL OR holder = $2 OR lease_until < $3)"
        " RETURNING cursor_txid, cursor_seq",
        name,
        holder,
        now,
        until,
    )
    return None if row is None else (int(row["cursor_txid"]), int(row["cursor_seq"]))


async def advance(
    conn: Conn, name: str, holder: str, cursor: tuple[int, int], seqs: Sequence[int], now: datetime
) -> bool:
    """Move partition `name`'s cursor to `cursor` and mark `seqs` published, if `holder`
    still holds it (a relay that lost its lease moves nothing)."""
    moved = await conn.execute(
        "UPDATE event_relay_leases SET cursor_txid = $3, cursor_seq = $4, updated_at = $5"
        " WHERE name = $1 AND holder = $2",
        name,
        holder,
        cursor[0],
        cursor[1],
        now,
    )
    if moved != 1:
        return False
    if seqs:
        await conn.execute(
            f"UPDATE events SET published_at = $1 WHERE seq IN ({placeholders(2, len(seqs))})",
            now,
            *seqs,
        )
    return True


async def backlog(conn: Conn, after: tuple[int, int]) -> tuple[int, datetime | None]:
    """(how many, the oldest created_at) of events past a relay cursor."""
    if conn.dialect is Dialect.POSTGRES:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, min(created_at) AS oldest FROM events"
            " WHERE (txid, seq) > ($1, $2)",
            after[0],
            after[1],
        )
    else:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, min(created_at) AS oldest FROM events WHERE seq > $1",
            after[1],
        )
    assert row is not None
    oldest = row["oldest"]
    if isinstance(oldest, str):  # SQLite's min() loses the column's declared type
        oldest = datetime.fromisoformat(oldest)
    return int(row["n"]), oldest


async def relay_cursor(conn: Conn, name: str) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT cursor_txid, cursor_seq FROM event_relay_leases WHERE name = $1", name
    )
    return (0, 0) if row is None else (int(row["cursor_txid"]), int(row["cursor_seq"]))


async def claim_inbox(conn: Conn, consumer: str, event_id: str, now: datetime) -> bool:
    """Record that `consumer` handles `event_id`; False when it already did (or is doing so
    in a transaction that commits first: the insert waits for it, then does nothing)."""
    count = await conn.execute(
        "INSERT INTO event_inbox (consumer, event_id, handled_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (consumer, event_id) DO NOTHING",
        consumer,
        event_id,
        now,
    )
    return count == 1


async def count_order_placed(conn: Conn, customer_id: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO customer_order_counts (customer_id, orders_placed, updated_at)"
        " VALUES ($1, 1, $2) ON CONFLICT (customer_id) DO UPDATE"
        " SET orders_placed = customer_order_counts.orders_placed + 1, updated_at = $2",
        customer_id,
        now,
    )


async def orders_placed(conn: Conn, customer_id: str) -> int:
    value = await conn.fetchval(
        "SELECT orders_placed FROM customer_order_counts WHERE customer_id = $1", customer_id
    )
    return 0 if value is None else int(value)


async def take_consumer(
    conn: Conn, name: str, holder: str, now: datetime, until: datetime
) -> tuple[int, int] | None:
    """Take (or keep) consumer `name` for `holder` until `until` if it is free, expired or
    ours; its cursor, or None when another holder has it. A consumer seen for the first
    time starts at the end of the feed (it is not fed the platform's whole history)."""
    head = await conn.fetchrow(
        "SELECT COALESCE(txid, 0) AS txid, seq FROM events ORDER BY txid DESC, seq DESC LIMIT 1"
        if conn.dialect is Dialect.POSTGRES
        else "SELECT 0 AS txid, seq FROM events ORDER BY seq DESC LIMIT 1"
    )
    await conn.execute(
        "INSERT INTO event_consumers (name, cursor_txid, cursor_seq, updated_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        name,
        int(head["txid"]) if head else 0,
        int(head["seq"]) if head else 0,
        now,
    )
    row = await conn.fetchrow(
        "UPDATE event_consumers SET holder = $2, lease_until = $4, updated_at = $3"
        " WHERE name = $1 AND (holder IS NULL OR holder = $2 OR lease_until < $3)"
        " RETURNING cursor_txid, cursor_seq",
        name,
        holder,
        now,
        until,
    )
    return None if row is None else (int(row["cursor_txid"]), int(row["cursor_seq"]))


async def move_consumer(
    conn: Conn, name: str, holder: str, cursor: tuple[int, int], now: datetime
) -> bool:
    """Move consumer `name`'s cursor, if `holder` still holds it."""
    moved = await conn.execute(
        "UPDATE event_consumers SET cursor_txid = $3, cursor_seq = $4, updated_at = $5"
        " WHERE name = $1 AND holder = $2",
        name,
        holder,
        cursor[0],
        cursor[1],
        now,
    )
    return moved == 1


async def consumer_lag(conn: Conn, name: str, types: Sequence[str]) -> int:
    """Events of `types` past consumer `name`'s cursor (0 for a consumer never run)."""
    row = await conn.fetchrow(
        "SELECT cursor_txid, cursor_seq FROM event_consumers WHERE name = $1", name
    )
    if row is None:
        return 0
    where = f"type IN ({placeholders(1, len(types))})"
    if conn.dialect is Dialect.POSTGRES:
        n = len(types)
        sql = (
            f"SELECT count(*) AS n FROM events WHERE {where} AND (txid, seq) > (${n + 1}, ${n + 2})"
        )
        args = [*types, int(row["cursor_txid"]), int(row["cursor_seq"])]
    else:
        sql = f"SELECT count(*) AS n FROM events WHERE {where} AND seq > ${len(types) + 1}"
        args = [*types, int(row["cursor_seq"])]
    found = await conn.fetchrow(sql, *args)
    return 0 if found is None else int(found["n"])


async def park(
    conn: Conn,
    consumer: str,
    event_id: str,
    event_type: str,
    attempts: int,
    error: str,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO event_parked (consumer, event_id, event_type, attempts, error, parked_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (consumer, event_id) DO NOTHING",
        consumer,
        event_id,
        event_type,
        attempts,
        error[:500],
        now,
    )


async def parked(conn: Conn, consumer: str) -> list[Row]:
    return await conn.fetch(
        "SELECT consumer, event_id, event_type, attempts, error, parked_at FROM event_parked"
        " WHERE consumer = $1 ORDER BY parked_at, event_id",
        consumer,
    )
