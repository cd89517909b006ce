"""The dispatcher (a worker job): fans the outbox's events out into deliveries.

It reads the events after its cursor (one row per dispatcher in `webhook_dispatch_cursors`)
and, in the same transaction, writes one pending delivery per event and enabled endpoint
subscribed to its type, and moves the cursor. A delivery is unique per (endpoint, event,
generation), and the cursor moves only from the value read (a guarded update), so two
dispatchers running at once write each delivery once: the second's transaction rolls back.
An endpoint receives only events written after it was created, and never the
`webhook_endpoint.disabled` event about itself.
"""

from __future__ import annotations

from typing import Any

import orjson

from cartwright.events import service as events
from cartwright.kit import clock, ids, telemetry
from cartwright.kit.db import Conn, Database
from cartwright.webhooks import repository
from cartwright.webhooks.service import ENDPOINT_DISABLED, matches

DEFAULT_DISPATCHER = "default"
BATCH = 500
_INSERT_CHUNK = 100


class _CursorMoved(Exception):
    """Another dispatcher moved the cursor first: this pass's writes roll back."""


def _json(raw: Any) -> Any:
    return orjson.loads(raw) if isinstance(raw, str | bytes) else raw


async def dispatch(db: Database, *, name: str = DEFAULT_DISPATCHER, batch: int = BATCH) -> int:
    """One pass over at most `batch` events; the number of deliveries written."""
    with telemetry.span("webhooks.dispatch", {"dispatcher": name}):
        return await _dispatch(db, name, batch)


Position = tuple[int, int]  # just after the event at (txid, seq)


async def _read_after(
    conn: Conn, position: Position, limit: int
) -> tuple[list[events.FeedEvent], Position]:
    """The events after `position` and the position after them, through the commit-ordered
    feed (ADR 0019): an event whose transaction commits late is waited for, never passed."""
    page, after = await events.feed(conn, events.Cursor(*position), limit)
    return page, (after.txid, after.seq)


async def _dispatch(db: Database, name: str, batch: int) -> int:
    now = clock.utcnow()
    # A look first, without a transaction's write lock: most polls find nothing new.
    async with db.connection() as conn:
        seen = await repository.cursor(conn, name)
        if seen is not None and not (await _read_after(conn, seen, 1))[0]:
            return 0
    try:
        async with db.transaction() as conn:
            last = await repository.cursor(conn, name)
            if last is None:
                await repository.create_cursor(conn, name, now)
                last = await repository.cursor(conn, name) or (0, 0)
            page, after = await _read_after(conn, last, batch)
            if not page:
                return 0
            endpoints = [
                (r["id"], _json(r["events"]), r["created_at"])
                for r in await repository.enabled_endpoints(conn)
            ]
            rows = []
            for event in page:
                for endpoint_id, subscribed, created_at in endpoints:
                    if event.created_at < created_at or not matches(subscribed, event.type):
                        continue
                    if event.type == ENDPOINT_DISABLED and _about(event.data) == endpoint_id:
                        continue
                    rows.append((ids.new_id("wd"), endpoint_id, event.id, event.type, 0, now))
            for i in range(0, len(rows), _INSERT_CHUNK):
                await repository.insert_deliveries(conn, rows[i : i + _INSERT_CHUNK])
            if await repository.advance_cursor(conn, name, last, after, now) != 1:
                raise _CursorMoved()
    except _CursorMoved:
        return 0
    return len(rows)


def _about(data: Any) -> Any:
    return data.get("id") if isinstance(data, dict) else None
