"""Carts and orders in channels: a publishable key's channel, a secret key's header, the
currencies a channel sells, its capture policy."""

from __future__ import annotations

import uuid

import httpx

from tests.channels.support import create_channel, publishable_key, unique_code
from tests.conftest import Server
from tests.factories import checkout, create_product, ready_cart


async def test_a_pos_key_makes_pos_carts_and_orders(
    server: Server, admin: httpx.AsyncClient
) -> None:
    pos = await create_channel(admin, code=unique_code("pos"), currencies=["EUR"])
    key = await publishable_key(admin, pos["code"])
    product = await create_product(admin, stock=5)
    sku = product["variants"][0]["sku"]
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as till:
        cart = await ready_cart(till, [(sku, 1)])
        assert cart["channel"] == pos["code"]
        placed = await checkout(till, cart["id"])
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert order["channel"] == pos["code"]
        assert order["payment_status"] == "captured"  # the setting: automatic
        # A header naming another channel is refused to a publishable key.
        other = await till.post(
            "/v1/carts", json={"currency": "EUR"}, headers={"Cartwright-Channel": "default"}
        )
        assert other.status_code == 403, other.text
    read = await admin.get(f"/v1/orders/{order['id']}")
    assert read.status_code == 200 and read.json()["channel"] == pos["code"]


async def test_the_default_channel_is_todays_behaviour(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    product = await create_product(admin, currency="USD", stock=5)
    cart = await ready_cart(storefront, [(product["variants"][0]["sku"], 1)], currency="USD")
    assert cart["channel"] == "default"
    assert cart["lines"][0]["price_source"]["kind"] == "base"
    placed = await checkout(storefront, cart["id"])
    assert placed.status_code == 201, placed.text
    assert placed.json()["channel"] == "default"
    assert placed.json()["payment_status"] == "captured"


async def test_a_currency_the_channel_does_not_sell_is_refused(
    server: Server, admin: httpx.AsyncClient
) -> None:
    shop = await create_channel(admin, currencies=["EUR", "GBP"])
    key = await publishable_key(admin, shop["code"])
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        refused = await client.post("/v1/carts", json={"currency": "USD"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "validation_error"
        assert refused.json()["errors"][0]["field"] == "currency"
        accepted = await client.post("/v1/carts", json={"currency": "GBP"})
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["channel"] == shop["code"]


async def test_a_secret_key_names_the_channel_per_request(admin: httpx.AsyncClient) -> None:
    partner = await create_channel(admin)
    made = await admin.post(
        "/v1/carts", json={"currency": "EUR"}, headers={"Cartwright-Channel": partner["code"]}
    )
    assert made.status_code == 201, made.text
    assert made.json()["channel"] == partner["code"]
    unknown = await admin.post(
        "/v1/carts", json={"currency": "EUR"}, headers={"Cartwright-Channel": "no-such-channel"}
    )
    assert unknown.status_code == 422, unknown.text
    plain = await admin.post("/v1/carts", json={"currency": "EUR"})
    assert plain.status_code == 201 and plain.json()["channel"] == "default"


async def test_a_key_for_an_unknown_channel_is_refused(admin: httpx.AsyncClient) -> None:
    refused = await admin.post(
        "/v1/api-keys", json={"type": "publishable", "name": "x", "channel": "nope-nope"}
    )
    assert refused.status_code == 422, refused.text


async def test_a_manual_capture_channel_leaves_the_payment_authorized(
    server: Server, admin: httpx.AsyncClient
) -> None:
    store = await create_channel(admin, capture_method="manual")
    key = await publishable_key(admin, store["code"])
    product = await create_product(admin, stock=5)
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        cart = await ready_cart(client, [(product["variants"][0]["sku"], 2)])
        placed = await checkout(client, cart["id"])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["payment_status"] == "authorized"
    assert order["amount_captured"]["amount"] == 0
    captured = await admin.post(
        f"/v1/orders/{order['id']}/capture", json={}, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert captured.status_code == 200, captured.text
    assert captured.json()["payment_status"] == "captured"
