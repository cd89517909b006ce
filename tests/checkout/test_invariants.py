"""The money-path invariants, tried under concurrency and duplicates on both databases."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx

from tests.factories import checkout, create_product, events_about, ready_cart, stock_of


async def test_concurrent_checkouts_never_oversell(admin: httpx.AsyncClient) -> None:
    stock, shoppers = 7, 24
    sku = (await create_product(admin, stock=stock))["variants"][0]["sku"]
    carts = [await ready_cart(admin, [(sku, 1)]) for _ in range(shoppers)]

    responses = await asyncio.gather(*(checkout(admin, c["id"]) for c in carts))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: stock, 409: shoppers - stock}, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"insufficient_stock"}
    assert await stock_of(admin, sku) == {
        "sku": sku,
        "on_hand": stock,
        "reserved": stock,
        "available": 0,
    }
    order_ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(order_ids) == stock
    for order_id in order_ids:
        types = [e["type"] for e in await events_about(admin, order_id)]
        assert types == ["payment.authorized", "payment.captured", "order.placed"]


async def test_multi_line_carts_reserve_all_or_nothing(admin: httpx.AsyncClient) -> None:
    # Two SKUs, carts take them in opposite orders: no deadlock, no partial reservation.
    a = (await create_product(admin, stock=5))["variants"][0]["sku"]
    b = (await create_product(admin, stock=5))["variants"][0]["sku"]
    carts = [
        await ready_cart(admin, [(a, 1), (b, 1)] if i % 2 else [(b, 1), (a, 1)]) for i in range(12)
    ]
    responses = await asyncio.gather(*(checkout(admin, c["id"]) for c in carts))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 5, 409: 7}, statuses
    for sku in (a, b):
        assert (await stock_of(admin, sku))["reserved"] == 5


async def test_same_idempotency_key_ten_times_at_once_gives_one_order(
    admin: httpx.AsyncClient,
) -> None:
    sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 2)])
    key = uuid.uuid4().hex

    responses = await asyncio.gather(*(checkout(admin, cart["id"], key=key) for _ in range(10)))

    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    placed = [r for r in responses if r.status_code == 201]
    assert placed, "one of the duplicates must have placed the order"
    assert len({r.json()["id"] for r in placed}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in placed) == 1
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {
        "idempotency_key_in_use"
    }
    assert (await stock_of(admin, sku))["reserved"] == 2
    # Afterwards, the same key answers with the stored order, and does nothing again.
    again = await checkout(admin, cart["id"], key=key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == placed[0].json()["id"]
    assert (await stock_of(admin, sku))["reserved"] == 2


async def test_one_cart_ten_keys_at_once_gives_one_order(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 1)])

    responses = await asyncio.gather(*(checkout(admin, cart["id"]) for _ in range(10)))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 9}, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"cart_closed"}
    assert (await stock_of(admin, sku))["reserved"] == 1
    cart_after = (await admin.get(f"/v1/carts/{cart['id']}")).json()
    assert cart_after["status"] == "completed"
    assert cart_after["order_id"] == next(r.json()["id"] for r in responses if r.status_code == 201)


async def test_declined_payment_places_no_order_and_releases_stock(
    admin: httpx.AsyncClient,
) -> None:
    sku = (await create_product(admin, stock=3))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 3)])
    orders_before = (await admin.get("/v1/orders", params={"limit": 1})).json()["data"]

    declined = await checkout(admin, cart["id"], token="tok_insufficient_funds")

    assert declined.status_code == 402
    assert declined.headers["content-type"].startswith("application/problem+json")
    assert declined.json()["code"] == "payment_declined"
    assert declined.json()["decline_code"] == "insufficient_funds"
    assert await stock_of(admin, sku) == {"sku": sku, "on_hand": 3, "reserved": 0, "available": 3}
    assert (await admin.get("/v1/orders", params={"limit": 1})).json()["data"] == orders_before
    assert (await admin.get(f"/v1/carts/{cart['id']}")).json()["status"] == "open"
    # The same cart can be paid again, with another card.
    paid = await checkout(admin, cart["id"], token="tok_visa")
    assert paid.status_code == 201, paid.text
    assert paid.json()["payment_status"] == "captured"
    assert (await stock_of(admin, sku))["available"] == 0


async def test_provider_outage_answers_503_and_changes_nothing(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 2)])

    failed = await checkout(admin, cart["id"], token="tok_processing_error")

    assert failed.status_code == 503
    assert failed.json()["code"] == "provider_unavailable"
    assert int(failed.headers["Retry-After"]) > 0
    assert (await stock_of(admin, sku))["available"] == 2
    assert (await admin.get(f"/v1/carts/{cart['id']}")).json()["status"] == "open"
    assert (await checkout(admin, cart["id"])).status_code == 201


async def test_timeout_is_pending_then_recovered_never_guessed(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=1))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 1)])

    pending = await checkout(admin, cart["id"], token="tok_timeout")

    assert pending.status_code == 202, pending.text
    order = pending.json()
    assert order["payment_status"] == "pending"
    assert order["status"] == "open"
    # The unit stays held while the payment is unknown: nobody else can buy it.
    assert (await stock_of(admin, sku))["reserved"] == 1
    other = await ready_cart(admin, [(sku, 1)])
    assert (await checkout(admin, other["id"])).json()["code"] == "insufficient_stock"
    # The worker asks the provider, which did authorize: the order moves on by itself.
    for _ in range(60):
        current = (await admin.get(f"/v1/orders/{order['id']}")).json()
        if current["payment_status"] != "pending":
            break
        await asyncio.sleep(0.25)
    assert current["payment_status"] == "captured"
    assert current["amount_captured"] == current["totals"]["total"]
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert types == [
        "payment.pending",
        "order.created",
        "payment.authorized",
        "payment.captured",
        "order.placed",
    ]


async def test_three_d_secure_then_confirm(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=1))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 1)])

    challenged = await checkout(admin, cart["id"], token="tok_3ds_required")

    assert challenged.status_code == 202, challenged.text
    order = challenged.json()
    assert order["payment_status"] == "requires_action"
    assert order["next_action"]["type"] == "three_d_secure"
    confirmed = await admin.post(f"/v1/orders/{order['id']}/payment/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["payment_status"] == "captured"
    # Confirming twice changes nothing more.
    again = await admin.post(f"/v1/orders/{order['id']}/payment/confirm")
    assert again.json()["payment_status"] == "captured"
    placed = [e for e in await events_about(admin, order["id"]) if e["type"] == "order.placed"]
    assert len(placed) == 1
