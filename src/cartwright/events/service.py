"""Domain events through the transactional outbox.

`record` writes events in the caller's transaction, so an event exists exactly when the
state change it reports committed. A relay to a broker reads the same table later
(`published_at`); `GET /v1/events` lists it in the order events were written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from cartwright.events import repository
from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Stmt
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
