"""Several senders on one database: a delivery is leased by one at a time, so nothing is
sent twice while its lease holds; a sender that dies leaves its deliveries to another
once the lease has run out (at least once)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from cartwright.webhooks import dispatcher, repository
from tests.fakes.clock import FakeClock
from tests.webhooks.support import Receiver, Rig, settings


async def test_two_senders_at_once_send_each_delivery_once(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    rig.config = settings(
        webhook_endpoint_concurrency=50, webhook_concurrency=50, webhook_timeout_s=5.0
    )
    endpoints = [await rig.endpoint(receiver.url), await rig.endpoint(receiver.url + "?second")]
    event_ids = await rig.emit(30)
    first, second = rig.sender(), rig.sender()
    assert await rig.dispatch() == 60
    for _ in range(3):
        await asyncio.gather(first.send_due(), second.send_due(), first.send_due())
        await asyncio.gather(first.drain(), second.drain())
        fake_clock.advance(15)  # a retry, should an attempt have timed out on a busy machine
    deliveries = [d for e in endpoints for d in await rig.deliveries(e["id"])]
    assert {d["status"] for d in deliveries} == {"succeeded"}
    # Every request the receiver saw is an attempt one sender recorded: none was sent by
    # both senders. (An attempt that timed out after the receiver got it is sent again,
    # as at least once allows; it is then two attempts.)
    assert len(receiver.received) == sum(d["attempt_count"] for d in deliveries)
    for event_id in event_ids:
        assert receiver.count(event_id) >= 2  # once per endpoint


async def test_two_dispatchers_at_once_write_each_delivery_once(
    rig: Rig, receiver: Receiver
) -> None:
    endpoint = await rig.endpoint(receiver.url)
    await rig.emit(40)
    written = await asyncio.gather(*(dispatcher.dispatch(rig.db, batch=7) for _ in range(6)))
    while await dispatcher.dispatch(rig.db, batch=7):
        pass
    assert sum(written) <= 40
    assert len(await rig.deliveries(endpoint["id"])) == 40


async def test_a_dead_senders_deliveries_are_sent_after_its_lease(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    await rig.endpoint(receiver.url)
    (event_id,) = await rig.emit(1)
    await rig.dispatch()
    now = rig.now()
    async with rig.db.transaction() as conn:  # a sender leases it, then dies
        (leased,) = await repository.lease_due(
            conn,
            now=now,
            until=now + timedelta(seconds=60),
            owner="wsnd_dead",
            per_endpoint=4,
            limit=10,
            skip_endpoints=[],
        )
    alive = rig.sender()
    assert await alive.run_once() == 0  # still leased
    fake_clock.advance(61)
    assert await alive.run_once() == 1
    assert receiver.count(event_id) == 1
    delivery = await rig.delivery(leased["id"])
    assert delivery["status"] == "succeeded"
    assert delivery["attempt_count"] == 1
