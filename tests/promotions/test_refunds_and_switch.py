"""Every cent explained after the order: refunds by lines return exactly what each line
paid of the discount, all of them add up to the total, a full refund gives the promotion's
use back; and the `promotions` kill switch prices carts without any (both databases)."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from tests.factories import checkout, create_product, ready_cart
from tests.promotions.support import Promotions, apply_code, unique_code


async def _refund(admin: httpx.AsyncClient, order_id: str, line_id: str, quantity: int) -> dict:
    response = await admin.post(
        f"/v1/orders/{order_id}/refunds",
        json={"lines": [{"line_id": line_id, "quantity": quantity}]},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_refunds_by_lines_return_each_lines_share_and_sum_to_the_total(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    a = (await create_product(admin, price=3333, stock=20))["variants"][0]["sku"]
    b = (await create_product(admin, price=1001, stock=20))["variants"][0]["sku"]
    code = unique_code()
    promo = await made.create(code=code, kind="percentage", value=15, skus=[a], usage_limit=10)
    await made.create(name="free shipping", kind="free_shipping", skus=[a, b])
    cart = await ready_cart(storefront, [(a, 3), (b, 2)])
    priced = (await apply_code(storefront, cart["id"], code)).json()
    order = (await checkout(storefront, cart["id"])).json()
    assert order["totals"] == priced["totals"]
    la, lb = order["lines"]
    # The 15 % is a's alone; free shipping is shared by goods.
    assert la["discount"]["amount"] > lb["discount"]["amount"] > 0
    refunds = [
        await _refund(admin, order["id"], la["id"], 1),
        await _refund(admin, order["id"], lb["id"], 1),
        await _refund(admin, order["id"], la["id"], 2),
    ]
    discounts = [r["breakdown"]["discount"]["amount"] for r in refunds]
    assert discounts[0] + discounts[2] == la["discount"]["amount"]
    assert (await made.get(promo["id"]))["uses"] == 1  # not all refunded yet
    refunds.append(await _refund(admin, order["id"], lb["id"], 1))
    assert sum(r["amount"]["amount"] for r in refunds) == order["totals"]["total"]["amount"]
    assert (
        sum(r["breakdown"]["discount"]["amount"] for r in refunds)
        == (order["totals"]["discount"]["amount"])
    )
    # The last refund settles the payment as refunded: the use comes back.
    assert (await made.get(promo["id"]))["uses"] == 0


async def _flag(admin: httpx.AsyncClient, enabled: bool) -> None:
    response = await admin.put("/v1/flags/promotions", json={"enabled": enabled})
    assert response.status_code == 200, response.text


async def _discount_within(
    client: httpx.AsyncClient, cart_id: str, expected: int, seconds: float = 6.0
) -> int:
    deadline = time.monotonic() + seconds
    while True:
        found = (await client.get(f"/v1/carts/{cart_id}")).json()["totals"]["discount"]["amount"]
        if found == expected or time.monotonic() > deadline:
            return int(found)
        await asyncio.sleep(0.1)


async def test_the_kill_switch_prices_carts_without_promotions(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    sku = (await create_product(admin, price=2000, stock=20))["variants"][0]["sku"]
    await made.create(kind="percentage", value=50, skus=[sku])
    cart = await ready_cart(storefront, [(sku, 1)])
    assert cart["totals"]["discount"]["amount"] == 1000
    try:
        await _flag(admin, False)
        assert await _discount_within(storefront, cart["id"], 0) == 0
        order = await checkout(storefront, cart["id"])
        assert order.status_code in (201, 409), order.text
        if order.status_code == 409:  # the shopper was shown the 50 %: told, then pays
            assert order.json()["code"] == "promotion_unavailable"
            order = await checkout(storefront, cart["id"])
        assert order.status_code == 201, order.text
        assert order.json()["totals"]["discount"]["amount"] == 0
    finally:
        await _flag(admin, True)
    other = await ready_cart(storefront, [(sku, 1)])
    assert await _discount_within(storefront, other["id"], 1000) == 1000
