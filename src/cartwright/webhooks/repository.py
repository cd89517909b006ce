"""Every SQL statement on the webhooks' tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Dialect, Row, Stmt, Where, placeholders, stmt

ENDPOINT_COLUMNS = (
    "id, url, events, status, description, consecutive_failures, failing_since,"
    " disabled_reason, created_at, updated_at"
)
DELIVERY_COLUMNS = (
    "id, endpoint_id, event_id, event_type, generation, status, attempts, next_attempt_at,"
    " leased_until, lease_owner, last_status_code, last_error, created_at, updated_at"
)

# ------------------------------------------------------------------------------ endpoints


def insert_endpoint_stmt(
    endpoint_id: str, url: str, events: str, description: str | None, now: datetime
) -> Stmt:
    return stmt(
        "INSERT INTO webhook_endpoints (id, url, events, status, description,"
        " consecutive_failures, created_at, updated_at)"
        " VALUES ($1, $2, $3, 'enabled', $4, 0, $5, $5)",
        endpoint_id,
        url,
        events,
        description,
        now,
    )


async def endpoint(conn: Conn, endpoint_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1", endpoint_id
    )


async def list_endpoints(conn: Conn, *, starting_after: str | None, limit: int) -> list[Row]:
    where = Where()
    if starting_after is not None:
        where.add("id > {}", starting_after)
    return await conn.fetch(
        f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints{where.sql()}"
        f" ORDER BY id LIMIT {where.param(limit)}",
        *where.args,
    )


async def update_endpoint(
    conn: Conn,
    endpoint_id: str,
    *,
    url: str,
    events: str,
    description: str | None,
    status: str,
    disabled_reason: str | None,
    reset_failures: bool,
    now: datetime,
) -> int:
    reset = ", consecutive_failures = 0, failing_since = NULL" if reset_failures else ""
    return await conn.execute(
        "UPDATE webhook_endpoints SET url = $2, events = $3, description = $4, status = $5,"
        f" disabled_reason = $6, updated_at = $7{reset} WHERE id = $1",
        endpoint_id,
        url,
        events,
        description,
        status,
        disabled_reason,
        now,
    )


async def delete_endpoint(conn: Conn, endpoint_id: str) -> int:
    await conn.execute(
        "DELETE FROM webhook_attempts WHERE delivery_id IN"
        " (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
        endpoint_id,
    )
    await conn.execute("DELETE FROM webhook_deliveries WHERE endpoint_id = $1", endpoint_id)
    await conn.execute("DELETE FROM webhook_secrets WHERE endpoint_id = $1", endpoint_id)
    return await conn.execute("DELETE FROM webhook_endpoints WHERE id = $1", endpoint_id)


async def enabled_endpoints(conn: Conn) -> list[Row]:
    return await conn.fetch(
        "SELECT id, events, created_at FROM webhook_endpoints WHERE status = 'enabled' ORDER BY id"
    )


async def count_disabled(conn: Conn) -> int:
    return int(
        await conn.fetchval("SELECT count(*) FROM webhook_endpoints WHERE status = 'disabled'")
    )


async def endpoint_succeeded(conn: Conn, endpoint_id: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL"
        " WHERE id = $1 AND (consecutive_failures <> 0 OR failing_since IS NOT NULL)",
        endpoint_id,
    )


async def endpoint_failed(conn: Conn, endpoint_id: str, now: datetime) -> Row | None:
    """One more failed attempt; the endpoint's counters after it."""
    await conn.execute(
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1,"
        " failing_since = COALESCE(failing_since, $2) WHERE id = $1",
        endpoint_id,
        now,
    )
    return await conn.fetchrow(
        "SELECT status, consecutive_failures, failing_since FROM webhook_endpoints WHERE id = $1",
        endpoint_id,
    )


async def disable(conn: Conn, endpoint_id: str, reason: str, now: datetime) -> int:
    """enabled → disabled (guarded: only one process disables it)."""
    return await conn.execute(
        "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2,"
        " updated_at = $3 WHERE id = $1 AND status = 'enabled'",
        endpoint_id,
        reason,
        now,
    )


# -------------------------------------------------------------------------------- secrets


def insert_secret_stmt(
    secret_id: str, endpoint_id: str, sealed: str, now: datetime, expires_at: datetime | None
) -> Stmt:
    return stmt(
        "INSERT INTO webhook_secrets (id, endpoint_id, sealed, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        secret_id,
        endpoint_id,
        sealed,
        now,
        expires_at,
    )


async def live_secrets(conn: Conn, endpoint_id: str, now: datetime) -> list[Row]:
    """The secrets that sign now, newest first."""
    return await conn.fetch(
        "SELECT id, sealed, created_at, expires_at FROM webhook_secrets"
        " WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2)"
        " ORDER BY created_at DESC, id DESC",
        endpoint_id,
        now,
    )


async def expire_secrets(conn: Conn, endpoint_id: str, at: datetime) -> int:
    """Every secret of the endpoint that would sign past `at` stops at `at`."""
    return await conn.execute(
        "UPDATE webhook_secrets SET expires_at = $2"
        " WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
        endpoint_id,
        at,
    )


async def drop_expired_secrets(conn: Conn, endpoint_id: str, now: datetime) -> int:
    return await conn.execute(
        "DELETE FROM webhook_secrets WHERE endpoint_id = $1 AND expires_at <= $2",
        endpoint_id,
        now,
    )


# --------------------------------------------------------------------------- dispatching


async def cursor(conn: Conn, name: str) -> tuple[int, int] | None:
    """(last_txid, last_seq) of the dispatcher, None before its first pass."""
    row = await conn.fetchrow(
        "SELECT last_txid, last_seq FROM webhook_dispatch_cursors WHERE name = $1", name
    )
    return None if row is None else (int(row["last_txid"]), int(row["last_seq"]))


async def create_cursor(conn: Conn, name: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO webhook_dispatch_cursors (name, last_txid, last_seq, updated_at)"
        " VALUES ($1, 0, 0, $2) ON CONFLICT (name) DO NOTHING",
        name,
        now,
    )


async def advance_cursor(
    conn: Conn, name: str, old: tuple[int, int], new: tuple[int, int], now: datetime
) -> int:
    """Guarded: another dispatcher that moved the cursor first wins."""
    return await conn.execute(
        "UPDATE webhook_dispatch_cursors SET last_txid = $4, last_seq = $5, updated_at = $6"
        " WHERE name = $1 AND last_txid = $2 AND last_seq = $3",
        name,
        old[0],
        old[1],
        new[0],
        new[1],
        now,
    )


async def insert_deliveries(
    conn: Conn, rows: Sequence[tuple[str, str, str, str, int, datetime]]
) -> int:
    """New pending deliveries (id, endpoint, event id, event type, generation, due);
    one that exists already for (endpoint, event, generation) is left as it is."""
    if not rows:
        return 0
    values = ", ".join(
        f"({placeholders(i * 6 + 1, 6)}, 'pending', 0, ${i * 6 + 6}, ${i * 6 + 6})"
        for i in range(len(rows))
    )
    return await conn.execute(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, generation,"
        " next_attempt_at, status, attempts, created_at, updated_at)"
        f" VALUES {values}"
        " ON CONFLICT (endpoint_id, event_id, generation) DO NOTHING",
        *(value for row in rows for value in row),
    )


async def last_generations(
    conn: Conn, endpoint_id: str, event_ids: Sequence[str]
) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT event_id, max(generation) AS generation FROM webhook_deliveries"
        f" WHERE endpoint_id = $1 AND event_id IN ({placeholders(2, len(event_ids))})"
        " GROUP BY event_id",
        endpoint_id,
        *event_ids,
    )
    return {r["event_id"]: int(r["generation"]) for r in rows}


# ------------------------------------------------------------------------------ sending


async def lease_due(
    conn: Conn,
    *,
    now: datetime,
    until: datetime,
    owner: str,
    per_endpoint: int,
    limit: int,
    skip_endpoints: Sequence[str],
) -> list[Row]:
    """Lease due pending deliveries of enabled endpoints: at most `per_endpoint` of each
    endpoint, `limit` in all, none of `skip_endpoints` (busy in this process). On
    PostgreSQL rows another sender is leasing are skipped (SKIP LOCKED); on SQLite the
    transaction's write lock makes leases one at a time."""
    skip = ""
    if skip_endpoints:
        skip = f" AND d.endpoint_id NOT IN ({placeholders(6, len(skip_endpoints))})"
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect is Dialect.POSTGRES else ""
    return await conn.fetch(
        "WITH ranked AS ("
        " SELECT d.id, d.next_attempt_at, ROW_NUMBER() OVER"
        " (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS n"
        " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
        " WHERE d.status IN ('pending', 'failed') AND e.status = 'enabled'"
        " AND d.next_attempt_at <= $1"
        f" AND (d.leased_until IS NULL OR d.leased_until < $1){skip}"
        "), chosen AS ("
        " SELECT id FROM webhook_deliveries WHERE id IN"
        " (SELECT id FROM ranked WHERE n <= $4 ORDER BY next_attempt_at, id LIMIT $5)"
        " AND status IN ('pending', 'failed') AND (leased_until IS NULL OR leased_until < $1)"
        f"{lock}"
        ")"
        " UPDATE webhook_deliveries SET leased_until = $2, lease_owner = $3"
        " WHERE id IN (SELECT id FROM chosen)"
        f" RETURNING {DELIVERY_COLUMNS}",
        now,
        until,
        owner,
        per_endpoint,
        limit,
        *skip_endpoints,
    )


async def release(conn: Conn, delivery_id: str, owner: str) -> None:
    await conn.execute(
        "UPDATE webhook_deliveries SET leased_until = NULL, lease_owner = NULL"
        " WHERE id = $1 AND lease_owner = $2",
        delivery_id,
        owner,
    )


def insert_attempt_stmt(
    attempt_id: str,
    delivery_id: str,
    at: datetime,
    status_code: int | None,
    duration_ms: int,
    error: str | None,
    excerpt: str | None,
) -> Stmt:
    return stmt(
        "INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code,"
        " duration_ms, error, response_excerpt) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        attempt_id,
        delivery_id,
        at,
        status_code,
        duration_ms,
        error,
        excerpt,
    )


async def finish_attempt(
    conn: Conn,
    delivery_id: str,
    owner: str,
    *,
    status: str,
    next_attempt_at: datetime | None,
    status_code: int | None,
    error: str | None,
    now: datetime,
) -> int:
    """Guarded by the lease: a sender whose lease ran out and was taken over changes
    nothing (its attempt is still recorded: it happened)."""
    return await conn.execute(
        "UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1,"
        " next_attempt_at = $4, last_status_code = $5, last_error = $6, updated_at = $7,"
        " leased_until = NULL, lease_owner = NULL"
        " WHERE id = $1 AND lease_owner = $2 AND status IN ('pending', 'failed')",
        delivery_id,
        owner,
        status,
        next_attempt_at,
        status_code,
        error,
        now,
    )


async def any_due(conn: Conn, now: datetime) -> bool:
    """Whether a pending delivery is due (a cheap look before a pass takes a lease)."""
    row = await conn.fetchrow(
        "SELECT 1 AS due FROM webhook_deliveries WHERE status IN ('pending', 'failed')"
        " AND next_attempt_at <= $1 AND (leased_until IS NULL OR leased_until < $1) LIMIT 1",
        now,
    )
    return row is not None


async def count_pending(conn: Conn) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending', 'failed')"
        )
    )


# ---------------------------------------------------------------------------- reading


async def delivery(conn: Conn, delivery_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1", delivery_id
    )


async def deliveries_of(
    conn: Conn, endpoint_id: str, *, starting_after: str | None, limit: int
) -> list[Row]:
    """Newest first."""
    where = Where()
    where.add("endpoint_id = {}", endpoint_id)
    if starting_after is not None:
        where.add("id < {}", starting_after)
    return await conn.fetch(
        f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries{where.sql()}"
        f" ORDER BY id DESC LIMIT {where.param(limit)}",
        *where.args,
    )


async def attempts_of(conn: Conn, delivery_id: str) -> list[Row]:
    return await conn.fetch(
        "SELECT id, attempted_at, status_code, duration_ms, error, response_excerpt"
        " FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempted_at, id",
        delivery_id,
    )


async def purge_finished(conn: Conn, before: datetime, limit: int) -> int:
    """Delete up to `limit` deliveries finished (succeeded or abandoned) before `before`,
    with their attempts; how many deliveries went."""
    rows = await conn.fetch(
        "SELECT id FROM webhook_deliveries WHERE status IN ('succeeded', 'abandoned')"
        " AND updated_at < $1 LIMIT $2",
        before,
        limit,
    )
    if not rows:
        return 0
    gone = [r["id"] for r in rows]
    await conn.execute(
        f"DELETE FROM webhook_attempts WHERE delivery_id IN ({placeholders(1, len(gone))})",
        *gone,
    )
    return await conn.execute(
        f"DELETE FROM webhook_deliveries WHERE id IN ({placeholders(1, len(gone))})", *gone
    )
