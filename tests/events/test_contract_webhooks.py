"""`webhook_endpoint.disabled` as the dispatcher writes it (an endpoint whose every attempt
failed), on both databases, matches its JSON Schema (docs/events/)."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from cartwright.events import service as events
from tests.events.contracts import SCHEMAS, load
from tests.fakes.clock import FakeClock
from tests.webhooks.conftest import db, fake_clock, receiver, rig
from tests.webhooks.support import Receiver, Rig, settings

__all__ = ["db", "fake_clock", "receiver", "rig"]  # the webhooks' fixtures, reused


async def test_the_disabled_endpoints_event_matches_its_schema(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    rig.config = settings(webhook_disable_after_failures=2, webhook_endpoint_concurrency=1)
    receiver.plan = lambda _e, _n: "500"
    failing = await rig.endpoint(receiver.url)
    await rig.emit(2)
    rig.sender()
    for _ in range(3):
        await rig.dispatch()
        await rig.flush()
        fake_clock.advance(100)
    async with rig.db.connection() as conn:
        page = await events.list_events(
            conn, limit=100, starting_after=None, event_type="webhook_endpoint.disabled"
        )
    (event,) = [e for e in page["data"] if e["data"]["id"] == failing["id"]]
    schema = load(SCHEMAS)["webhook_endpoint.disabled"]
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(event["data"])]
    assert errors == []
    assert "secret" not in event["data"]
