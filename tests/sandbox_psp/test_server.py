"""The sandbox provider as a separate process, over HTTP: idempotency, every token, the
redirect method, capture/void/refund limits (also when raced), signed webhooks that are
retried, duplicated and reordered, faults by setting, and the settlement report."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import string
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from cartwright.payments.connectors.sandbox import webhooks as verification
from tests.sandbox_psp.support import (
    SLOW_RESPONSE_S,
    WEBHOOK_SECRET,
    SandboxServer,
    create,
    faults,
    key,
    payment_body,
    receiver,
    sandbox,
)

__all__ = ["faults", "receiver", "sandbox"]  # the fixtures this module uses


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with sandbox.client() as client:
        yield client


async def test_a_key_with_the_same_body_answers_the_same_payment_and_another_body_is_refused(
    client: httpx.AsyncClient,
) -> None:
    body, headers = payment_body(), key()
    first = await client.post("/v1/payments", json=body, headers=headers)
    again = await client.post("/v1/payments", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = await client.post("/v1/payments", json={**body, "amount": 999}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    # Racing retries of one key make one payment.
    body, headers = payment_body(), key()
    answers = await asyncio.gather(
        *(client.post("/v1/payments", json=body, headers=headers) for _ in range(8))
    )
    assert len({a.json()["id"] for a in answers}) == 1
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]


async def test_every_post_needs_the_key_and_every_call_the_api_key(
    sandbox: SandboxServer, client: httpx.AsyncClient
) -> None:
    assert (await client.post("/v1/payments", json=payment_body())).status_code == 400
    async with httpx.AsyncClient(base_url=sandbox.base_url) as anonymous:
        answer = await anonymous.post("/v1/payments", json=payment_body(), headers=key())
    assert answer.status_code == 401
    payment = await create(client, capture=False)
    confirm = f"/v1/payments/{payment['id']}/confirm"
    headers = key()
    assert (await client.post(confirm, headers=headers)).status_code == 200
    reused = await client.post(confirm, json={"other": 1}, headers=headers)
    assert reused.status_code == 422


@pytest.mark.parametrize(
    ("token", "capture", "status", "decline_code"),
    [
        ("tok_visa", True, "captured", None),
        ("tok_visa", False, "authorized", None),
        ("tok_declined", True, "declined", "card_declined"),
        ("tok_insufficient_funds", True, "declined", "insufficient_funds"),
        ("tok_unheard_of", True, "declined", "invalid_token"),
        ("tok_3ds_required", True, "requires_action", None),
        ("tok_redirect", True, "requires_action", None),
    ],
)
async def test_each_token_answers_its_outcome(
    client: httpx.AsyncClient, token: str, capture: bool, status: str, decline_code: str | None
) -> None:
    payment = await create(client, token, capture=capture)
    assert payment["status"] == status
    assert payment.get("decline_code") == decline_code
    assert (payment["amount"], payment["currency"]) == (1000, "EUR")
    assert payment["amount_captured"] == (1000 if status == "captured" else 0)


async def test_three_d_secure_completes_when_the_merchant_confirms(
    client: httpx.AsyncClient,
) -> None:
    payment = await create(client, "tok_3ds_required")
    assert payment["next_action"]["type"] == "three_d_secure"
    confirmed = await client.post(f"/v1/payments/{payment['id']}/confirm")
    assert confirmed.json()["status"] == "captured"
    assert confirmed.json()["amount_captured"] == 1000


async def test_a_processing_error_is_a_5xx_every_time_and_does_nothing(
    client: httpx.AsyncClient,
) -> None:
    body, headers = payment_body("tok_processing_error"), key()
    for _ in range(2):
        assert (await client.post("/v1/payments", json=body, headers=headers)).status_code == 500
    found = await client.get(
        "/v1/payments", params={"merchant_reference": body["merchant_reference"]}
    )
    assert found.json()["data"] == []


async def test_a_timeout_token_authorizes_and_answers_late(client: httpx.AsyncClient) -> None:
    body, headers = payment_body("tok_timeout"), key()
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/v1/payments", json=body, headers=headers, timeout=0.3)
    found = await client.get(
        "/v1/payments", params={"merchant_reference": body["merchant_reference"]}
    )
    assert found.json()["data"][0]["status"] == "captured"
    started = time.monotonic()
    retried = await client.post("/v1/payments", json=body, headers=headers)
    assert time.monotonic() - started >= SLOW_RESPONSE_S
    assert retried.status_code == 200 and retried.json()["id"] == found.json()["data"][0]["id"]
    # Another key for the same merchant reference charges nothing more.
    other = await client.post("/v1/payments", json=body, headers=key())
    assert other.status_code == 409


async def test_a_redirect_payment_completes_only_at_the_shoppers_page_and_is_told_by_webhook(
    sandbox: SandboxServer, client: httpx.AsyncClient
) -> None:
    payment = await create(client, "tok_redirect", return_url="https://shop.example/back?o=1")
    action = payment["next_action"]
    assert action["type"] == "redirect"
    # The merchant cannot complete it.
    assert (await client.post(f"/v1/payments/{payment['id']}/confirm")).json()["status"] == (
        "requires_action"
    )
    async with httpx.AsyncClient() as shopper:
        page = await shopper.get(action["url"])
        assert page.status_code == 200 and 'value="succeed"' in page.text
        done = await shopper.post(action["url"], data={"outcome": "succeed"})
    assert done.status_code == 303
    assert done.headers["location"] == (
        f"https://shop.example/back?o=1&payment={payment['id']}&status=captured"
    )
    [delivery] = await sandbox.receiver.wait_for(payment["id"], 1)
    verification.verify(WEBHOOK_SECRET, delivery.headers, delivery.body, now=datetime.now(UTC))
    assert delivery.event["type"] == "payment.captured"
    assert delivery.event["data"]["object"]["merchant_reference"] == payment["merchant_reference"]


async def test_a_failing_redirect_declines_whatever_the_shopper_chooses(
    sandbox: SandboxServer, client: httpx.AsyncClient
) -> None:
    for token, outcome, code in [
        ("tok_redirect_fail", "succeed", "redirect_refused"),
        ("tok_redirect", "fail", "authentication_failed"),
    ]:
        payment = await create(client, token)
        async with httpx.AsyncClient() as shopper:
            await shopper.post(payment["next_action"]["url"], data={"outcome": outcome})
        [delivery] = await sandbox.receiver.wait_for(payment["id"], 1)
        assert delivery.event["type"] == "payment.declined"
        assert delivery.event["data"]["object"]["decline_code"] == code


async def _capture(
    client: httpx.AsyncClient, payment_id: str, amount: int, **fields: object
) -> httpx.Response:
    return await client.post(
        f"/v1/payments/{payment_id}/captures",
        json={"amount": amount, "currency": "EUR", **fields},
        headers=key(),
    )


async def test_captures_never_exceed_the_authorization_even_raced(
    client: httpx.AsyncClient,
) -> None:
    payment = await create(client, capture=False)
    answers = await asyncio.gather(*(_capture(client, payment["id"], 300) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [201, 201, 201, 409, 409]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
        "amount_too_large"
    }
    now = (await client.get(f"/v1/payments/{payment['id']}")).json()
    assert (now["status"], now["amount_captured"], now["capturable"]) == ("captured", 900, True)
    # The rest is voided: nothing more can be captured, what was captured stays.
    voided = (await client.post(f"/v1/payments/{payment['id']}/void")).json()
    assert (voided["status"], voided["amount_captured"]) == ("voided", 900)
    assert (await _capture(client, payment["id"], 50)).json()["error"]["code"] == "invalid_state"


async def test_a_final_capture_releases_the_rest(client: httpx.AsyncClient) -> None:
    payment = await create(client, capture=False)
    captured = await _capture(client, payment["id"], 400, final=True)
    assert captured.status_code == 201 and captured.json()["fee"] == 31  # 1.4 % of 400 + 25
    assert (await _capture(client, payment["id"], 100)).json()["error"]["code"] == "invalid_state"
    wrong = await client.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": 100, "currency": "USD"},
        headers=key(),
    )
    assert wrong.json()["error"]["code"] == "currency_mismatch"


async def test_refunds_never_exceed_what_was_captured_even_raced(
    client: httpx.AsyncClient,
) -> None:
    payment = await create(client)  # captured in full: 1000

    async def refund(amount: int) -> httpx.Response:
        return await client.post(
            f"/v1/payments/{payment['id']}/refunds",
            json={"amount": amount, "currency": "EUR", "reason": "requested"},
            headers=key(),
        )

    answers = await asyncio.gather(*(refund(300) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 201, 201, 409]
    assert (await refund(101)).status_code == 409
    assert (await refund(100)).status_code == 201
    now = (await client.get(f"/v1/payments/{payment['id']}")).json()
    assert (now["amount_captured"], now["amount_refunded"]) == (1000, 1000)
    uncaptured = await create(client, capture=False)
    answer = await client.post(
        f"/v1/payments/{uncaptured['id']}/refunds",
        json={"amount": 1, "currency": "EUR"},
        headers=key(),
    )
    assert answer.json()["error"]["code"] == "invalid_state"


async def test_a_capture_retried_with_its_key_captures_once(client: httpx.AsyncClient) -> None:
    payment = await create(client, capture=False)
    path, headers = f"/v1/payments/{payment['id']}/captures", key()
    body = {"amount": 200, "currency": "EUR"}
    answers = await asyncio.gather(
        *(client.post(path, json=body, headers=headers) for _ in range(4))
    )
    assert len({a.json()["id"] for a in answers}) == 1
    assert (await client.get(f"/v1/payments/{payment['id']}")).json()["amount_captured"] == 200
    other = await client.post(path, json={**body, "amount": 201}, headers=headers)
    assert other.status_code == 422


async def test_a_void_by_reference_leaves_a_tombstone_a_late_create_cannot_charge(
    client: httpx.AsyncClient,
) -> None:
    body = payment_body()
    reference = body["merchant_reference"]
    voided = await client.post(
        "/v1/payments/void_by_reference", json={"merchant_reference": reference}, headers=key()
    )
    assert voided.json()["status"] == "voided"
    late = await client.post("/v1/payments", json=body, headers=key())
    assert late.status_code == 200
    assert (late.json()["status"], late.json()["amount_captured"]) == ("voided", 0)
    # A payment that exists is voided by its reference; a captured one stays captured.
    authorized = await create(client, capture=False)
    by_ref = {"merchant_reference": authorized["merchant_reference"]}
    answer = await client.post("/v1/payments/void_by_reference", json=by_ref)
    assert answer.json()["id"] == authorized["id"] and answer.json()["status"] == "voided"
    captured = await create(client)
    by_ref = {"merchant_reference": captured["merchant_reference"]}
    answer = await client.post("/v1/payments/void_by_reference", json=by_ref)
    assert answer.json()["status"] == "captured"


async def test_webhooks_are_signed_and_retried_until_the_receiver_takes_them(
    sandbox: SandboxServer, client: httpx.AsyncClient
) -> None:
    sandbox.receiver.fail_next = 2
    payment = await create(client, capture=False)
    capture = await _capture(client, payment["id"], 250)
    [delivery] = await sandbox.receiver.wait_for(payment["id"], 1)
    assert sandbox.receiver.refused >= 2
    event = delivery.event
    assert event["type"] == "capture.succeeded"
    assert event["data"]["object"]["idempotency_key"] == capture.request.headers["Idempotency-Key"]
    assert event["data"]["payment"]["amount_captured"] == 250
    verification.verify(WEBHOOK_SECRET, delivery.headers, delivery.body, now=datetime.now(UTC))


async def test_some_webhooks_come_twice_and_some_out_of_order(
    sandbox: SandboxServer, client: httpx.AsyncClient, faults: httpx.AsyncClient
) -> None:
    payment = await create(client, capture=False)
    settings = {"webhook_duplicate_rate": 1, "webhook_reorder_rate": 1}
    await faults.put("/_sandbox/settings", json={**settings, "webhook_reorder_delay_s": 0.5})
    await _capture(client, payment["id"], 100)  # held back 0.5 s, and sent twice
    await faults.put(
        "/_sandbox/settings", json={"webhook_duplicate_rate": 0, "webhook_reorder_rate": 0}
    )
    await _capture(client, payment["id"], 200)
    deliveries = await sandbox.receiver.wait_for(payment["id"], 3)
    amounts = [d.event["data"]["object"]["amount"] for d in deliveries]
    assert amounts == [200, 100, 100]
    assert deliveries[1].event["id"] == deliveries[2].event["id"]


async def test_an_outage_set_at_runtime_refuses_before_acting_and_ends(
    client: httpx.AsyncClient, faults: httpx.AsyncClient
) -> None:
    assert (await faults.put("/_sandbox/settings", json={"error_rate": 1})).status_code == 200
    body = payment_body()
    assert (await client.post("/v1/payments", json=body, headers=key())).status_code == 503
    await faults.put("/_sandbox/settings", json={"error_rate": 0, "latency_ms": 200})
    started = time.monotonic()
    found = await client.get(
        "/v1/payments", params={"merchant_reference": body["merchant_reference"]}
    )
    assert found.json()["data"] == [] and time.monotonic() - started >= 0.2
    assert (await faults.put("/_sandbox/settings", json={"error_rate": 2})).status_code == 400
    assert (await faults.put("/_sandbox/settings", json={"nonsense": 1})).status_code == 400


async def test_the_timeout_rate_acts_then_answers_late(
    client: httpx.AsyncClient, faults: httpx.AsyncClient
) -> None:
    await faults.put("/_sandbox/settings", json={"timeout_rate": 1, "slow_response_s": 0.5})
    body = payment_body()
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/v1/payments", json=body, headers=key(), timeout=0.2)
    found = await client.get(
        "/v1/payments", params={"merchant_reference": body["merchant_reference"]}
    )
    assert found.json()["data"][0]["status"] == "captured"


async def test_the_settlement_report_sums_captures_refunds_and_fees(
    client: httpx.AsyncClient,
) -> None:
    currency = "X" + "".join(random.choices(string.ascii_uppercase, k=2))  # this test's rows
    auto = await create(client, currency=currency, amount=10_000)  # captured with it
    manual = await create(client, currency=currency, amount=5_000, capture=False)
    for amount in (1_000, 2_000):
        answer = await client.post(
            f"/v1/payments/{manual['id']}/captures",
            json={"amount": amount, "currency": currency},
            headers=key(),
        )
        assert answer.status_code == 201
    await client.post(
        f"/v1/payments/{auto['id']}/refunds",
        json={"amount": 2_500, "currency": currency},
        headers=key(),
    )
    day = datetime.now(UTC).date().isoformat()
    report = await client.get(f"/v1/settlements/{day}")
    assert report.headers["content-type"].startswith("text/csv")
    rows = [r for r in csv.DictReader(io.StringIO(report.text)) if r["currency"] == currency]
    assert [r["type"] for r in rows] == ["capture", "capture", "capture", "refund"]
    fees = [int(r["fee"]) for r in rows]
    assert fees == [140 + 25, 14 + 25, 28 + 25, 0]
    assert all(int(r["net"]) == int(r["gross"]) - int(r["fee"]) for r in rows)
    assert sum(int(r["net"]) for r in rows) == 10_000 + 3_000 - 2_500 - sum(fees)
    assert {r["merchant_reference"] for r in rows} == {
        auto["merchant_reference"],
        manual["merchant_reference"],
    }
    assert (await client.get("/v1/settlements/yesterday")).status_code == 400
