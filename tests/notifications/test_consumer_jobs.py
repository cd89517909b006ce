"""The platform's consumers of the feed apply each event once: fed twice, run by two workers
at once, crashed before the commit; a handler that keeps failing parks its event and the
consumer goes on (both databases)."""

from __future__ import annotations

import asyncio
from typing import Any

from cartwright.events import consumers
from cartwright.events import service as events
from cartwright.events.consumers import ConsumerJob
from cartwright.events.service import Event, FeedEvent
from cartwright.kit import ids
from cartwright.kit.db import Conn, Database
from cartwright.notifications import service as notifications


def _order(order_id: str, email: str | None = "shopper@example.com") -> dict[str, Any]:
    return {"id": order_id, "number": 1001, "status": "open", "email": email, "totals": {}}


async def _place(db: Database, n: int) -> list[str]:
    order_ids = [ids.new_id("ord") for _ in range(n)]
    for order_id in order_ids:
        async with db.transaction() as conn:
            await events.record(conn, [Event("order.placed", order_id, _order(order_id))])
    return order_ids


def _job(db: Database, name: str, holder: str = "w1", **kwargs: Any) -> ConsumerJob:
    types, handler = tuple(notifications.ORDER_MAIL), notifications.queue_order_mail
    kwargs.setdefault("handler", handler)
    return ConsumerJob(db, name, types, holder=holder, **kwargs)


async def _drain(job: ConsumerJob, passes: int = 50) -> None:
    for _ in range(passes):
        if not await job.run_once():
            return
        await asyncio.sleep(0)


async def _queued_for(db: Database, order_ids: list[str]) -> dict[str, int]:
    async with db.connection() as conn:
        rows = await notifications.of_orders(conn, order_ids)
    counts = dict.fromkeys(order_ids, 0)
    for row in rows:
        counts[row["order_id"]] += 1
    return counts


async def test_each_order_event_queues_one_notification_even_when_fed_twice(
    any_db: Database,
) -> None:
    name = ids.new_id("cons")
    job = _job(any_db, name)
    await job.run_once()  # first run: starts at the end of the feed
    async with any_db.connection() as conn:
        start = await conn.fetchrow(
            "SELECT cursor_txid, cursor_seq FROM event_consumers WHERE name = $1", name
        )
    order_ids = await _place(any_db, 4)
    await _drain(job)
    assert await _queued_for(any_db, order_ids) == dict.fromkeys(order_ids, 1)

    # The cursor moved back (a restored backup, an operator's mistake): fed again, nothing new.
    assert start is not None
    async with any_db.transaction() as conn:
        await conn.execute(
            "UPDATE event_consumers SET cursor_txid = $2, cursor_seq = $3 WHERE name = $1",
            name,
            start["cursor_txid"],
            start["cursor_seq"],
        )
    await _drain(job)
    assert await _queued_for(any_db, order_ids) == dict.fromkeys(order_ids, 1)


async def test_two_workers_at_once_apply_each_event_once(any_db: Database) -> None:
    name = ids.new_id("cons")
    first, second = _job(any_db, name, "w1", page=2), _job(any_db, name, "w2", page=2)
    await first.run_once()
    order_ids = await _place(any_db, 6)
    await asyncio.gather(_drain(first), _drain(second))
    await _drain(second)  # whichever held the lease, the rest is drained
    await _drain(first)
    assert await _queued_for(any_db, order_ids) == dict.fromkeys(order_ids, 1)


async def test_a_crash_before_the_commit_leaves_nothing_and_the_retry_applies_once(
    any_db: Database,
) -> None:
    name = ids.new_id("cons")
    crashes = {"left": 1}

    async def crashing(conn: Conn, event: FeedEvent) -> None:
        await notifications.queue_order_mail(conn, event)  # the effect, then the crash
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("the process died before the commit")

    job = _job(any_db, name, handler=crashing)
    await job.run_once()
    (order_id,) = await _place(any_db, 1)
    await job.run_once()
    assert await _queued_for(any_db, [order_id]) == {order_id: 0}  # rolled back, whole
    await _drain(job)
    assert await _queued_for(any_db, [order_id]) == {order_id: 1}


async def test_an_event_whose_handler_keeps_failing_is_parked_and_the_consumer_goes_on(
    any_db: Database,
) -> None:
    name = ids.new_id("cons")
    poisoned: set[str] = set()

    async def picky(conn: Conn, event: FeedEvent) -> None:
        if event.aggregate_id in poisoned:
            raise ValueError("cannot handle this one")
        await notifications.queue_order_mail(conn, event)

    job = _job(any_db, name, handler=picky, max_attempts=3)
    await job.run_once()
    bad, good = await _place(any_db, 2)
    poisoned.add(bad)
    for _ in range(2):  # tried again on each pass, holding back what comes after it
        await job.run_once()
        assert await _queued_for(any_db, [bad, good]) == {bad: 0, good: 0}
    await _drain(job)  # the third failure parks it; the next event is handled
    assert await _queued_for(any_db, [bad, good]) == {bad: 0, good: 1}
    (parked,) = await consumers.parked(any_db, name)
    assert parked["attempts"] == 3 and parked["event_type"] == "order.placed"
    assert "cannot handle this one" in parked["error"]
    await _drain(job)
    assert len(await consumers.parked(any_db, name)) == 1


async def test_the_sender_hands_each_queued_notification_over_once(any_db: Database) -> None:
    name = ids.new_id("cons")
    job = _job(any_db, name)
    await job.run_once()
    order_ids = await _place(any_db, 3)
    await _drain(job)

    class Recording:
        def __init__(self) -> None:
            self.sent: list[tuple[str, str, str]] = []

        async def send(self, kind: str, recipient: str, payload: dict[str, Any]) -> None:
            self.sent.append((kind, recipient, payload["order_id"]))

    notifier = Recording()
    while await notifications.send_queued(any_db, notifier):
        pass
    ours = [s for s in notifier.sent if s[2] in order_ids]
    assert sorted(ours) == sorted(
        ("order_confirmation", "shopper@example.com", o) for o in order_ids
    )
    async with any_db.connection() as conn:
        statuses = {r["status"] for r in await notifications.of_orders(conn, order_ids)}
    assert statuses == {"sent"}
