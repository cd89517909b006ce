"""Orders as the back office reads them: shape, statuses, money, listing newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.api.support import all_pages, assert_problem
from tests.factories import checkout, create_product, ready_cart

PAYMENT_STATUSES = {
    "pending",
    "requires_action",
    "authorized",
    "partially_captured",
    "captured",
    "partially_refunded",
    "refunded",
    "voided",
    "failed",
}


async def _place(admin: httpx.AsyncClient, lines: list[tuple[int, int]]) -> dict[str, Any]:
    skus = []
    for price, quantity in lines:
        product = await create_product(admin, price=price, stock=quantity + 1)
        skus.append((product["variants"][0]["sku"], quantity))
    cart = await ready_cart(admin, skus)
    placed = await checkout(admin, cart["id"])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    order["_cart"] = cart
    return order


async def test_a_placed_order_has_lines_totals_and_statuses(admin: httpx.AsyncClient) -> None:
    order = await _place(admin, [(1999, 2), (350, 1)])
    cart = order.pop("_cart")

    assert order["id"].startswith("ord_")
    assert order["number"] not in (None, "")
    assert order["status"] == "open"
    assert order["payment_status"] == "captured"
    assert order["payment_status"] in PAYMENT_STATUSES
    assert order["fulfillment_status"] == "unfulfilled"
    assert order["totals"] == cart["totals"]
    total = order["totals"]["total"]
    assert order["amount_captured"] == total
    assert order["amount_refunded"] == {"amount": 0, "currency": total["currency"]}
    assert _at(order).tzinfo is not None

    assert [(ln["sku"], ln["quantity"]) for ln in order["lines"]] == [
        (ln["sku"], ln["quantity"]) for ln in cart["lines"]
    ]
    for line, cart_line in zip(order["lines"], cart["lines"], strict=True):
        assert line["id"]
        assert line["unit_price"] == cart_line["unit_price"]
        assert line["total"] == cart_line["total"]
        assert line["total"]["amount"] == line["unit_price"]["amount"] * line["quantity"]
    assert len({line["id"] for line in order["lines"]}) == 2

    fetched = await admin.get(f"/v1/orders/{order['id']}")
    assert fetched.status_code == 200, fetched.text
    shown = fetched.json()
    assert "access_token" not in shown
    for field in (
        "id",
        "number",
        "status",
        "payment_status",
        "fulfillment_status",
        "lines",
        "totals",
        "amount_captured",
        "amount_refunded",
        "created_at",
    ):
        assert shown[field] == order[field], field

    # The cart points at its order.
    assert (await admin.get(f"/v1/carts/{cart['id']}")).json()["order_id"] == order["id"]


async def test_unknown_order_is_404(admin: httpx.AsyncClient) -> None:
    for order_id in ("ord_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "nope"):
        assert_problem(await admin.get(f"/v1/orders/{order_id}"), 404, "not_found")


async def test_orders_are_listed_newest_first_and_paginate(admin: httpx.AsyncClient) -> None:
    first = await _place(admin, [(100, 1)])
    second = await _place(admin, [(200, 1)])
    third = await _place(admin, [(300, 1)])

    page = (await admin.get("/v1/orders", params={"limit": 3})).json()
    assert [o["id"] for o in page["data"]] == [third["id"], second["id"], first["id"]]
    listed = page["data"][1]
    assert listed["totals"] == second["totals"] and listed["lines"] == second["lines"]

    one = (await admin.get("/v1/orders", params={"limit": 1})).json()
    assert [o["id"] for o in one["data"]] == [third["id"]] and one["has_more"] is True
    after = (
        await admin.get("/v1/orders", params={"limit": 1, "starting_after": third["id"]})
    ).json()
    assert [o["id"] for o in after["data"]] == [second["id"]] and after["has_more"] is True
    after = (
        await admin.get("/v1/orders", params={"limit": 2, "starting_after": second["id"]})
    ).json()
    assert after["data"][0]["id"] == first["id"]

    everything = await all_pages(admin, "/v1/orders")
    ids = [o["id"] for o in everything]
    assert len(ids) == len(set(ids))
    assert ids.index(third["id"]) < ids.index(second["id"]) < ids.index(first["id"])
    placed_at = [_at(o) for o in (first, second, third)]
    assert placed_at == sorted(placed_at)


def _at(order: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(order["created_at"].replace("Z", "+00:00"))
