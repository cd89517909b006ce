"""Idempotency-Key, one request after another (the concurrent cases are money-path tests)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import orjson

from tests.api.support import (
    assert_problem,
    assert_validation_error,
    client_with_key,
    create_key,
    idempotency_key,
)
from tests.factories import checkout, create_product, ready_cart, set_stock, stock_of, unique_sku

REPLAYED = "Idempotent-Replayed"


def _product_body(title: str, sku: str | None = None) -> dict[str, Any]:
    return {
        "title": title,
        "variants": [{"sku": sku or unique_sku(), "prices": [{"amount": 750, "currency": "EUR"}]}],
    }


async def _products_titled(admin: httpx.AsyncClient, title: str) -> list[dict[str, Any]]:
    response = await admin.get("/v1/products", params={"q": title, "limit": 100})
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_same_key_same_body_replays_and_creates_one_product(
    admin: httpx.AsyncClient,
) -> None:
    title = f"Idem {uuid.uuid4().hex}"
    body, key = _product_body(title), idempotency_key()

    first = await admin.post("/v1/products", json=body, headers={"Idempotency-Key": key})
    second = await admin.post("/v1/products", json=body, headers={"Idempotency-Key": key})

    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    assert second.status_code == 201
    assert second.headers[REPLAYED] == "true"
    assert second.json() == first.json()
    assert second.headers["content-type"] == first.headers["content-type"]
    assert [p["id"] for p in await _products_titled(admin, title)] == [first.json()["id"]]


async def test_replay_does_not_depend_on_key_order_or_whitespace(
    admin: httpx.AsyncClient,
) -> None:
    title, sku, key = f"Idem {uuid.uuid4().hex}", unique_sku(), idempotency_key()
    prices = [{"amount": 750, "currency": "EUR"}]
    compact = orjson.dumps({"title": title, "variants": [{"sku": sku, "prices": prices}]})
    # The same object: keys in another order, other whitespace.
    spaced = json.dumps(
        {
            "variants": [{"prices": [{"currency": "EUR", "amount": 750}], "sku": sku}],
            "title": title,
        },
        indent=3,
    ).encode()
    assert compact != spaced
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    first = await admin.post("/v1/products", content=compact, headers=headers)
    second = await admin.post("/v1/products", content=spaced, headers=headers)
    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.headers[REPLAYED] == "true"
    assert second.json()["id"] == first.json()["id"]


async def test_same_key_creates_one_cart(storefront: httpx.AsyncClient) -> None:
    key = idempotency_key()
    carts = [
        await storefront.post(
            "/v1/carts", json={"currency": "EUR"}, headers={"Idempotency-Key": key}
        )
        for _ in range(3)
    ]
    assert [c.status_code for c in carts] == [201, 201, 201]
    assert len({c.json()["id"] for c in carts}) == 1
    assert [c.headers.get(REPLAYED) for c in carts] == [None, "true", "true"]
    # Without a key, every POST is a new cart.
    plain = [await storefront.post("/v1/carts", json={"currency": "EUR"}) for _ in range(2)]
    assert len({c.json()["id"] for c in plain} | {carts[0].json()["id"]}) == 3


async def test_replayed_add_line_adds_once(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    cart = (await admin.post("/v1/carts", json={"currency": "EUR"})).json()
    key = idempotency_key()
    for _ in range(3):
        added = await admin.post(
            f"/v1/carts/{cart['id']}/lines",
            json={"sku": sku, "quantity": 2},
            headers={"Idempotency-Key": key},
        )
        assert added.status_code == 200, added.text
    lines = (await admin.get(f"/v1/carts/{cart['id']}")).json()["lines"]
    assert [(line["sku"], line["quantity"]) for line in lines] == [(sku, 2)]


async def test_same_key_different_body_is_422_reused(admin: httpx.AsyncClient) -> None:
    key = idempotency_key()
    original = _product_body(f"Original {uuid.uuid4().hex}")
    first = await admin.post("/v1/products", json=original, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    title = f"Other {uuid.uuid4().hex}"
    reused = await admin.post(
        "/v1/products", json=_product_body(title), headers={"Idempotency-Key": key}
    )
    assert_problem(reused, 422, "idempotency_key_reused")
    assert REPLAYED not in reused.headers
    assert await _products_titled(admin, title) == []
    # The first answer is still there for the original body.
    again = await admin.post("/v1/products", json=original, headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.json()["id"] == first.json()["id"]


async def test_a_key_is_scoped_to_its_route_and_its_holder(
    admin: httpx.AsyncClient,
) -> None:
    key = idempotency_key()
    cart = await admin.post("/v1/carts", json={"currency": "EUR"}, headers={"Idempotency-Key": key})
    product = await admin.post(
        "/v1/products", json=_product_body("Scoped"), headers={"Idempotency-Key": key}
    )
    assert cart.status_code == 201 and product.status_code == 201, (cart.text, product.text)
    assert REPLAYED not in product.headers
    # Another key holder with the same Idempotency-Key gets its own cart.
    shops = [await create_key(admin, "publishable") for _ in range(2)]
    ids = set()
    for shop in shops:
        async with client_with_key(admin, shop["key"]) as client:
            own = await client.post(
                "/v1/carts", json={"currency": "EUR"}, headers={"Idempotency-Key": key}
            )
            assert own.status_code == 201, own.text
            assert REPLAYED not in own.headers
            ids.add(own.json()["id"])
    assert len(ids | {cart.json()["id"]}) == 3


async def test_validation_error_is_not_stored_and_corrected_retry_runs(
    admin: httpx.AsyncClient,
) -> None:
    key = idempotency_key()
    title = f"Corrected {uuid.uuid4().hex}"
    bad = _product_body(title)
    bad["variants"][0]["prices"][0]["amount"] = 7.5
    refused = await admin.post("/v1/products", json=bad, headers={"Idempotency-Key": key})
    assert_validation_error(refused, "variants[0].prices[0].amount")

    fixed = await admin.post(
        "/v1/products", json=_product_body(title), headers={"Idempotency-Key": key}
    )
    assert fixed.status_code == 201, fixed.text
    assert REPLAYED not in fixed.headers
    assert len(await _products_titled(admin, title)) == 1


async def test_refusal_inside_the_work_is_not_stored(admin: httpx.AsyncClient) -> None:
    # Unknown SKU: refused with 422 after the key was claimed; the claim must roll back.
    sku = unique_sku()
    cart = (await admin.post("/v1/carts", json={"currency": "EUR"})).json()
    key = idempotency_key()
    line = {"sku": sku, "quantity": 1}
    refused = await admin.post(
        f"/v1/carts/{cart['id']}/lines", json=line, headers={"Idempotency-Key": key}
    )
    assert_validation_error(refused, "sku")

    await create_product(admin, sku=sku, stock=3)
    retried = await admin.post(
        f"/v1/carts/{cart['id']}/lines", json=line, headers={"Idempotency-Key": key}
    )
    assert retried.status_code == 200, retried.text
    assert REPLAYED not in retried.headers
    assert [ln["sku"] for ln in retried.json()["lines"]] == [sku]


async def test_404_is_not_stored(admin: httpx.AsyncClient) -> None:
    key = idempotency_key()
    path = f"/v1/carts/cart_{uuid.uuid4().hex}/lines"
    first = await admin.post(
        path, json={"sku": "A", "quantity": 1}, headers={"Idempotency-Key": key}
    )
    assert_problem(first, 404, "not_found")
    # Not stored: a different body with the same key is not "reused", the same is not replayed.
    other = await admin.post(
        path, json={"sku": "B", "quantity": 2}, headers={"Idempotency-Key": key}
    )
    assert_problem(other, 404, "not_found")
    same = await admin.post(
        path, json={"sku": "A", "quantity": 1}, headers={"Idempotency-Key": key}
    )
    assert_problem(same, 404, "not_found")
    assert REPLAYED not in same.headers


async def test_401_and_403_are_not_stored(
    admin: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    storefront: httpx.AsyncClient,
) -> None:
    key = idempotency_key()
    refused = await anonymous.post(
        "/v1/carts", json={"currency": "EUR"}, headers={"Idempotency-Key": key}
    )
    assert_problem(refused, 401, "unauthenticated")
    title = f"Forbidden {uuid.uuid4().hex}"
    forbidden = await storefront.post(
        "/v1/products", json=_product_body(title), headers={"Idempotency-Key": key}
    )
    assert_problem(forbidden, 403, "forbidden")
    # The storefront's corrected retry on its own route runs.
    cart = await storefront.post(
        "/v1/carts", json={"currency": "EUR"}, headers={"Idempotency-Key": key}
    )
    assert cart.status_code == 201 and REPLAYED not in cart.headers
    assert await _products_titled(admin, title) == []


async def test_checkout_without_idempotency_key_is_422(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 1)])
    response = await admin.post(
        f"/v1/carts/{cart['id']}/checkout",
        json={"payment": {"method": "card", "token": "tok_visa"}},
    )
    assert_validation_error(response, "Idempotency-Key")
    assert (await stock_of(admin, sku))["reserved"] == 0
    assert (await admin.get(f"/v1/carts/{cart['id']}")).json()["status"] == "open"
    # With a key it goes through.
    assert (await checkout(admin, cart["id"])).status_code == 201


async def test_idempotency_key_length_is_1_to_255(admin: httpx.AsyncClient) -> None:
    for key in ("k" * 256, "k" * 1000, ""):
        response = await admin.post(
            "/v1/carts", json={"currency": "EUR"}, headers={"Idempotency-Key": key}
        )
        assert_validation_error(response, "Idempotency-Key")
    sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 1)])
    too_long = await checkout(admin, cart["id"], key="c" * 256)
    assert_validation_error(too_long, "Idempotency-Key")
    assert (await stock_of(admin, sku))["reserved"] == 0
    # The bounds themselves are fine (a fresh key holder, so these keys are its own).
    holder = await create_key(admin, "secret", scopes=["carts:write", "checkout"])
    async with client_with_key(admin, holder["key"]) as client:
        for key in ("k", "K" * 255):
            response = await client.post(
                "/v1/carts", json={"currency": "EUR"}, headers={"Idempotency-Key": key}
            )
            assert response.status_code == 201, response.text
        placed = await checkout(client, cart["id"], key="c" * 255)
        assert placed.status_code == 201, placed.text


async def test_stored_insufficient_stock_is_replayed_after_restock(
    admin: httpx.AsyncClient,
) -> None:
    sku = (await create_product(admin, stock=1))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 2)])
    key = idempotency_key()

    short = await checkout(admin, cart["id"], key=key)
    assert_problem(short, 409, "insufficient_stock")
    await set_stock(admin, sku, 5)

    replayed = await checkout(admin, cart["id"], key=key)
    assert_problem(replayed, 409, "insufficient_stock")
    assert replayed.headers[REPLAYED] == "true"
    assert replayed.json() == short.json()
    assert (await stock_of(admin, sku))["reserved"] == 0
    # A new key is a new attempt, and now there is stock.
    placed = await checkout(admin, cart["id"])
    assert placed.status_code == 201, placed.text


async def test_stored_decline_is_replayed(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=1))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 1)])
    key = idempotency_key()
    declined = await checkout(admin, cart["id"], token="tok_declined", key=key)
    assert_problem(declined, 402, "payment_declined")
    again = await checkout(admin, cart["id"], token="tok_declined", key=key)
    assert_problem(again, 402, "payment_declined")
    assert again.headers[REPLAYED] == "true"
    assert again.json() == declined.json()
    # Same key, another card: a different body.
    other = await checkout(admin, cart["id"], token="tok_visa", key=key)
    assert_problem(other, 422, "idempotency_key_reused")


async def test_replayed_checkout_returns_the_same_order(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=3))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 1)])
    key = idempotency_key()
    placed = await checkout(admin, cart["id"], key=key)
    assert placed.status_code == 201, placed.text
    again = await checkout(admin, cart["id"], key=key)
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.json()["id"] == placed.json()["id"]
    assert (await stock_of(admin, sku))["reserved"] == 1


async def test_confirm_payment_honours_idempotency_key(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=1))["variants"][0]["sku"]
    cart = await ready_cart(admin, [(sku, 1)])
    pending = await checkout(admin, cart["id"], token="tok_3ds_required")
    assert pending.status_code == 202, pending.text
    assert pending.json()["payment_status"] == "requires_action"
    path, key = f"/v1/orders/{pending.json()['id']}/payment/confirm", idempotency_key()

    first = await admin.post(path, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    assert first.json()["payment_status"] == "captured"
    again = await admin.post(path, headers={"Idempotency-Key": key})
    assert again.status_code == 200
    assert again.headers.get(REPLAYED) == "true"
    assert again.json() == first.json()
