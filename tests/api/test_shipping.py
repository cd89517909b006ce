"""Shipping through the API: each currency's own price in its minor units (not five major
units converted), the method chosen priced into the totals, an unknown method refused."""

from __future__ import annotations

import httpx
import pytest

from cartwright.cart.service import Quote
from cartwright.providers.shipping import EXPRESS_PRICES, STANDARD_PRICES
from tests.api.support import assert_problem
from tests.channels.support import create_channel, publishable_key
from tests.conftest import Server
from tests.factories import ADDRESS, create_product, ready_cart


@pytest.mark.parametrize(("currency", "country"), [("JPY", "JP"), ("BHD", "BH"), ("EUR", "DE")])
async def test_methods_and_totals_in_the_carts_own_minor_units(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, currency: str, country: str
) -> None:
    sku = (await create_product(admin, price=1234, currency=currency))["variants"][0]["sku"]
    cart = await ready_cart(storefront, [(sku, 2)], currency=currency, country=country)
    assert cart["totals"]["shipping"] == {"amount": STANDARD_PRICES[currency], "currency": currency}
    listed = await storefront.get(f"/v1/carts/{cart['id']}/shipping-methods")
    assert listed.status_code == 200, listed.text
    prices = {m["code"]: m["price"] for m in listed.json()["data"]}
    assert prices == {
        "standard": {"amount": STANDARD_PRICES[currency], "currency": currency},
        "express": {"amount": EXPRESS_PRICES[currency], "currency": currency},
    }
    express = await storefront.patch(f"/v1/carts/{cart['id']}", json={"shipping_method": "express"})
    assert express.status_code == 200, express.text
    assert express.json()["totals"]["shipping"]["amount"] == EXPRESS_PRICES[currency]


async def test_a_method_not_offered_is_422_and_nothing_changes(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, price=1000))["variants"][0]["sku"]
    cart = await ready_cart(storefront, [(sku, 1)])
    refused = await storefront.patch(
        f"/v1/carts/{cart['id']}",
        json={"shipping_method": "teleport", "email": "grace@example.com"},
    )
    assert_problem(refused, 422, "validation_error")
    after = (await storefront.get(f"/v1/carts/{cart['id']}")).json()
    assert (after["shipping_method"], after["email"]) == ("standard", "ada@example.com")


def test_a_method_no_longer_offered_makes_the_cart_not_ready() -> None:
    q = Quote(
        cart_id="c",
        currency="EUR",
        email="ada@example.com",
        shipping_address={"country": "DE"},
        billing_address=None,
        shipping_method="standard",
        lines=[],
        subtotal=0,
        discount=0,
        shipping=0,
        tax=0,
        shipping_method_unavailable=True,
    )
    assert "the cart's shipping method is not offered for its address" in q.not_ready_reasons()


async def test_a_channel_offers_only_its_shipping_methods(
    server: Server, admin: httpx.AsyncClient
) -> None:
    express_only = await create_channel(admin, shipping_methods=["express"])
    key = await publishable_key(admin, express_only["code"])
    sku = (await create_product(admin, price=1000))["variants"][0]["sku"]
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as shop:
        created = await shop.post("/v1/carts", json={"currency": "EUR"})
        assert created.status_code == 201, created.text
        cart_id = created.json()["id"]
        assert (
            await shop.post(f"/v1/carts/{cart_id}/lines", json={"sku": sku, "quantity": 1})
        ).status_code == 200
        address = await shop.patch(f"/v1/carts/{cart_id}", json={"shipping_address": ADDRESS})
        assert address.status_code == 200, address.text
        listed = await shop.get(f"/v1/carts/{cart_id}/shipping-methods")
        assert [m["code"] for m in listed.json()["data"]] == ["express"]
        refused = await shop.patch(f"/v1/carts/{cart_id}", json={"shipping_method": "standard"})
        assert_problem(refused, 422, "validation_error")
        chosen = await shop.patch(f"/v1/carts/{cart_id}", json={"shipping_method": "express"})
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["totals"]["shipping"]["amount"] == EXPRESS_PRICES["EUR"]
