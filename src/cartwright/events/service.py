"""Domain events through the transactional outbox.

`record` writes events in the caller's transaction, so an event exists exactly when the
state change it reports committed. A relay to a broker reads the same table later
(`published_at`); `GET /v1/events` lists it in the order events were written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from cartwright.events import repository
from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Row, Stmt
from cartwright.kit.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    aggregate_id: str
    data: dict[str, Any]


def record_stmt(events: Sequence[Event]) -> Stmt:
    """Writing `events` to the outbox, to run in the transaction of the change they report."""
    now = clock.utcnow()
    return repository.insert_events_stmt(
        [
            (ids.new_id("evt"), e.type, e.aggregate_id, orjson.dumps(e.data).decode(), now)
            for e in events
        ]
    )


async def record(conn: Conn, events: Sequence[Event]) -> None:
    if events:
        await conn.batch([record_stmt(events)])


async def list_events(
    conn: Conn,
    *,
    limit: int,
    starting_after: str | None,
    event_type: str | None,
    aggregate_id: str | None = None,
) -> dict[str, Any]:
    after_seq = 0
    if starting_after is not None:
        seq = await repository.seq_of(conn, starting_after)
        if seq is None:
            raise ValidationFailed.field("starting_after", f"no event {starting_after}")
        after_seq = seq
    rows = await repository.list_events(
        conn,
        after_seq=after_seq,
        event_type=event_type,
        aggregate_id=aggregate_id,
        limit=limit + 1,
    )
    return {
        "data": [
            {
                "id": r["id"],
                "type": r["type"],
                "created_at": clock.isoformat(r["created_at"]),
                "data": orjson.loads(r["data"]) if isinstance(r["data"], str) else r["data"],
            }
            for r in rows[:limit]
        ],
        "has_more": len(rows) > limit,
    }


def _data(raw: Any) -> Any:
    return orjson.loads(raw) if isinstance(raw, str | bytes) else raw


async def about(conn: Conn, aggregate_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every event about any of these things, in the order they happened."""
    if not aggregate_ids:
        return []
    rows = await repository.about(conn, aggregate_ids)
    return [
        {
            "id": r["id"],
            "type": r["type"],
            "created_at": clock.isoformat(r["created_at"]),
            "data": _data(r["data"]),
        }
        for r in rows
    ]


async def rewrite_payloads(
    conn: Conn, aggregate_ids: Sequence[str], rewrite: Callable[[Any], Any]
) -> int:
    """Rewrite the payload of every event about these things (erasure of personal data:
    the one change an event ever sees). Returns how many events changed."""
    if not aggregate_ids:
        return 0
    changed = 0
    for row in await repository.about(conn, aggregate_ids):
        before = _data(row["data"])
        after = rewrite(before)
        if after != before:
            await repository.set_data(conn, row["seq"], orjson.dumps(after).decode())
            changed += 1
    return changed


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the outbox holds it, with its place (`seq`) in the outbox."""

    seq: int
    id: str
    type: str
    created_at: datetime
    data: Any

    def public(self) -> dict[str, Any]:
        """The event as `GET /v1/events` shows it."""
        return {
            "id": self.id,
            "type": self.type,
            "created_at": clock.isoformat(self.created_at),
            "data": self.data,
        }


def _stored(row: Row) -> StoredEvent:
    return StoredEvent(
        int(row["seq"]), row["id"], row["type"], row["created_at"], _data(row["data"])
    )


async def read_after(conn: Conn, seq: int, *, limit: int) -> list[StoredEvent]:
    """Events written after `seq`, in `seq` order: a plain cursor over the outbox (an event
    whose transaction commits after a later one's may be passed over on PostgreSQL; the
    commit-ordered feed replaces this)."""
    return [_stored(r) for r in await repository.after_seq(conn, seq, limit)]


async def by_ids(conn: Conn, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
    """The events with these ids (those that exist), by id."""
    if not event_ids:
        return {}
    return {r["id"]: _stored(r) for r in await repository.by_ids(conn, list(event_ids))}


async def created_between(
    conn: Conn, start: datetime, end: datetime, *, after_seq: int = 0, limit: int
) -> list[StoredEvent]:
    """Events written in [start, end), in `seq` order, after `after_seq` (paging)."""
    rows = await repository.created_between(conn, start, end, after_seq, limit)
    return [_stored(r) for r in rows]
