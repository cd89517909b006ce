"""The order lifecycle over HTTP on both databases: fulfilments, cancellation, refunds by
lines, returns and edits as the contract shows them (statuses, problems, events)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.support import assert_problem, idempotency_key
from tests.factories import checkout, create_product, events_about, ready_cart, stock_of


async def placed_order(admin: httpx.AsyncClient, *lines: int) -> tuple[dict[str, Any], list[str]]:
    skus = []
    for _ in lines:
        skus.append((await create_product(admin, price=1_000, stock=10))["variants"][0]["sku"])
    cart = await ready_cart(admin, list(zip(skus, lines, strict=True)))
    placed = await checkout(admin, cart["id"])
    assert placed.status_code == 201, placed.text
    return placed.json(), skus


async def post(
    admin: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await admin.post(path, json=body, headers={"Idempotency-Key": idempotency_key()})


def lines(line_id: str, quantity: int) -> dict[str, Any]:
    return {"lines": [{"line_id": line_id, "quantity": quantity}]}


async def test_fulfilments_complete_the_order(admin: httpx.AsyncClient) -> None:
    order, (sku,) = await placed_order(admin, 2)
    path = f"/v1/orders/{order['id']}"
    line = order["lines"][0]["id"]
    unknown = await post(
        admin, f"{path}/fulfillments", {"lines": [{"line_id": "x", "quantity": 1}]}
    )
    assert_problem(unknown, 422, "validation_error")
    too_many = await post(
        admin, f"{path}/fulfillments", {"lines": [{"line_id": line, "quantity": 3}]}
    )
    assert_problem(too_many, 409, "invalid_state")
    sent = await post(
        admin,
        f"{path}/fulfillments",
        {"lines": [{"line_id": line, "quantity": 2}], "tracking_number": "1Z9", "carrier": "ups"},
    )
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["id"].startswith("ful_") and body["tracking_number"] == "1Z9"
    assert body["lines"] == [{"line_id": line, "quantity": 2}]
    now = (await admin.get(path)).json()
    assert now["fulfillment_status"] == "fulfilled" and now["status"] == "completed"
    listed = (await admin.get(f"{path}/fulfillments")).json()["data"]
    assert [f["id"] for f in listed] == [body["id"]]
    assert (await stock_of(admin, sku))["on_hand"] == 8
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert "order.fulfilled" in types and "order.completed" in types
    fulfilled = next(
        e for e in await events_about(admin, order["id"]) if e["type"] == "order.fulfilled"
    )
    assert fulfilled["data"]["fulfillment"]["id"] == body["id"]
    # Completed: cannot be canceled.
    assert_problem(await post(admin, f"{path}/cancel"), 409, "invalid_state")
    audited = await admin.get("/v1/audit-events", params={"target_id": order["id"]})
    entries = [e for e in audited.json()["data"] if e["action"] == "order.fulfilled"]
    assert [e["changes"]["fulfillment_id"] for e in entries] == [body["id"]]


async def test_cancel_refunds_and_releases(admin: httpx.AsyncClient) -> None:
    order, (sku,) = await placed_order(admin, 3)
    path = f"/v1/orders/{order['id']}"
    no_key = await admin.post(f"{path}/cancel")
    assert_problem(no_key, 422, "validation_error")
    canceled = await post(admin, f"{path}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["payment_status"] == "refunded"
    level = await stock_of(admin, sku)
    assert (level["on_hand"], level["reserved"]) == (10, 0)
    assert "order.canceled" in [e["type"] for e in await events_about(admin, order["id"])]
    line = order["lines"][0]["id"]
    late = await post(admin, f"{path}/fulfillments", {"lines": [{"line_id": line, "quantity": 1}]})
    assert_problem(late, 409, "invalid_state")


async def test_refunds_by_lines_and_returns(admin: httpx.AsyncClient) -> None:
    order, (sku, _) = await placed_order(admin, 2, 1)
    path = f"/v1/orders/{order['id']}"
    a, b = (line["id"] for line in order["lines"])
    both = await post(
        admin, f"{path}/refunds", {"amount": 1, "lines": [{"line_id": a, "quantity": 1}]}
    )
    assert_problem(both, 422, "validation_error")
    by_line = await post(admin, f"{path}/refunds", {"lines": [{"line_id": b, "quantity": 1}]})
    assert by_line.status_code == 201, by_line.text
    assert set(by_line.json()["breakdown"]) == {"goods", "discount", "shipping", "tax"}
    over = await post(admin, f"{path}/refunds", {"lines": [{"line_id": b, "quantity": 1}]})
    assert_problem(over, 409, "invalid_state")

    early = await post(admin, f"{path}/returns", {"lines": [{"line_id": a, "quantity": 1}]})
    assert_problem(early, 409, "invalid_state")  # nothing fulfilled yet
    sent = await post(admin, f"{path}/fulfillments", {"lines": [{"line_id": a, "quantity": 2}]})
    assert sent.status_code == 201, sent.text
    ret = await post(admin, f"{path}/returns", {"lines": [{"line_id": a, "quantity": 2}]})
    assert ret.status_code == 201, ret.text
    ret_id = ret.json()["id"]
    assert ret.json()["status"] == "requested"
    received = await post(
        admin,
        f"/v1/returns/{ret_id}/receive",
        {"lines": [{"line_id": a, "quantity": 2, "restock": True}]},
    )
    assert received.status_code == 200, received.text
    assert (await stock_of(admin, sku))["on_hand"] == 10
    refunded = await post(admin, f"/v1/returns/{ret_id}/refund")
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["status"] == "refunded"
    now = (await admin.get(path)).json()
    assert now["payment_status"] == "refunded"
    assert now["amount_refunded"]["amount"] == now["totals"]["total"]["amount"]
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert "return.requested" in types and "return.received" in types
    assert types.count("payment.refunded") == 2


async def test_edits_before_fulfilment(admin: httpx.AsyncClient) -> None:
    order, (sku, _) = await placed_order(admin, 3, 1)
    path = f"/v1/orders/{order['id']}"
    a, b = (line["id"] for line in order["lines"])
    higher = await admin.patch(f"{path}/lines/{a}", json={"quantity": 4})
    assert_problem(higher, 409, "invalid_state")
    lower = await admin.patch(f"{path}/lines/{a}", json={"quantity": 1})
    assert lower.status_code == 200, lower.text
    body = lower.json()
    assert body["lines"][0]["quantity"] == 1
    assert body["amount_refunded"]["amount"] == (
        order["totals"]["total"]["amount"] - body["totals"]["total"]["amount"]
    )
    assert (await stock_of(admin, sku))["reserved"] == 1
    assert "order.updated" in [e["type"] for e in await events_about(admin, order["id"])]
    # Refunded in part now: further edits are refused, with the statuses.
    removed = await admin.delete(f"{path}/lines/{b}")
    problem = assert_problem(removed, 409, "invalid_state")
    assert problem["payment_status"] == "partially_refunded"
