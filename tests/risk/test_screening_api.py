"""Fraud screening over HTTP on both databases (contract "Risk, flags", ADR 0024): the test
emails reject (402, nothing charged, stock back, cart payable again) and send to review
(authorized, not captured, not fulfillable until approved; approved captures, rejected
voids, releases the stock and cancels), and the denylist's API."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.api.support import assert_problem, idempotency_key
from tests.factories import checkout, create_product, events_about, ready_cart, stock_of


async def _cart(admin: httpx.AsyncClient, email: str, quantity: int = 2) -> tuple[str, str]:
    sku = (await create_product(admin, price=1_500, stock=5))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, quantity)])
    patched = await admin.patch(f"/v1/carts/{cart['id']}", json={"email": email})
    assert patched.status_code == 200, patched.text
    return cart["id"], sku


def _email(hook: str = "example.com") -> str:
    return f"shopper-{uuid.uuid4().hex[:10]}@{hook}"


async def _post(admin: httpx.AsyncClient, path: str) -> httpx.Response:
    return await admin.post(path, headers={"Idempotency-Key": idempotency_key()})


async def test_an_ordinary_checkout_is_accepted_and_shows_its_risk(
    admin: httpx.AsyncClient,
) -> None:
    cart_id, _ = await _cart(admin, _email())
    placed = await checkout(admin, cart_id)
    assert placed.status_code == 201, placed.text
    risk = placed.json()["risk"]
    assert risk["decision"] == "accept" and risk["review"] is None
    assert isinstance(risk["score"], int) and risk["score"] < 50
    assert "fraud_fallback" not in risk  # no external service configured
    assert placed.json()["payment_status"] == "captured"


async def test_a_rejected_checkout_charges_nothing_and_the_cart_can_be_paid_again(
    admin: httpx.AsyncClient,
) -> None:
    cart_id, sku = await _cart(admin, _email("risk-reject.test"))
    key = idempotency_key()
    refused = await checkout(admin, cart_id, key=key)
    problem = assert_problem(refused, 402, "payment_declined")
    assert problem["decline_code"] == "risk_rejected"
    assert (await stock_of(admin, sku))["reserved"] == 0
    assert (await stock_of(admin, sku))["available"] == 5
    # The same key answers the same refusal; nothing was sent to the provider.
    again = await checkout(admin, cart_id, key=key)
    assert again.status_code == 402 and again.json()["decline_code"] == "risk_rejected"
    assert (await admin.get(f"/v1/carts/{cart_id}")).json()["status"] == "open"
    # The cart, with another email, is paid for.
    await admin.patch(f"/v1/carts/{cart_id}", json={"email": _email()})
    paid = await checkout(admin, cart_id)
    assert paid.status_code == 201, paid.text
    assert (await stock_of(admin, sku))["on_hand"] == 5
    assert (await stock_of(admin, sku))["reserved"] == 2


async def _in_review(admin: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    cart_id, sku = await _cart(admin, _email("risk-review.test"))
    placed = await checkout(admin, cart_id)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["risk"]["decision"] == "review" and order["risk"]["review"] == "pending"
    assert [r["code"] for r in order["risk"]["reasons"]] == ["test_review"]
    # Authorized, not captured, though the channel captures automatically.
    assert order["payment_status"] == "authorized"
    assert order["amount_captured"]["amount"] == 0
    return order, sku


async def test_an_order_in_review_is_not_fulfilled_until_approved_then_captured(
    admin: httpx.AsyncClient,
) -> None:
    order, sku = await _in_review(admin)
    path = f"/v1/orders/{order['id']}"
    line = order["lines"][0]["id"]
    held = await admin.post(
        f"{path}/fulfillments",
        json={"lines": [{"line_id": line, "quantity": 1}]},
        headers={"Idempotency-Key": idempotency_key()},
    )
    assert_problem(held, 409, "invalid_state")
    capture = await admin.post(
        f"{path}/capture", json={}, headers={"Idempotency-Key": idempotency_key()}
    )
    assert_problem(capture, 409, "invalid_state")

    approved = await _post(admin, f"{path}/risk/approve")
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["payment_status"] == "captured"
    assert body["amount_captured"]["amount"] == order["totals"]["total"]["amount"]
    assert body["risk"]["review"] == "approved"
    # Idempotent; the other way round is refused.
    again = await _post(admin, f"{path}/risk/approve")
    assert again.status_code == 200 and again.json()["payment_status"] == "captured"
    assert_problem(await _post(admin, f"{path}/risk/reject"), 409, "invalid_state")
    sent = await admin.post(
        f"{path}/fulfillments",
        json={"lines": [{"line_id": line, "quantity": 2}]},
        headers={"Idempotency-Key": idempotency_key()},
    )
    assert sent.status_code == 201, sent.text
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert types.index("order.risk_review") < types.index("order.risk_approved")
    assert types.count("order.risk_approved") == 1
    assert types.index("order.risk_approved") < types.index("payment.captured")


async def test_a_rejected_review_voids_releases_the_stock_and_cancels(
    admin: httpx.AsyncClient,
) -> None:
    order, sku = await _in_review(admin)
    path = f"/v1/orders/{order['id']}"
    assert (await stock_of(admin, sku))["reserved"] == 2
    rejected = await _post(admin, f"{path}/risk/reject")
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert body["status"] == "canceled" and body["payment_status"] == "voided"
    assert body["amount_captured"]["amount"] == 0
    assert body["risk"]["review"] == "rejected"
    assert (await stock_of(admin, sku))["reserved"] == 0
    assert (await stock_of(admin, sku))["available"] == 5
    again = await _post(admin, f"{path}/risk/reject")
    assert again.status_code == 200 and again.json()["status"] == "canceled"
    assert_problem(await _post(admin, f"{path}/risk/approve"), 409, "invalid_state")
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert types.count("order.risk_rejected") == 1
    assert "payment.voided" in types and types[-1] == "order.canceled"


async def test_review_actions_on_an_order_never_in_review_are_409(
    admin: httpx.AsyncClient,
) -> None:
    cart_id, _ = await _cart(admin, _email())
    order = (await checkout(admin, cart_id)).json()
    for action in ("approve", "reject"):
        assert_problem(
            await _post(admin, f"/v1/orders/{order['id']}/risk/{action}"), 409, "invalid_state"
        )
    assert_problem(await _post(admin, "/v1/orders/ord_missing/risk/approve"), 404, "not_found")


async def test_the_denylist_is_managed_by_api_and_audited(admin: httpx.AsyncClient) -> None:
    email = _email().upper()
    added = await admin.post(
        "/v1/risk/denylist", json={"kind": "email", "value": f"  {email} ", "note": "chargebacks"}
    )
    assert added.status_code == 201, added.text
    entry = added.json()
    assert entry["object"] == "risk_denylist_entry" and entry["value"] == email.strip().lower()
    assert entry["id"].startswith("rdl_")
    same = await admin.post("/v1/risk/denylist", json={"kind": "email", "value": email.lower()})
    assert same.status_code == 200 and same.json()["id"] == entry["id"]
    bad = await admin.post("/v1/risk/denylist", json={"kind": "address", "value": "not-an-ip"})
    assert_problem(bad, 422, "validation_error")
    unknown_kind = await admin.post("/v1/risk/denylist", json={"kind": "phone", "value": "1"})
    assert unknown_kind.status_code == 422

    listed, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"starting_after": after} if after else {})}
        page = (await admin.get("/v1/risk/denylist", params=params)).json()
        listed += page["data"]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    assert entry["id"] in [e["id"] for e in listed]

    removed = await admin.delete(f"/v1/risk/denylist/{entry['id']}")
    assert removed.status_code == 200 and removed.json()["id"] == entry["id"]
    assert_problem(await admin.delete(f"/v1/risk/denylist/{entry['id']}"), 404, "not_found")
    audit = (await admin.get("/v1/audit-events", params={"target_id": entry["id"]})).json()["data"]
    assert {a["action"] for a in audit} == {"risk.denylist_added", "risk.denylist_removed"}


async def test_the_denylist_needs_its_scopes(admin: httpx.AsyncClient) -> None:
    created = await admin.post(
        "/v1/api-keys", json={"type": "secret", "name": "orders only", "scopes": ["orders:read"]}
    )
    assert created.status_code == 201, created.text
    async with httpx.AsyncClient(
        base_url=str(admin.base_url), headers={"Authorization": f"Bearer {created.json()['key']}"}
    ) as client:
        assert_problem(await client.get("/v1/risk/denylist"), 403, "forbidden")
        denied = await client.post("/v1/risk/denylist", json={"kind": "email", "value": "a@b.cd"})
        assert denied.status_code == 403


async def test_approve_and_reject_at_once_one_wins(admin: httpx.AsyncClient) -> None:
    order, sku = await _in_review(admin)
    path = f"/v1/orders/{order['id']}/risk"
    approved, rejected = await asyncio.gather(
        _post(admin, f"{path}/approve"), _post(admin, f"{path}/reject")
    )
    statuses = sorted([approved.status_code, rejected.status_code])
    assert statuses == [200, 409], (approved.text, rejected.text)
    now = (await admin.get(f"/v1/orders/{order['id']}")).json()
    if approved.status_code == 200:
        assert now["risk"]["review"] == "approved" and now["payment_status"] == "captured"
        assert (await stock_of(admin, sku))["reserved"] == 2
    else:
        assert now["risk"]["review"] == "rejected" and now["status"] == "canceled"
        assert (await stock_of(admin, sku))["reserved"] == 0
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert types.count("order.risk_approved") + types.count("order.risk_rejected") == 1
