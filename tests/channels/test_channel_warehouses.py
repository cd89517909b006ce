"""A channel's warehouses: its checkouts take stock only from them (both databases).

The store warehouse serves only AT, which no other test ships to."""

from __future__ import annotations

import uuid

import httpx

from tests.api.support import assert_problem
from tests.channels.support import create_channel
from tests.factories import checkout, create_product, ready_cart, stock_of


async def test_checkout_takes_stock_only_from_the_channels_warehouses(
    admin: httpx.AsyncClient,
) -> None:
    code = "ST" + uuid.uuid4().hex[:8]
    made = await admin.post(
        "/v1/warehouses", json={"name": "Store", "code": code, "priority": 1, "countries": ["AT"]}
    )
    assert made.status_code == 201, made.text
    store = made.json()
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]  # 5 in the default
    put = await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 5, "warehouse_id": store["id"]})
    assert put.status_code == 200, put.text
    shop = await create_channel(admin, warehouses=[code])
    in_shop = {"Cartwright-Channel": shop["code"]}

    async def cart_in_shop(quantity: int) -> str:
        created = await admin.post("/v1/carts", json={"currency": "EUR"}, headers=in_shop)
        cart_id = str(created.json()["id"])
        await admin.post(f"/v1/carts/{cart_id}/lines", json={"sku": sku, "quantity": quantity})
        patched = await admin.patch(
            f"/v1/carts/{cart_id}",
            json={
                "shipping_address": {
                    "name": "Ada",
                    "line1": "Ring 1",
                    "city": "Wien",
                    "postal_code": "1010",
                    "country": "AT",
                },
                "shipping_method": "standard",
            },
        )
        assert patched.status_code == 200, patched.text
        return cart_id

    # 7 exist in all, but the shop takes only from its store (5): refused, nothing held.
    short = await checkout(admin, await cart_in_shop(7))
    assert_problem(short, 409, "insufficient_stock")
    placed = await checkout(admin, await cart_in_shop(4))
    assert placed.status_code == 201, placed.text
    levels = {
        loc["warehouse_id"]: (loc["on_hand"], loc["reserved"])
        for loc in (await stock_of(admin, sku, full=True))["locations"]
    }
    assert levels == {"wh_default": (5, 0), store["id"]: (5, 4)}
    # The default channel takes from every warehouse serving AT: whole from one that has
    # it all (the default: the store has 1 left).
    default = await checkout(admin, (await ready_cart(admin, [(sku, 3)], country="AT"))["id"])
    assert default.status_code == 201, default.text
    levels = {
        loc["warehouse_id"]: (loc["on_hand"], loc["reserved"])
        for loc in (await stock_of(admin, sku, full=True))["locations"]
    }
    assert levels == {"wh_default": (5, 3), store["id"]: (5, 4)}
