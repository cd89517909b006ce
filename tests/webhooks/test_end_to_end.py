"""A real `cartwright serve` (its in-process worker dispatching and sending) delivers a
checkout's events to a real receiver, signed with the secret the API showed once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from cartwright.migrations.runner import upgrade
from tests.conftest import ADMIN_KEY, Server, start_server
from tests.factories import checkout, create_product, events_about, ready_cart
from tests.webhooks.support import Receiver, body_of, verified


@pytest.fixture
def hooks_server(tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    upgrade(url)
    # A first retry 1 s after a failure (the default waits 10 s): the retry path is the same.
    env = {"CARTWRIGHT_WEBHOOKS_ALLOW_PRIVATE": "1", "CARTWRIGHT_WEBHOOK_RETRY_SCHEDULE_S": "1,60"}
    server = start_server(url, tmp_path / "server.log", extra_env=env)
    yield server
    server.stop()


@pytest.fixture
async def live_receiver() -> AsyncIterator[Receiver]:
    made = await Receiver().start()
    yield made
    await made.stop()


async def test_a_checkouts_events_reach_the_receiver_signed(
    hooks_server: Server, live_receiver: Receiver
) -> None:
    # The first attempt of every event fails: the worker's retry delivers it.
    live_receiver.plan = lambda _e, n: "500" if n == 0 else "ok"
    async with httpx.AsyncClient(
        base_url=hooks_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as admin:
        created = await admin.post(
            "/v1/webhook-endpoints", json={"url": live_receiver.url, "events": ["*"]}
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        sku = (await create_product(admin, stock=3))["variants"][0]["sku"]
        placed = await checkout(admin, (await ready_cart(admin, [(sku, 1)]))["id"])
        assert placed.status_code == 201, placed.text
        expected = {e["id"] for e in await events_about(admin, placed.json()["id"])}
        assert len(expected) == 3

        # The first retry is due 1 s (0.8 to 1.2 s, jittered) after the first attempt.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ok = {r.event_id for r in live_receiver.received if live_receiver.count(r.event_id) > 1}
            if expected <= ok:
                break
            await asyncio.sleep(0.5)
        for received in live_receiver.received:
            assert verified(received, endpoint["secret"])
            assert body_of(received)["id"] == received.event_id
        for event_id in expected:
            assert live_receiver.count(event_id) == 2, live_receiver.received
        deliveries = await admin.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")
        shown = {d["event_id"]: d for d in deliveries.json()["data"]}
        assert expected <= set(shown)
        for event_id in expected:
            assert shown[event_id]["status"] == "succeeded"
            assert shown[event_id]["attempt_count"] == 2
