"""Idempotent consumers: an event handled once per consumer, however often it is delivered.

`handle_once` runs in the caller's transaction: the inbox row (consumer, event id) and the
effect commit together or not at all, so a redelivery (the relay and webhooks deliver at least
once) finds the row and does nothing, and a crash before the commit leaves neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog

from cartwright.events import repository
from cartwright.events.service import Cursor, FeedEvent, feed
from cartwright.kit import clock, metrics
from cartwright.kit.db import Conn, Database

log = structlog.get_logger("cartwright.events.consumers")

Effect = Callable[[Conn, dict[str, Any]], Awaitable[None]]


async def handle_once(conn: Conn, consumer: str, event: dict[str, Any], effect: Effect) -> bool:
    """Apply `effect` to `event` (`id`, `type`, `data`: as the feed or the envelope shows it)
    unless `consumer` already handled it; True when it was applied now."""
    if not await repository.claim_inbox(conn, consumer, event["id"], clock.utcnow()):
        return False
    await effect(conn, event)
    return True


ORDER_COUNTS = "customer_order_counts"


async def count_customer_order(conn: Conn, event: dict[str, Any]) -> None:
    """The first consumer: orders placed per customer, from `order.placed` (guests: none)."""
    if event["type"] != "order.placed":
        return
    customer_id = event["data"].get("customer_id")
    if customer_id:
        await repository.count_order_placed(conn, customer_id, clock.utcnow())


async def orders_placed(conn: Conn, customer_id: str) -> int:
    """How many orders the consumer has counted for `customer_id`."""
    return await repository.orders_placed(conn, customer_id)


# -- The platform's own consumers, fed by the feed -------------------------------------------

Handler = Callable[[Conn, FeedEvent], Awaitable[None]]


@dataclass
class ConsumerJob:
    """A consumer of the feed: `handler` applied once to each event of `types`, in feed
    order, from a cursor of its own (worker job; any number of workers).

    Each event is handled in one transaction with its inbox row and the move of the cursor,
    guarded by the consumer's lease: a crash before the commit leaves nothing, and the event
    comes again; a redelivery (a lost lease, a cursor moved back) finds the inbox row and
    does nothing. A handler that fails is tried again on the next passes; after
    `max_attempts` failures in a row the event is parked (`event_parked`, marked handled)
    and the consumer goes on, so one bad event cannot stop it for good.
    """

    db: Database
    name: str
    types: tuple[str, ...]
    handler: Handler
    holder: str
    lease_s: float = 30.0
    page: int = 200
    max_attempts: int = 5
    _failures: dict[str, int] = field(default_factory=dict)

    async def run_once(self) -> int:
        """One pass: events handled (0 when another worker holds the consumer)."""
        now = clock.utcnow()
        async with self.db.transaction() as conn:
            taken = await repository.take_consumer(
                conn, self.name, self.holder, now, now + timedelta(seconds=self.lease_s)
            )
        if taken is None:
            return 0
        async with self.db.connection() as conn:
            events, _ = await feed(conn, Cursor(*taken), self.page, self.types)
        handled = 0
        for event in events:
            try:
                async with self.db.transaction() as conn:
                    await handle_once(conn, self.name, event.shown(), self._apply(event))
                    await self._move(conn, event)
            except LeaseLost:
                break
            except Exception as exc:
                if not await self._failed(event, exc):
                    break  # tried again on the next pass, and nothing behind it before
            else:
                self._failures.pop(event.id, None)
                metrics.consumer_events.labels(self.name, "handled").inc()
            handled += 1
        async with self.db.connection() as conn:
            lag = await repository.consumer_lag(conn, self.name, self.types)
        metrics.consumer_lag.labels(self.name).set(lag)
        return handled

    def _apply(self, event: FeedEvent) -> Effect:
        async def effect(conn: Conn, _shown: dict[str, Any]) -> None:
            await self.handler(conn, event)

        return effect

    async def _move(self, conn: Conn, event: FeedEvent) -> None:
        cursor = (event.cursor.txid, event.cursor.seq)
        if not await repository.move_consumer(conn, self.name, self.holder, cursor, clock.utcnow()):
            raise LeaseLost(self.name)

    async def _failed(self, event: FeedEvent, exc: Exception) -> bool:
        """Count a failure of the handler; park the event after `max_attempts`. True when
        the consumer may go on past it."""
        attempts = self._failures.get(event.id, 0) + 1
        self._failures[event.id] = attempts
        metrics.consumer_events.labels(self.name, "failed").inc()
        log.warning(
            "event consumer: handler failed",
            consumer=self.name,
            event_id=event.id,
            event_type=event.type,
            attempts=attempts,
            error=type(exc).__name__,
        )
        if attempts < self.max_attempts:
            return False
        async with self.db.transaction() as conn:
            if await repository.claim_inbox(conn, self.name, event.id, clock.utcnow()):
                await repository.park(
                    conn,
                    self.name,
                    event.id,
                    event.type,
                    attempts,
                    f"{type(exc).__name__}: {exc}",
                    clock.utcnow(),
                )
            await self._move(conn, event)
        self._failures.pop(event.id, None)
        metrics.consumer_events.labels(self.name, "parked").inc()
        log.error("event consumer: event parked", consumer=self.name, event_id=event.id)
        return True


class LeaseLost(Exception):
    """Another worker took the consumer: this one's pass stops, its last event undone."""


async def parked(db: Database, consumer: str) -> list[dict[str, Any]]:
    """The events `consumer` gave up on, oldest first."""
    async with db.connection() as conn:
        rows = await repository.parked(conn, consumer)
    return [{**dict(r), "parked_at": clock.isoformat(r["parked_at"])} for r in rows]
