"""The feed never passes an event whose transaction is still open, and shows it once it
commits (real PostgreSQL connections); on SQLite seq is commit order."""

from __future__ import annotations

import asyncio
import random

import pytest

from cartwright.events import service as events
from cartwright.events.service import Cursor, Event, FeedEvent
from cartwright.kit import ids
from cartwright.kit.db import Database


def _event(tag: str) -> Event:
    return Event("test.feed", ids.new_id("agg"), {"tag": tag})


async def _record(db: Database, *batch: Event) -> None:
    async with db.transaction() as conn:
        await events.record(conn, batch)


async def _read_all(db: Database, after: Cursor, limit: int = 50) -> list[FeedEvent]:
    seen: list[FeedEvent] = []
    while True:
        async with db.connection() as conn:
            page, after = await events.feed(conn, after, limit, ["test.feed"])
        seen.extend(page)
        if len(page) < limit:
            return seen


async def _end(db: Database) -> Cursor:
    """The cursor after everything readable now (a marker of our own, then its cursor)."""
    marker = _event("marker")
    await _record(db, marker)
    marker_id = await _id_of(db, marker)
    async with db.connection() as conn:
        cursor = await events.cursor_of(conn, marker_id)
    assert cursor is not None
    return cursor


async def _id_of(db: Database, event: Event) -> str:
    async with db.connection() as conn:
        row = await conn.fetchrow(
            "SELECT id FROM events WHERE aggregate_id = $1", event.aggregate_id
        )
    assert row is not None
    return str(row["id"])


async def _read_until(db: Database, after: Cursor, count: int) -> list[FeedEvent]:
    """The feed after `after` once it shows `count` of our events. Any transaction open on
    the server holds the feed back, including other databases' (xids are cluster-wide), so
    the wait for an event that committed is bounded, not zero."""
    for _ in range(200):
        seen = await _read_all(db, after)
        if len(_tags(seen)) >= count:
            return seen
        await asyncio.sleep(0.05)
    return seen


def _tags(seen: list[FeedEvent]) -> list[str]:
    return [e.data["tag"] for e in seen if e.data.get("tag") != "marker"]


async def test_an_open_transaction_holds_back_later_commits(pg_db: Database) -> None:
    start = await _end(pg_db)
    open_tx_written = asyncio.Event()
    release = asyncio.Event()

    async def slow_writer() -> None:
        async with pg_db.transaction() as conn:
            await events.record(conn, [_event("slow")])
            open_tx_written.set()
            await release.wait()

    slow = asyncio.create_task(slow_writer())
    await open_tx_written.wait()
    # Committed after the slow one began (and inserted with a higher seq).
    await _record(pg_db, _event("fast-1"))
    await _record(pg_db, _event("fast-2"))

    # The plain seq order would show the fast ones now and then skip the slow one.
    async with pg_db.connection() as conn:
        committed = await conn.fetch(
            "SELECT data->>'tag' AS tag FROM events WHERE type = 'test.feed' AND seq > $1"
            " ORDER BY seq",
            start.seq,
        )
    assert [r["tag"] for r in committed] == ["fast-1", "fast-2"]

    held = await _read_all(pg_db, start)
    assert _tags(held) == []  # nothing passes the open transaction
    release.set()
    await slow
    after_commit = await _read_until(pg_db, start, 3)
    assert _tags(after_commit) == ["slow", "fast-1", "fast-2"]
    # Reading on from where the held-back reader stopped finds the same events once each.
    resumed = await _read_until(pg_db, held[-1].cursor if held else start, 3)
    assert _tags(resumed) == ["slow", "fast-1", "fast-2"]


async def test_a_rolled_back_transaction_releases_the_feed(pg_db: Database) -> None:
    start = await _end(pg_db)
    written, release = asyncio.Event(), asyncio.Event()

    async def doomed() -> None:
        async with pg_db.transaction() as conn:
            await events.record(conn, [_event("doomed")])
            written.set()
            await release.wait()
            raise RuntimeError("rolled back")

    task = asyncio.create_task(doomed())
    await written.wait()
    await _record(pg_db, _event("after"))
    assert _tags(await _read_all(pg_db, start)) == []
    release.set()
    with pytest.raises(RuntimeError):
        await task
    assert _tags(await _read_until(pg_db, start, 1)) == ["after"]


async def test_a_tailing_reader_sees_every_committed_event_once(any_db: Database) -> None:
    """Writers commit in random interleavings (some roll back) while a reader tails the feed
    on its cursor: it ends up with exactly the committed events, each once, and the events
    of one aggregate in the order they were written."""
    rng = random.Random(17)
    start = await _end(any_db)
    committed: list[str] = []
    writers_done = asyncio.Event()
    aggregates = [ids.new_id("agg") for _ in range(4)]
    per_aggregate: dict[str, list[str]] = {a: [] for a in aggregates}
    locks = {a: asyncio.Lock() for a in aggregates}

    async def writer(n: int) -> None:
        for i in range(8):
            aggregate = rng.choice(aggregates)
            tag = f"w{n}-{i}"
            # The events about one thing come from transactions that follow each other.
            async with locks[aggregate]:
                try:
                    async with any_db.transaction() as conn:
                        await events.record(conn, [Event("test.feed", aggregate, {"tag": tag})])
                        await asyncio.sleep(rng.random() * 0.01)
                        if rng.random() < 0.15:
                            raise LookupError
                except LookupError:
                    continue
                committed.append(tag)
                per_aggregate[aggregate].append(tag)

    async def reader() -> list[FeedEvent]:
        seen: list[FeedEvent] = []
        cursor, idle_reads_after_the_end = start, 0
        while idle_reads_after_the_end < 400:
            finished = writers_done.is_set()
            async with any_db.connection() as conn:
                page, cursor = await events.feed(conn, cursor, 5, ["test.feed"])
            seen.extend(page)
            if finished and not page:
                if len(_tags(seen)) >= len(committed):
                    return seen
                idle_reads_after_the_end += 1  # held back by a transaction elsewhere
            await asyncio.sleep(0.002 if not finished else 0.02)
        return seen

    tail = asyncio.create_task(reader())
    await asyncio.gather(*(writer(n) for n in range(4)))
    writers_done.set()
    seen = await tail
    tags = _tags(seen)
    assert sorted(tags) == sorted(committed)
    assert len(tags) == len(set(tags))
    for aggregate, written in per_aggregate.items():
        assert [e.data["tag"] for e in seen if e.aggregate_id == aggregate] == written


async def test_starting_after_an_event_is_its_cursor(any_db: Database) -> None:
    start = await _end(any_db)
    first, second = _event("one"), _event("two")
    await _record(any_db, first)
    await _record(any_db, second)
    first_id = await _id_of(any_db, first)
    async with any_db.connection() as conn:
        cursor = await events.cursor_of(conn, first_id)
        assert await events.cursor_of(conn, "evt_missing") is None
    assert cursor is not None and cursor > start
    assert _tags(await _read_until(any_db, cursor, 1)) == ["two"]
    assert Cursor.parse(cursor.token()) == cursor
