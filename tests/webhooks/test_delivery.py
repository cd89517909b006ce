"""Deliveries to a real receiver: retried through failures, timeouts and 500s until they
arrive signed; every attempt logged; the schedule walked with the controllable clock."""

from __future__ import annotations

import asyncio

from tests.fakes.clock import FakeClock
from tests.webhooks.support import Receiver, Rig, body_of, verified


async def _walk(rig: Rig, *, seconds: float, passes: int = 20) -> None:
    """Send what is due, move the clock on, again."""
    for _ in range(passes):
        await rig.dispatch()
        await rig.flush()
        rig.clock.advance(seconds)


async def test_every_event_arrives_signed_through_failures(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    # First a 500, then a timeout, then a dropped connection, then the answer is 200.
    script = ["500", "slow", "drop", "ok"]
    receiver.plan = lambda _event, n: script[min(n, len(script) - 1)]
    endpoint = await rig.endpoint(receiver.url, ["order.*"])
    event_ids = await rig.emit(5)
    await rig.emit(1, "customer.created")  # not subscribed to
    rig.sender()
    assert await rig.dispatch() == 5

    await rig.flush()
    assert {r.event_id for r in receiver.received} == set(event_ids)
    fake_clock.advance(5)  # not yet due (first retry after 10 s)
    assert await rig.flush() == 0
    assert len(receiver.received) == 5
    # 10 s, 60 s, 300 s: the schedule with the jitter at its middle.
    for wait in (10, 60, 300):
        fake_clock.advance(wait - 5 if wait == 10 else wait)
        await rig.flush()
    for event_id in event_ids:
        assert receiver.count(event_id) == 4
    ok = [r for r in receiver.received if receiver.received.index(r) >= 15]
    assert len(ok) == 5
    for received in receiver.received:
        assert verified(received, endpoint["secret"])
        assert received.event_type == "order.placed"
        assert body_of(received)["id"] == received.event_id
        document = body_of(received)
        assert document["specversion"] == "1.0" and document["type"] == "order.placed"
        assert document["dataschema"].endswith("/order.placed.v1.json")
        assert document["subject"].startswith("ord_")  # the order it is about
        assert set(document) == {
            "specversion",
            "id",
            "type",
            "source",
            "time",
            "subject",
            "datacontenttype",
            "dataschema",
            "data",
        }

    deliveries = await rig.deliveries(endpoint["id"])
    assert len(deliveries) == 5
    for listed in deliveries:
        delivery = await rig.delivery(listed["id"])
        assert delivery["status"] == "succeeded"
        assert delivery["attempt_count"] == 4
        log = delivery["attempts"]
        assert [a["status_code"] for a in log] == [500, None, None, 200]
        assert log[0]["error"] == "HTTP 500"
        assert len(log[0]["response_excerpt"]) <= 1024
        assert log[1]["error"] == "timed out"
        assert log[2]["error"] is not None
        assert log[3]["error"] is None


async def test_a_delivery_is_abandoned_after_the_last_retry(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    receiver.plan = lambda _e, _n: "500"
    endpoint = await rig.endpoint(receiver.url)
    (event_id,) = await rig.emit(1)
    rig.sender()
    await _walk(rig, seconds=3600, passes=8)
    (delivery,) = await rig.deliveries(endpoint["id"])
    assert delivery["status"] == "abandoned"
    # One attempt, then one per delay of the schedule (4 delays), then no more.
    assert delivery["attempt_count"] == 5 == receiver.count(event_id)


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    rig: Rig, receiver: Receiver
) -> None:
    receiver.plan = lambda _e, n: "redirect" if n == 0 else "ok"
    endpoint = await rig.endpoint(receiver.url)
    await rig.emit(1)
    rig.sender()
    await rig.dispatch()
    await rig.flush()
    (listed,) = await rig.deliveries(endpoint["id"])
    delivery = await rig.delivery(listed["id"])
    assert delivery["status"] == "failed"
    assert delivery["attempts"][0]["status_code"] == 302
    assert delivery["attempts"][0]["error"] == "redirect not followed"
    assert len(receiver.received) == 1  # nothing went to the redirect's target


async def test_one_slow_endpoint_does_not_hold_up_another(rig: Rig, fake_clock: FakeClock) -> None:
    slow = await Receiver(clock=fake_clock, plan=lambda _e, _n: "slow", slow_s=0.45).start()
    fast = await Receiver(clock=fake_clock).start()
    try:
        await rig.endpoint(slow.url)
        await rig.endpoint(fast.url)
        await rig.emit(12)
        sender = rig.sender()
        await rig.dispatch()
        # The slow endpoint gets its 4 slots; the fast one's deliveries go at once, in the
        # same pass and the next ones, while the slow posts are still waiting.
        await sender.send_due()
        for _ in range(10):
            await sender.send_due()
            await asyncio.sleep(0.02)
        assert len(fast.received) == 12
        assert len(slow.received) <= 4
        await sender.drain()
    finally:
        await slow.stop()
        await fast.stop()
