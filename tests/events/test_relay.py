"""The relay through its adapter seam, with a fake broker: every event published once, in
feed order; a broker outage loses and reorders nothing; two relays never both publish."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from cartwright.events import relay as relay_module
from cartwright.events import service as events
from cartwright.events.relay import Relay
from cartwright.events.service import Event, FeedEvent
from cartwright.kit import ids
from cartwright.kit.db import Database


class FakeBroker:
    """Records what it confirmed; `down` makes every publish fail (nothing confirmed)."""

    name = "fake"

    def __init__(self) -> None:
        self.confirmed: list[dict[str, Any]] = []
        self.down = False
        # Fail once this many events about `watched` were confirmed (an outage mid-stream).
        self.fail_after: int | None = None
        self.watched = ""

    async def publish_many(self, messages: Sequence[tuple[FeedEvent, dict[str, Any]]]) -> None:
        # Like a broker whose connection drops mid-page: what came before the drop is
        # stored, the rest is not, and the call fails.
        for _, document in messages:
            await asyncio.sleep(0)
            mine = sum(1 for d in self.confirmed if d["subject"] == self.watched)
            if self.down or (self.fail_after is not None and mine >= self.fail_after):
                raise ConnectionError("broker unavailable")
            self.confirmed.append(document)


async def _write(db: Database, aggregate: str, n: int) -> list[str]:
    written = []
    for i in range(n):
        async with db.transaction() as conn:
            await events.record(conn, [Event("test.relay", aggregate, {"n": i})])
        written.append(f"{aggregate}:{i}")
    return written


def _mine(broker: FakeBroker, aggregates: set[str]) -> list[str]:
    return [
        f"{d['subject']}:{d['data']['n']}" for d in broker.confirmed if d["subject"] in aggregates
    ]


async def _drain(relay: Relay, passes: int = 400) -> None:
    for _ in range(passes):
        try:
            if not await relay.run_once() and not relay.skip:
                backlog, _ = await relay_module.backlog(relay.db)
                if backlog == 0:
                    return
        except ConnectionError:
            pass
        await asyncio.sleep(0.01)


@pytest.fixture
def partition(monkeypatch: pytest.MonkeyPatch) -> str:
    # Each test relays a partition of its own, so the session's other events do not matter
    # to the lease; the feed still carries everything, so assertions filter by aggregate.
    name = ids.new_id("part")
    monkeypatch.setattr(relay_module, "PARTITION", name)
    return name


async def test_every_event_is_published_once_in_order(any_db: Database, partition: str) -> None:
    aggregates = {ids.new_id("agg") for _ in range(3)}
    expected = {a: await _write(any_db, a, 4) for a in aggregates}
    broker = FakeBroker()
    relay = Relay(any_db, broker, holder="w1", batch=7)
    await _drain(relay)
    seen = _mine(broker, aggregates)
    assert sorted(seen) == sorted(x for v in expected.values() for x in v)
    for aggregate, written in expected.items():
        assert [s for s in seen if s.startswith(aggregate)] == written
    for document in broker.confirmed:
        assert document["specversion"] == "1.0" and document["id"].startswith("evt_")
    assert await relay.run_once() == 0  # nothing waiting: nothing published again
    assert (await relay_module.backlog(any_db))[0] == 0


async def test_a_broker_outage_loses_and_reorders_nothing(any_db: Database, partition: str) -> None:
    # The partition starts at the end of the feed, so the first page holds our events
    # whatever number of events the session's earlier tests wrote.
    await _drain(Relay(any_db, FakeBroker(), holder="w1", batch=10_000))
    aggregate = ids.new_id("agg")
    written = await _write(any_db, aggregate, 6)
    broker = FakeBroker()
    broker.fail_after, broker.watched = 3, aggregate  # three of ours, then down mid-batch
    relay = Relay(any_db, broker, holder="w1", batch=10_000)
    with pytest.raises(ConnectionError):
        await relay.run_once()
    assert relay.skip > 0  # backs off before trying again
    backlog, _ = await relay_module.backlog(any_db)
    assert backlog >= 6  # nothing was marked: the batch was not confirmed whole
    written += await _write(any_db, aggregate, 2)  # the outbox backs up meanwhile
    broker.fail_after = None
    await _drain(relay)
    seen = _mine(broker, {aggregate})
    # At least once: the three confirmed before the outage come again, with the same ids.
    assert seen[:3] == written[:3] and seen[3:] == written
    ids_seen = [d["id"] for d in broker.confirmed if d["subject"] == aggregate]
    assert ids_seen[:3] == ids_seen[3:6]


async def test_two_relays_at_once_publish_each_event_once(any_db: Database, partition: str) -> None:
    aggregate = ids.new_id("agg")
    written = await _write(any_db, aggregate, 10)
    broker = FakeBroker()
    first = Relay(any_db, broker, holder="w1", batch=3)
    second = Relay(any_db, broker, holder="w2", batch=3)
    await asyncio.gather(_drain(first), _drain(second))
    assert _mine(broker, {aggregate}) == written


async def test_a_relay_that_lost_its_lease_moves_nothing(any_db: Database, partition: str) -> None:
    aggregate = ids.new_id("agg")
    written = await _write(any_db, aggregate, 3)
    broker = FakeBroker()
    stale = Relay(any_db, broker, holder="w1", lease_s=-1)  # its lease is over at once
    await stale.run_once()
    taker = Relay(any_db, broker, holder="w2")
    await _drain(taker)
    # w1 published (its pass ran) and w2 took the expired lease: duplicates carry the ids.
    seen = _mine(broker, {aggregate})
    assert set(seen) == set(written)
    assert seen[-3:] == written
