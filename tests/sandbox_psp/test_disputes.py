"""Disputes at the sandbox server's control routes: opened on a captured payment (never
more than is left to dispute), decided once, each told by a signed webhook that the
platform's sandbox connector reads as a dispute."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cartwright.kit import clock
from cartwright.payments.connector import WebhookKind
from cartwright.payments.connectors.sandbox import webhooks as verification
from tests.sandbox_psp.support import (
    WEBHOOK_SECRET,
    SandboxServer,
    create,
    receiver,
    sandbox,
)

__all__ = ["receiver", "sandbox"]  # the fixtures this module uses


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with sandbox.client() as client:
        yield client


async def test_a_dispute_is_opened_decided_once_and_told(
    sandbox: SandboxServer, client: httpx.AsyncClient
) -> None:
    payment = await create(client)  # 1000 captured
    too_much = await client.post(
        "/_sandbox/disputes", json={"payment": payment["id"], "amount": 1001}
    )
    assert too_much.status_code == 409, too_much.text
    bad_reason = await client.post(
        "/_sandbox/disputes", json={"payment": payment["id"], "reason": "bored"}
    )
    assert bad_reason.status_code == 400
    opened = await client.post(
        "/_sandbox/disputes", json={"payment": payment["id"], "amount": 400, "reason": "fraudulent"}
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert (dispute["status"], dispute["amount"], dispute["fee"]) == ("opened", 400, 1500)
    rest = await client.post("/_sandbox/disputes", json={"payment": payment["id"]})
    assert rest.status_code == 201 and rest.json()["amount"] == 600
    path = f"/_sandbox/disputes/{dispute['id']}/decision"
    assert (await client.post(path, json={"outcome": "maybe"})).status_code == 400
    assert (await client.post(path, json={"outcome": "won"})).json()["status"] == "won"
    assert (await client.post(path, json={"outcome": "lost"})).status_code == 409
    missing = await client.post("/_sandbox/disputes/dp_nope/decision", json={"outcome": "won"})
    assert missing.status_code == 404

    deliveries = await sandbox.receiver.wait_for(payment["id"], 3)
    told = [d for d in deliveries if d.event["type"].startswith("dispute.")]
    assert sorted(d.event["type"] for d in told) == [
        "dispute.created",
        "dispute.created",
        "dispute.won",
    ]
    for delivery in told:
        [event] = [
            verification.parse(WEBHOOK_SECRET, delivery.headers, delivery.body, now=clock.utcnow())
        ]
        assert event.kind in (WebhookKind.DISPUTE_OPENED, WebhookKind.DISPUTE_WON)
        assert event.dispute is not None and event.payment_id == payment["merchant_reference"]
        assert event.reference == payment["id"]
