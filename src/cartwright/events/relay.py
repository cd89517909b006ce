"""The outbox relay: publishes events to a broker in feed order, at least once.

One relay at a time per partition: a lease row taken with a guarded update, renewed on each
pass. A pass reads a page of the feed after the partition's cursor, sends the page to the
broker in order over one connection, waits for the confirmation of every event and then, in
one transaction, marks them `published_at` and moves the cursor, guarded by the lease. A
broker failure stops the pass before anything is marked: the next pass (after a backoff)
publishes the same events again, in the same order, with the same ids (the broker's dedupe,
or the consumer's inbox, drops the copies). No broker call happens on a request path; with
no broker nothing runs and the events stay in the database (`GET /v1/events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from cartwright.events import repository
from cartwright.events.envelope import envelope
from cartwright.events.service import Cursor, FeedEvent, feed
from cartwright.kit import clock
from cartwright.kit.db import Database

PARTITION = "all"


class Publisher(Protocol):
    """A broker adapter: `publish_many` sends the events in the order given and returns
    once the broker confirmed every one; it raises when any was not confirmed (then
    nothing of the page is assumed delivered)."""

    name: str

    async def publish_many(self, messages: Sequence[tuple[FeedEvent, dict[str, Any]]]) -> None: ...


@dataclass
class Relay:
    db: Database
    publisher: Publisher
    holder: str
    lease_s: float = 30.0
    batch: int = 100
    source: str = "cartwright"
    schema_base_url: str = "https://cartwright.dev/docs/events"
    # Consecutive failed passes: the worker waits 2**failures polls (at most 64) before
    # the next attempt, so an outage backs off instead of hammering the broker.
    failures: int = field(default=0)
    skip: int = field(default=0)

    async def run_once(self) -> int:
        """One pass: how many events were published and marked (0 when another relay holds
        the partition or nothing is waiting). Raises on a broker failure."""
        if self.skip:
            self.skip -= 1
            return 0
        try:
            published = await self._pass()
        except Exception:
            self.failures += 1
            self.skip = min(2**self.failures, 64) - 1
            raise
        self.failures = 0
        return published

    async def _pass(self) -> int:
        now = clock.utcnow()
        async with self.db.transaction() as conn:
            taken = await repository.take_lease(
                conn, PARTITION, self.holder, now, now + timedelta(seconds=self.lease_s)
            )
        if taken is None:
            return 0
        async with self.db.connection() as conn:
            events, cursor = await feed(conn, Cursor(*taken), self.batch)
        if not events:
            return 0
        await self.publisher.publish_many(
            [
                (e, envelope(e, source=self.source, schema_base_url=self.schema_base_url))
                for e in events
            ]
        )
        async with self.db.transaction() as conn:
            moved = await repository.advance(
                conn,
                PARTITION,
                self.holder,
                (cursor.txid, cursor.seq),
                [e.cursor.seq for e in events],
                clock.utcnow(),
            )
        return len(events) if moved else 0


async def backlog(db: Database) -> tuple[int, float]:
    """(events not yet published past the relay's cursor, age in seconds of the oldest)."""
    async with db.connection() as conn:
        after = await repository.relay_cursor(conn, PARTITION)
        count, oldest = await repository.backlog(conn, after)
    age = 0.0 if oldest is None else max(0.0, (clock.utcnow() - oldest).total_seconds())
    return count, age
