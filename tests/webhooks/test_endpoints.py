"""Secret rotation, disabling an endpoint that keeps failing, and replays."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from cartwright.events import service as events
from cartwright.kit.crypto import SecretKeys
from cartwright.webhooks import service
from cartwright.webhooks.signing import verify
from tests.conftest import ROOT
from tests.fakes.clock import FakeClock
from tests.webhooks.support import Receiver, Rig, settings, verified


async def test_rotation_signs_with_both_secrets_during_the_overlap_then_the_new_only(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    endpoint = await rig.endpoint(receiver.url)
    old = endpoint["secret"]
    async with rig.db.transaction() as conn:
        rotated = await service.rotate_secret(conn, rig.keys, endpoint["id"], overlap_s=3600)
    new = rotated["secret"]
    assert new != old and new.startswith("whsec_")
    assert rotated["previous_secrets_expire_at"] == (
        rig.now() + timedelta(hours=1)
    ).isoformat().replace("+00:00", "Z")
    rig.sender()
    await rig.emit(1)
    await rig.dispatch()
    await rig.flush()
    (during,) = receiver.received
    assert during.signature.count("v1=") == 2
    assert verified(during, old) and verified(during, new)

    fake_clock.advance(3601)
    await rig.emit(1)
    await rig.dispatch()
    await rig.flush()
    after = receiver.received[-1]
    assert after.signature.count("v1=") == 1
    assert verified(after, new)
    assert not verified(after, old)
    # A signature is also refused when its timestamp is stale (a replayed request).
    assert not verify(new, after.signature, after.body, now=int(after.at) + 301)
    assert not verify(new, after.signature, after.body + b" ", now=int(after.at))


async def test_a_secret_is_never_stored_in_clear(rig: Rig, receiver: Receiver) -> None:
    endpoint = await rig.endpoint(receiver.url)
    async with rig.db.connection() as conn:
        rows = await conn.fetch("SELECT sealed FROM webhook_secrets")
    assert rows and all(endpoint["secret"] not in str(r["sealed"]) for r in rows)
    assert all(str(r["sealed"]).startswith("enc1.") for r in rows)


async def test_an_endpoint_failing_continuously_is_disabled_and_its_owner_told(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    rig.config = settings(webhook_disable_after_failures=3, webhook_endpoint_concurrency=1)
    watcher = await Receiver(clock=fake_clock).start()
    try:
        receiver.plan = lambda _e, _n: "500"
        failing = await rig.endpoint(receiver.url)
        other = await rig.endpoint(watcher.url, ["webhook_endpoint.disabled"])
        await rig.emit(2)
        rig.sender()
        for _ in range(4):
            await rig.dispatch()
            await rig.flush()
            fake_clock.advance(100)
        async with rig.db.connection() as conn:
            shown = await service.get_endpoint(conn, failing["id"])
            page = await events.list_events(
                conn, limit=100, starting_after=None, event_type="webhook_endpoint.disabled"
            )
        assert shown["status"] == "disabled"
        assert shown["disabled_reason"] == "3 attempts in a row failed"
        (event,) = page["data"]
        assert event["data"]["id"] == failing["id"]
        assert event["data"]["status"] == "disabled"
        # Not delivered to itself (and nothing more is sent to it); the other endpoint,
        # subscribed to it, receives it.
        assert len(receiver.received) == 3
        deliveries = await rig.deliveries(failing["id"])
        assert {d["event_type"] for d in deliveries} == {"order.placed"}
        (told,) = watcher.received
        assert told.event_id == event["id"]
        assert await rig.deliveries(other["id"])

        # Enabled again, with the receiver fixed: what was pending goes out.
        receiver.plan = lambda _e, _n: "ok"
        async with rig.db.transaction() as conn:
            enabled = await service.update_endpoint(conn, failing["id"], enabled=True)
        assert enabled["status"] == "enabled" and enabled["consecutive_failures"] == 0
        fake_clock.advance(3600)
        await rig.flush()
        assert {d["status"] for d in await rig.deliveries(failing["id"])} == {"succeeded"}
    finally:
        await watcher.stop()


async def test_an_endpoint_failing_for_hours_is_disabled(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    rig.config = settings(webhook_disable_after_s=7200, webhook_retry_schedule_s="3600,3600,3600")
    receiver.plan = lambda _e, _n: "500"
    failing = await rig.endpoint(receiver.url)
    await rig.emit(1)
    rig.sender()
    for _ in range(3):
        await rig.dispatch()
        await rig.flush()
        fake_clock.advance(3600)
    async with rig.db.connection() as conn:
        shown = await service.get_endpoint(conn, failing["id"])
    assert shown["status"] == "disabled"
    assert shown["disabled_reason"] == "every attempt failed for 7200 s"


async def test_replay_of_one_delivery_sends_the_same_event_again(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    endpoint = await rig.endpoint(receiver.url)
    (event_id,) = await rig.emit(1)
    rig.sender()
    await rig.dispatch()
    await rig.flush()
    (first,) = await rig.deliveries(endpoint["id"])
    async with rig.db.transaction() as conn:
        again = await service.replay_delivery(conn, first["id"])
        twice = await service.replay_delivery(conn, first["id"])
    assert again["event_id"] == event_id and again["id"] != first["id"]
    assert (again["generation"], twice["generation"]) == (1, 2)
    await rig.flush()
    assert receiver.count(event_id) == 3
    assert all(verified(r, endpoint["secret"]) for r in receiver.received)
    assert {r.body for r in receiver.received} == {receiver.received[0].body}


async def test_replay_of_a_time_range_requeues_its_events(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    endpoint = await rig.endpoint(receiver.url, ["order.placed"])
    before = await rig.emit(2)
    fake_clock.advance(60)
    start = rig.now()
    inside = await rig.emit(3)
    await rig.emit(1, "customer.created")  # in the range, not subscribed to
    fake_clock.advance(60)
    end = rig.now()
    await rig.emit(2)
    rig.sender()
    await rig.dispatch()
    await rig.flush()
    assert len(receiver.received) == 7
    async with rig.db.transaction() as conn:
        replayed = await service.replay_range(conn, endpoint["id"], start=start, end=end)
    assert replayed["queued"] == 3
    await rig.flush()
    for event_id in inside:
        assert receiver.count(event_id) == 2
    for event_id in before:
        assert receiver.count(event_id) == 1


async def test_every_documented_event_type_can_be_subscribed_to() -> None:
    """docs/events.md's table is the list of event types; a new type is added there and
    to `KNOWN_EVENT_TYPES` together (or an endpoint could not subscribe to it)."""
    documented = set(
        re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", (ROOT / "docs" / "events.md").read_text(), re.M)
    )
    assert "order.placed" in documented
    assert documented <= service.KNOWN_EVENT_TYPES, documented - service.KNOWN_EVENT_TYPES
    assert service.check_event_types(sorted(documented)) == sorted(documented)


async def test_an_internal_failure_is_an_attempt_and_the_schedule_still_ends_it(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    rig.config = settings(webhook_retry_schedule_s="10")
    endpoint = await rig.endpoint(receiver.url)
    await rig.emit(1)
    await rig.dispatch()
    rig.keys = SecretKeys(secrets.token_urlsafe(40))  # the server's key changed: cannot open
    rig.sender()
    await rig.flush()
    fake_clock.advance(20)
    await rig.flush()
    (listed,) = await rig.deliveries(endpoint["id"])
    delivery = await rig.delivery(listed["id"])
    assert delivery["status"] == "abandoned"
    assert [a["error"] for a in delivery["attempts"]] == ["internal error: SecretKeyError"] * 2
    assert receiver.received == []
