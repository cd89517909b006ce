"""The sandbox embedded in the platform's processes (the default): its books in the
platform's database, its shopper pages served by the API, its webhooks queued for the
platform's own endpoint."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from cartwright.kit.db import Database
from cartwright.payments.connector import (
    AuthorizeRequest,
    CaptureRequest,
    OperationStatus,
    ProviderStatus,
    RefundRequest,
    RetryableProviderError,
    VoidRequest,
)
from cartwright.payments.connectors.sandbox.client import SandboxConnector
from cartwright.sandbox_psp.inprocess import InProcessClient
from cartwright.sandbox_psp.server import Sandbox
from cartwright.sandbox_psp.settings import Faults, SandboxConfig
from tests.conftest import Server
from tests.factories import checkout, create_product, events_about, ready_cart


async def test_a_redirect_payment_is_completed_at_the_pages_the_api_serves(
    pg_server: Server, pg_admin: httpx.AsyncClient
) -> None:
    sku = (await create_product(pg_admin, stock=1))["variants"][0]["sku"]
    cart = await ready_cart(pg_admin, [(sku, 1)])
    answer = await checkout(pg_admin, cart["id"], token="tok_redirect")
    assert answer.status_code == 202, answer.text
    order = answer.json()
    assert order["payment_status"] == "requires_action"
    action = order["next_action"]
    assert action["type"] == "redirect"
    path = urlsplit(action["url"]).path
    assert path.startswith("/sandbox-psp/redirect/pay_")
    async with httpx.AsyncClient(base_url=pg_server.base_url) as shopper:  # no key
        assert "Succeed" in (await shopper.get(path)).text
        assert (await shopper.post(path, data={"outcome": "succeed"})).status_code == 200
    with psycopg.connect(pg_server.database_url) as conn:
        row = conn.execute(
            "SELECT s.status, s.amount_captured, s.amount FROM sandbox_payments s"
            " JOIN payments p ON p.id = s.merchant_reference WHERE p.order_id = %s",
            (order["id"],),
        ).fetchone()
        told = conn.execute(
            "SELECT count(*) FROM sandbox_webhook_deliveries WHERE body LIKE %s",
            ('%"payment.captured"%' + path.rsplit("/", 1)[1] + "%",),
        ).fetchone()
    assert row is not None and row[0] == "captured" and row[1] == row[2]
    assert told is not None and told[0] == 1
    # Nobody confirms: the provider's webhook alone places the order.
    deadline = asyncio.get_running_loop().time() + 20
    while (now := (await pg_admin.get(f"/v1/orders/{order['id']}")).json())[
        "payment_status"
    ] == "requires_action":
        assert asyncio.get_running_loop().time() < deadline, "the webhook never arrived"
        await asyncio.sleep(0.2)
    assert now["payment_status"] == "captured", now
    assert now["amount_captured"]["amount"] == order["totals"]["total"]["amount"]
    types = [e["type"] for e in await events_about(pg_admin, order["id"])]
    assert types.count("order.placed") == 1 and types.count("payment.captured") == 1


async def test_the_connector_calls_the_embedded_app_in_process(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'books.db'}")
    await db.connect()
    sandbox = Sandbox(db, SandboxConfig(api_key="k", faults=Faults(slow_response_s=0.5)))
    await sandbox.start(None)
    connector = SandboxConnector(
        InProcessClient(sandbox.app, {"Authorization": "Bearer k"}), webhook_secret="s"
    )
    try:
        payment_id = "pay_" + uuid.uuid4().hex
        authorized = await connector.authorize(
            AuthorizeRequest(payment_id, 900, "EUR", "tok_visa", False)
        )
        assert authorized.status is ProviderStatus.AUTHORIZED
        assert (await connector.retrieve(payment_id)).reference == authorized.reference
        capture = CaptureRequest(payment_id, None, "cap_1", 900, "EUR", True)
        assert (await connector.capture(capture)).status is OperationStatus.SUCCEEDED
        refund = RefundRequest(payment_id, None, "rfd_1", 901, "EUR")
        assert (await connector.refund(refund)).failure_code == "amount_too_large"
        with pytest.raises(RetryableProviderError):
            await connector.authorize(
                AuthorizeRequest("pay_" + uuid.uuid4().hex, 1, "EUR", "tok_processing_error")
            )
        # The gateway's timeout cuts a late answer short; the payment was made.
        late = AuthorizeRequest("pay_" + uuid.uuid4().hex, 1, "EUR", "tok_timeout")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await connector.authorize(late)
        assert (await connector.retrieve(late.payment_id)).status is ProviderStatus.CAPTURED
        unseen = VoidRequest("pay_" + uuid.uuid4().hex, None)
        assert (await connector.void(unseen)).status is ProviderStatus.VOIDED
    finally:
        await connector.aclose()
        await sandbox.stop()
        await db.close()
