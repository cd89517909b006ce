from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from cartwright.kit.db import Conn, Row, placeholders


async def queue(
    conn: Conn,
    notification_id: str,
    event_id: str,
    kind: str,
    order_id: str,
    recipient: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO notifications (id, event_id, kind, order_id, recipient, payload, status,"
        " attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7)"
        " ON CONFLICT (event_id) DO NOTHING",
        notification_id,
        event_id,
        kind,
        order_id,
        recipient,
        orjson.dumps(payload).decode(),
        now,
    )


async def queued(conn: Conn, limit: int) -> list[Row]:
    return await conn.fetch(
        "SELECT id, kind, order_id, recipient, payload, attempts FROM notifications"
        " WHERE status = 'queued' ORDER BY created_at, id LIMIT $1",
        limit,
    )


async def finish(conn: Conn, notification_id: str, status: str, now: datetime) -> int:
    """Settle a queued notification (`sent` or `failed`, or `queued` again with one more
    attempt); only a queued one moves, so two senders cannot both settle it."""
    return await conn.execute(
        "UPDATE notifications SET status = $2, attempts = attempts + 1, updated_at = $3,"
        " sent_at = CASE WHEN $4 THEN $3 ELSE sent_at END"
        " WHERE id = $1 AND status = 'queued'",
        notification_id,
        status,
        now,
        status == "sent",
    )


async def of_orders(conn: Conn, order_ids: Sequence[str]) -> list[Row]:
    if not order_ids:
        return []
    return await conn.fetch(
        "SELECT id, event_id, kind, order_id, recipient, status, attempts, sent_at, created_at"
        f" FROM notifications WHERE order_id IN ({placeholders(1, len(order_ids))})"
        " ORDER BY created_at, id",
        *order_ids,
    )


async def erase_recipients(conn: Conn, order_ids: Sequence[str], now: datetime) -> int:
    if not order_ids:
        return 0
    n = len(order_ids)
    return await conn.execute(
        f"UPDATE notifications SET recipient = NULL, payload = '{{}}', updated_at = ${n + 1}"
        f" WHERE order_id IN ({placeholders(1, n)})",
        *order_ids,
        now,
    )


async def record_alert(
    conn: Conn,
    alert_id: str,
    event_id: str,
    sku: str,
    available: int,
    threshold: int,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO low_stock_alerts (id, event_id, sku, available, threshold, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
        alert_id,
        event_id,
        sku,
        available,
        threshold,
        now,
    )


ALERT_COLUMNS = "id, sku, available, threshold, acknowledged_at, acknowledged_by, created_at"


async def alerts(
    conn: Conn, *, open_only: bool, starting_after: str | None, limit: int
) -> list[Row]:
    where = ["1 = 1"]
    args: list[Any] = []
    if open_only:
        where.append("acknowledged_at IS NULL")
    if starting_after is not None:
        args.append(starting_after)
        where.append(f"id < ${len(args)}")
    args.append(limit)
    return await conn.fetch(
        f"SELECT {ALERT_COLUMNS} FROM low_stock_alerts WHERE {' AND '.join(where)}"
        f" ORDER BY id DESC LIMIT ${len(args)}",
        *args,
    )


async def alert(conn: Conn, alert_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {ALERT_COLUMNS} FROM low_stock_alerts WHERE id = $1", alert_id
    )


async def acknowledge(conn: Conn, alert_id: str, by: str | None, now: datetime) -> int:
    return await conn.execute(
        "UPDATE low_stock_alerts SET acknowledged_at = $2, acknowledged_by = $3"
        " WHERE id = $1 AND acknowledged_at IS NULL",
        alert_id,
        now,
        by,
    )
