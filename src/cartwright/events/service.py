"""Domain events through the transactional outbox.

`record` writes events in the caller's transaction, so an event exists exactly when the
state change it reports committed. `feed` reads them back in an order that never skips one
that commits late; `GET /v1/events`, the broker relay (`events/relay.py`) and the webhook
dispatcher all read through it (docs/events.md, ADR 0019).
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


@dataclass(frozen=True, order=True, slots=True)
class Cursor:
    """A place in the feed: just after the event at (txid, seq) (txid is 0 on SQLite).
    `token()` is its text form, for a consumer that stores it."""

    txid: int
    seq: int

    def token(self) -> str:
        return f"{self.txid}.{self.seq}"

    @classmethod
    def parse(cls, token: str) -> Cursor:
        txid, _, seq = token.partition(".")
        if not (txid.isdigit() and seq.isdigit()):
            raise ValueError(f"not a feed cursor: {token!r}")
        return cls(int(txid), int(seq))


START = Cursor(0, 0)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """An event as the feed reads it."""

    id: str
    type: str
    aggregate_id: str
    data: dict[str, Any]
    created_at: datetime
    cursor: Cursor

    def shown(self) -> dict[str, Any]:
        """As `GET /v1/events` shows it."""
        return {
            "id": self.id,
            "type": self.type,
            "created_at": clock.isoformat(self.created_at),
            "data": self.data,
        }


async def feed(
    conn: Conn, after: Cursor | None, limit: int, types: Sequence[str] | None = None
) -> tuple[list[FeedEvent], Cursor]:
    """Up to `limit` committed events after `after` (None: from the start), in feed order,
    and the cursor to read on from. Never skips: an event whose transaction is still open
    holds back every event behind it (PostgreSQL) until it commits or rolls back, so a
    reader that pages on the returned cursor sees every event exactly once. The order is
    the writing transactions' ids, then seq: the events about one thing keep the order
    of their transactions (ADR 0019 says when)."""
    start = after or START
    rows = await repository.feed(conn, after=(start.txid, start.seq), types=types, limit=limit)
    events = [
        FeedEvent(
            id=r["id"],
            type=r["type"],
            aggregate_id=r["aggregate_id"],
            data=_data(r["data"]),
            created_at=r["created_at"],
            cursor=Cursor(int(r["txid"] or 0), int(r["seq"])),
        )
        for r in rows
    ]
    return events, (events[-1].cursor if events else start)


async def cursor_of(conn: Conn, event_id: str) -> Cursor | None:
    """The feed cursor just after event `event_id` (None: no such event)."""
    position = await repository.position_of(conn, event_id)
    return None if position is None else Cursor(*position)


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
    after: Cursor | None = None
    if starting_after is not None:
        after = await cursor_of(conn, starting_after)
        if after is None:
            raise ValidationFailed.field("starting_after", f"no event {starting_after}")
    if aggregate_id is None:
        # The feed: gap-free, so a client tailing the list with `starting_after` misses
        # nothing (an event of a transaction still open appears once it commits).
        page, _ = await feed(conn, after, limit + 1, None if event_type is None else [event_type])
        return {
            "data": [e.shown() for e in page[:limit]],
            "has_more": len(page) > limit,
        }
    # One object's history: every event about it that committed, in seq order (the order
    # they happened in; its transactions follow each other). Not held back by unrelated
    # open transactions.
    rows = await repository.list_events(
        conn,
        after_seq=0 if after is None else after.seq,
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
    aggregate_id: str

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
        int(row["seq"]),
        row["id"],
        row["type"],
        row["created_at"],
        _data(row["data"]),
        row["aggregate_id"],
    )


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
