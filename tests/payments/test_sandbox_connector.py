"""The sandbox connector against a real `cartwright sandbox-psp` process: every method in
our types, errors classified (retryable, timeout, refused), and webhooks verified (forged,
stale and altered deliveries refused)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from cartwright.payments.connector import (
    AuthorizeRequest,
    CaptureRequest,
    InvalidWebhook,
    OperationStatus,
    ProviderStatus,
    RefundRequest,
    RetryableProviderError,
    VoidRequest,
    WebhookKind,
)
from cartwright.payments.connectors.sandbox.client import SandboxConnector
from cartwright.payments.connectors.sandbox.wire import AiohttpWire
from tests.conftest import ADMIN_KEY, free_port, start_server
from tests.factories import checkout, create_product, ready_cart
from tests.sandbox_psp.support import (
    API_KEY,
    WEBHOOK_SECRET,
    SandboxServer,
    faults,
    receiver,
    sandbox,
)

__all__ = ["faults", "receiver", "sandbox"]  # the fixtures this module uses


def connector_to(base_url: str, timeout_s: float = 5.0) -> SandboxConnector:
    client = AiohttpWire(
        base_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout_s=timeout_s,
        connect_s=min(2.0, timeout_s),
    )
    return SandboxConnector(client, webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
async def connector(sandbox: SandboxServer) -> AsyncIterator[SandboxConnector]:
    connector = connector_to(sandbox.base_url)
    yield connector
    await connector.aclose()


def authorize(
    token: str = "tok_visa", *, capture: bool = True, amount: int = 1000
) -> AuthorizeRequest:
    return AuthorizeRequest("pay_" + uuid.uuid4().hex, amount, "EUR", token, capture)


@pytest.mark.parametrize(
    ("token", "capture", "status", "decline_code"),
    [
        ("tok_visa", True, ProviderStatus.CAPTURED, None),
        ("tok_visa", False, ProviderStatus.AUTHORIZED, None),
        ("tok_declined", True, ProviderStatus.DECLINED, "card_declined"),
        ("tok_insufficient_funds", True, ProviderStatus.DECLINED, "insufficient_funds"),
        ("tok_3ds_required", True, ProviderStatus.REQUIRES_ACTION, None),
        ("tok_redirect", True, ProviderStatus.REQUIRES_ACTION, None),
    ],
)
async def test_authorize_maps_each_token(
    connector: SandboxConnector,
    token: str,
    capture: bool,
    status: ProviderStatus,
    decline_code: str | None,
) -> None:
    request = authorize(token, capture=capture)
    result = await connector.authorize(request)
    assert result.status is status and result.decline_code == decline_code
    assert (result.amount, result.currency) == (1000, "EUR")
    assert result.reference is not None and result.reference.startswith("pay_")
    assert result.amount_captured == (1000 if status is ProviderStatus.CAPTURED else 0)
    if status is ProviderStatus.REQUIRES_ACTION:
        assert result.next_action is not None and result.next_action["url"].startswith("http")
    # A retry with the same key finds the same payment; so does a lookup by our id.
    assert (await connector.authorize(request)).reference == result.reference
    assert (await connector.retrieve(request.payment_id)).reference == result.reference


async def test_confirm_by_our_reference_completes_three_d_secure(
    connector: SandboxConnector,
) -> None:
    request = authorize("tok_3ds_required")
    await connector.authorize(request)
    confirmed = await connector.confirm(request.payment_id, None)
    assert confirmed.status is ProviderStatus.CAPTURED and confirmed.amount_captured == 1000
    unknown = await connector.confirm("pay_" + uuid.uuid4().hex, None)
    assert unknown.status is ProviderStatus.NOT_FOUND


async def test_retrieve_of_a_payment_never_seen_is_not_found(connector: SandboxConnector) -> None:
    assert (await connector.retrieve("pay_" + uuid.uuid4().hex)).status is ProviderStatus.NOT_FOUND


async def test_capture_void_and_refund_with_their_limits(connector: SandboxConnector) -> None:
    request = authorize(capture=False)
    reference = (await connector.authorize(request)).reference

    def capture(amount: int, capture_id: str | None = None) -> CaptureRequest:
        capture_id = capture_id or "cap_" + uuid.uuid4().hex
        return CaptureRequest(request.payment_id, reference, capture_id, amount, "EUR", False)

    first = capture(600)
    done = await connector.capture(first)
    assert done.status is OperationStatus.SUCCEEDED and done.amount == 600
    assert (await connector.capture(first)).reference == done.reference  # same key: once
    refused = await connector.capture(capture(500))
    assert refused.status is OperationStatus.FAILED
    assert refused.failure_code == "amount_too_large"
    # Without the provider's reference, by ours.
    by_ours = CaptureRequest(request.payment_id, None, "cap_" + uuid.uuid4().hex, 100, "EUR", False)
    assert (await connector.capture(by_ours)).status is OperationStatus.SUCCEEDED
    voided = await connector.void(VoidRequest(request.payment_id, reference))
    assert voided.status is ProviderStatus.VOIDED and voided.amount_captured == 700

    def refund(amount: int) -> RefundRequest:
        return RefundRequest(
            request.payment_id, reference, "rfd_" + uuid.uuid4().hex, amount, "EUR", "returned"
        )

    assert (await connector.refund(refund(700))).status is OperationStatus.SUCCEEDED
    over = await connector.refund(refund(1))
    assert (over.status, over.failure_code) == (OperationStatus.FAILED, "amount_too_large")
    missing = CaptureRequest("pay_" + uuid.uuid4().hex, None, "cap_x", 1, "EUR", True)
    assert (await connector.capture(missing)).failure_code == "payment_not_found"


async def test_a_void_by_our_reference_stops_a_late_authorization(
    connector: SandboxConnector,
) -> None:
    request = authorize()
    voided = await connector.void(VoidRequest(request.payment_id, None))
    assert voided.status is ProviderStatus.VOIDED
    late = await connector.authorize(request)
    assert late.status is ProviderStatus.VOIDED and late.amount_captured == 0


async def test_a_processing_error_and_an_outage_are_retryable(
    connector: SandboxConnector, faults: httpx.AsyncClient
) -> None:
    with pytest.raises(RetryableProviderError):
        await connector.authorize(authorize("tok_processing_error"))
    await faults.put("/_sandbox/settings", json={"error_rate": 1})
    request = authorize()
    with pytest.raises(RetryableProviderError):
        await connector.authorize(request)
    await faults.put("/_sandbox/settings", json={"error_rate": 0})
    assert (await connector.retrieve(request.payment_id)).status is ProviderStatus.NOT_FOUND


async def test_a_refused_connection_is_retryable() -> None:
    connector = connector_to(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(RetryableProviderError):
            await connector.authorize(authorize())
    finally:
        await connector.aclose()


async def test_a_late_answer_is_a_timeout_and_the_payment_is_found_later(
    sandbox: SandboxServer,
) -> None:
    connector = connector_to(sandbox.base_url, timeout_s=0.3)
    request = authorize("tok_timeout")
    try:
        with pytest.raises(TimeoutError):
            await connector.authorize(request)
        found = await connector.retrieve(request.payment_id)
    finally:
        await connector.aclose()
    assert found.status is ProviderStatus.CAPTURED


async def test_webhooks_are_read_into_events_and_forged_stale_or_altered_ones_refused(
    sandbox: SandboxServer, connector: SandboxConnector
) -> None:
    request = authorize(capture=False)
    reference = (await connector.authorize(request)).reference
    capture = CaptureRequest(
        request.payment_id, reference, "cap_" + uuid.uuid4().hex, 300, "EUR", True
    )
    await connector.capture(capture)
    assert reference is not None
    [delivery] = await sandbox.receiver.wait_for(reference, 1)
    now = datetime.now(UTC)
    [event] = connector.parse_webhook(delivery.headers, delivery.body, now=now)
    assert event.kind is WebhookKind.CAPTURE and event.type == "capture.succeeded"
    assert (event.payment_id, event.reference) == (request.payment_id, reference)
    assert event.operation_key == capture.capture_id
    assert event.operation is not None and event.operation.amount == 300
    assert event.payment is not None and event.payment.amount_captured == 300
    assert event.event_id == delivery.event["id"]

    async with httpx.AsyncClient() as unused:
        forged = SandboxConnector(unused, webhook_secret="whsec_not_the_one")
        with pytest.raises(InvalidWebhook):
            forged.parse_webhook(delivery.headers, delivery.body, now=now)
    with pytest.raises(InvalidWebhook):  # replayed long after it was signed
        connector.parse_webhook(delivery.headers, delivery.body, now=now + timedelta(seconds=301))
    altered = delivery.body.replace(b'"amount":300', b'"amount":30000')
    assert altered != delivery.body
    with pytest.raises(InvalidWebhook):
        connector.parse_webhook(delivery.headers, altered, now=now)
    with pytest.raises(InvalidWebhook):
        connector.parse_webhook({}, delivery.body, now=now)


async def test_the_platform_pays_through_the_sandbox_server_at_its_url(
    sandbox: SandboxServer, faults: httpx.AsyncClient, own_pg_database: str, tmp_path: Path
) -> None:
    # Longer than the server's payment timeout (1 s in tests), so tok_timeout times out.
    await faults.put("/_sandbox/settings", json={"slow_response_s": 2.5})
    server = start_server(
        own_pg_database,
        tmp_path / "server.log",
        extra_env={
            "CARTWRIGHT_SANDBOX_URL": sandbox.base_url,
            "CARTWRIGHT_SANDBOX_API_KEY": API_KEY,
            "CARTWRIGHT_SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET,
        },
    )
    try:
        async with httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
        ) as admin:
            sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
            paid = await checkout(admin, (await ready_cart(admin, [(sku, 1)]))["id"])
            assert paid.status_code == 201 and paid.json()["payment_status"] == "captured"
            late = await checkout(
                admin, (await ready_cart(admin, [(sku, 1)]))["id"], token="tok_timeout"
            )
            assert late.status_code == 202 and late.json()["payment_status"] == "pending"
            order_id = late.json()["id"]
            deadline = asyncio.get_running_loop().time() + 20
            while (await admin.get(f"/v1/orders/{order_id}")).json()["payment_status"] == "pending":
                assert asyncio.get_running_loop().time() < deadline, "never recovered"
                await asyncio.sleep(0.25)
            assert (await admin.get(f"/v1/orders/{order_id}")).json()[
                "payment_status"
            ] == "captured"
    finally:
        server.stop()
    # The sandbox's own books hold both payments under the platform's payment ids.
    with psycopg.connect(own_pg_database) as conn:
        ours = [row[0] for row in conn.execute("SELECT id FROM payments ORDER BY created_at")]
    async with sandbox.client() as client:
        for payment_id in ours:
            found = (
                await client.get("/v1/payments", params={"merchant_reference": payment_id})
            ).json()
            assert found["data"][0]["status"] == "captured"
    assert len(ours) == 2
