"""Authentication, key types and scopes, key lifecycle, and who may read an order."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.api.support import (
    all_pages,
    assert_problem,
    assert_validation_error,
    client_with_key,
    create_key,
    idempotency_key,
)
from tests.factories import checkout, create_product, ready_cart, unique_sku


def _product_body(sku: str | None = None, title: str = "Access test") -> dict[str, Any]:
    return {
        "title": title,
        "variants": [{"sku": sku or unique_sku(), "prices": [{"amount": 100, "currency": "EUR"}]}],
    }


# Routes every caller needs a key for; the body is a valid one, so only the key is wrong.
KEYED_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/products", None),
    ("GET", "/v1/products/prod_0", None),
    ("POST", "/v1/products", _product_body()),
    ("PUT", "/v1/inventory/SKU-X", {"on_hand": 1}),
    ("GET", "/v1/inventory/SKU-X", None),
    ("POST", "/v1/carts", {"currency": "EUR"}),
    ("GET", "/v1/carts/cart_x", None),
    ("POST", "/v1/carts/cart_x/lines", {"sku": "SKU-X", "quantity": 1}),
    ("POST", "/v1/carts/cart_x/checkout", {"payment": {"method": "card", "token": "tok_visa"}}),
    ("GET", "/v1/orders", None),
    ("GET", "/v1/orders/ord_x", None),
    ("GET", "/v1/events", None),
    ("POST", "/v1/api-keys", {"type": "secret", "name": "x"}),
    ("GET", "/v1/api-keys", None),
    ("DELETE", "/v1/api-keys/key_x", None),
]

# Back-office routes a publishable key never reaches.
ADMIN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/products", _product_body()),
    ("PUT", "/v1/inventory/{sku}", {"on_hand": 5}),
    ("GET", "/v1/inventory/{sku}", None),
    ("GET", "/v1/orders", None),
    ("GET", "/v1/events", None),
    ("POST", "/v1/api-keys", {"type": "secret", "name": "escalation"}),
    ("POST", "/v1/api-keys", {"type": "publishable", "name": "another shop"}),
    ("GET", "/v1/api-keys", None),
    ("DELETE", "/v1/api-keys/{key_id}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), KEYED_ROUTES)
async def test_no_key_is_401_unauthenticated(
    anonymous: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    headers = {"Idempotency-Key": idempotency_key()} if method == "POST" else {}
    response = await anonymous.request(method, path, json=body, headers=headers)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Token sk_test_something",
        "sk_test_no_scheme",
        "Bearer sk_" + "0" * 32,
        "Bearer pk_" + "0" * 32,
        "Bearer not-a-key",
        "Bearer sk_" + "x" * 500,
        "Bearer sk_a sk_b",
    ],
    ids=[
        "empty",
        "scheme-only",
        "basic",
        "token-scheme",
        "no-scheme",
        "unknown-secret",
        "unknown-publishable",
        "garbage",
        "huge",
        "two-keys",
    ],
)
async def test_malformed_or_unknown_keys_are_401(
    anonymous: httpx.AsyncClient, authorization: str
) -> None:
    for method, path in (("GET", "/v1/products"), ("POST", "/v1/carts")):
        response = await anonymous.request(
            method,
            path,
            json={"currency": "EUR"} if method == "POST" else None,
            headers={"Authorization": authorization},
        )
        assert_problem(response, 401, "unauthenticated")


async def test_the_bearer_scheme_is_case_insensitive(admin: httpx.AsyncClient) -> None:
    # RFC 9110 §11.1: auth schemes are case-insensitive.
    key = admin.headers["Authorization"].split(" ", 1)[1]
    async with client_with_key(admin, None) as client:
        response = await client.get("/v1/products", headers={"Authorization": f"bearer {key}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_publishable_key_never_reaches_admin_routes(
    admin: httpx.AsyncClient,
    storefront: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    sku = (await create_product(admin, stock=3))["variants"][0]["sku"]
    victim = await create_key(admin, "publishable")
    url = path.format(sku=sku, key_id=victim["id"])

    response = await storefront.request(method, url, json=body)

    assert_problem(response, 403, "forbidden")
    # ... and it changed nothing.
    assert (await admin.get(f"/v1/inventory/{sku}")).json()["on_hand"] == 3
    keys = {k["id"]: k for k in await all_pages(admin, "/v1/api-keys")}
    assert keys[victim["id"]]["revoked_at"] is None


async def test_publishable_key_does_the_storefront_things(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    product = await create_product(admin, stock=5)
    sku = product["variants"][0]["sku"]
    assert (await storefront.get("/v1/products")).status_code == 200
    assert (await storefront.get(f"/v1/products/{product['id']}")).status_code == 200
    cart = await ready_cart(storefront, [(sku, 1)])
    assert (await storefront.get(f"/v1/carts/{cart['id']}")).status_code == 200
    assert (await storefront.get(f"/v1/carts/{cart['id']}/shipping-methods")).status_code == 200
    placed = await checkout(storefront, cart["id"])
    assert placed.status_code == 201, placed.text


async def test_secret_key_with_limited_scopes_is_403_outside_them(
    admin: httpx.AsyncClient,
) -> None:
    sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
    catalog_only = await create_key(
        admin, "secret", scopes=["catalog:read", "catalog:write"], name="catalog editor"
    )
    assert catalog_only["type"] == "secret"
    assert sorted(catalog_only["scopes"]) == ["catalog:read", "catalog:write"]

    async with client_with_key(admin, catalog_only["key"]) as editor:
        created = await editor.post("/v1/products", json=_product_body())
        assert created.status_code == 201, created.text
        assert (await editor.get("/v1/products")).status_code == 200
        for method, path, body in [
            ("PUT", f"/v1/inventory/{sku}", {"on_hand": 9}),
            ("GET", f"/v1/inventory/{sku}", None),
            ("GET", "/v1/orders", None),
            ("GET", "/v1/orders/ord_x", None),
            ("GET", "/v1/events", None),
            ("POST", "/v1/api-keys", {"type": "secret", "name": "escalation"}),
            ("GET", "/v1/api-keys", None),
            ("POST", "/v1/carts", {"currency": "EUR"}),
        ]:
            response = await editor.request(method, path, json=body)
            assert_problem(response, 403, "forbidden")
    assert (await admin.get(f"/v1/inventory/{sku}")).json()["on_hand"] == 2


async def test_secret_key_with_orders_read_reads_orders_only(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
    order = (await checkout(admin, (await ready_cart(admin, [(sku, 1)]))["id"])).json()
    reader = await create_key(admin, "secret", scopes=["orders:read"], name="accounting")

    async with client_with_key(admin, reader["key"]) as accounting:
        assert (await accounting.get("/v1/orders")).status_code == 200
        got = await accounting.get(f"/v1/orders/{order['id']}")
        assert got.status_code == 200, got.text
        assert got.json()["id"] == order["id"]
        assert_problem(
            await accounting.post("/v1/products", json=_product_body()), 403, "forbidden"
        )
        assert_problem(await accounting.get("/v1/events"), 403, "forbidden")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "secret", "name": "x", "scopes": ["orders:read", "root"]}, "scopes[1]"),
        ({"type": "publishable", "name": "x", "scopes": ["orders:read"]}, "scopes"),
        ({"type": "publishable", "name": "x", "scopes": ["api_keys:write"]}, "scopes"),
        ({"type": "admin", "name": "x"}, "type"),
        ({"name": "x"}, "type"),
        ({"type": "secret"}, "name"),
        ({"type": "secret", "name": ""}, "name"),
        ({"type": "secret", "name": "x", "scopes": "orders:read"}, "scopes"),
    ],
)
async def test_key_creation_is_validated(
    admin: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    assert_validation_error(await admin.post("/v1/api-keys", json=body), field)


async def test_auth_is_checked_before_the_body(
    anonymous: httpx.AsyncClient, storefront: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    malformed = b'{"title": "unterminated'
    json_headers = {"Content-Type": "application/json"}
    # No key: 401, whatever the body.
    for method, path in [
        ("POST", "/v1/products"),
        ("POST", "/v1/carts"),
        ("PUT", "/v1/inventory/SKU-X"),
        ("POST", "/v1/api-keys"),
        ("PATCH", "/v1/carts/cart_x"),
    ]:
        response = await anonymous.request(method, path, content=malformed, headers=json_headers)
        assert_problem(response, 401, "unauthenticated")
    # Checkout: the key comes before the body and before the Idempotency-Key header.
    response = await anonymous.post("/v1/carts/cart_x/checkout", content=b"[", headers=json_headers)
    assert_problem(response, 401, "unauthenticated")
    # A publishable key on an admin route: 403, whatever the body.
    for method, path in [
        ("POST", "/v1/products"),
        ("PUT", "/v1/inventory/SKU-X"),
        ("POST", "/v1/api-keys"),
    ]:
        response = await storefront.request(method, path, content=malformed, headers=json_headers)
        assert_problem(response, 403, "forbidden")
    # A secret key without the scope: 403 too.
    limited = await create_key(admin, "secret", scopes=["catalog:read"])
    async with client_with_key(admin, limited["key"]) as client:
        response = await client.post("/v1/products", content=malformed, headers=json_headers)
        assert_problem(response, 403, "forbidden")
    # With the right key the same body is a validation error.
    assert_validation_error(
        await admin.post("/v1/products", content=malformed, headers=json_headers)
    )


@pytest.mark.parametrize("key_type", ["publishable", "secret"])
async def test_created_key_is_shown_once_and_works(admin: httpx.AsyncClient, key_type: str) -> None:
    created = await admin.post("/v1/api-keys", json={"type": key_type, "name": "shown once"})
    assert created.status_code == 201, created.text
    key = created.json()
    assert set(key) >= {"id", "type", "name", "scopes", "key"}
    assert key["type"] == key_type
    assert key["name"] == "shown once"
    assert key["key"].startswith("pk_" if key_type == "publishable" else "sk_")
    assert isinstance(key["scopes"], list) and key["scopes"]

    listing = await all_pages(admin, "/v1/api-keys")
    listed = [k for k in listing if k["id"] == key["id"]]
    assert len(listed) == 1
    assert "key" not in listed[0]
    assert listed[0]["type"] == key_type and listed[0]["name"] == "shown once"
    raw = (await admin.get("/v1/api-keys", params={"limit": 100})).text
    assert key["key"] not in raw

    async with client_with_key(admin, key["key"]) as client:
        assert (await client.get("/v1/products")).status_code == 200


async def _until_refused(client: httpx.AsyncClient, path: str, *, timeout_s: float) -> float:
    """Poll until `path` answers 401 five times in a row; returns the seconds it took."""
    started = time.monotonic()
    refusals = 0
    while refusals < 5:
        response = await client.get(path)
        if response.status_code == 401:
            assert_problem(response, 401, "unauthenticated")
            refusals += 1
        else:
            assert response.status_code == 200, response.text
            refusals = 0
        assert time.monotonic() - started < timeout_s, "the revoked key still works"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def _revoke_and_watch(admin: httpx.AsyncClient, key: dict[str, Any]) -> None:
    async with client_with_key(admin, key["key"]) as client:
        for _ in range(4):  # warm every process's cache with the key
            assert (await client.get("/v1/products")).status_code == 200

        revoked = await admin.delete(f"/v1/api-keys/{key['id']}")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["id"] == key["id"]
        assert "key" not in revoked.json()

        await _until_refused(client, "/v1/products", timeout_s=6)
        # Still refused on a write, with a valid body.
        response = await client.post("/v1/carts", json={"currency": "EUR"})
        assert_problem(response, 401, "unauthenticated")


async def test_revoked_keys_stop_working(admin: httpx.AsyncClient) -> None:
    keys = [await create_key(admin, "publishable"), await create_key(admin, "secret")]
    # Both at once: each waits out the per-process key cache.
    await asyncio.gather(*(_revoke_and_watch(admin, key) for key in keys))
    listed = {k["id"]: k for k in await all_pages(admin, "/v1/api-keys")}
    for key in keys:
        assert listed[key["id"]]["revoked_at"] is not None


async def test_revoking_an_unknown_key_is_404(admin: httpx.AsyncClient) -> None:
    assert_problem(await admin.delete("/v1/api-keys/key_doesnotexist"), 404, "not_found")


# ------------------------------------------------------------------ orders and their token

ORDER_TOKEN = "Cartwright-Order-Token"


def _without_id(problem: dict[str, Any], order_id: str) -> dict[str, Any]:
    """The problem with the order id masked and without its (per request) request id."""
    return {
        k: (v.replace(order_id, "<id>") if isinstance(v, str) else v)
        for k, v in problem.items()
        if k != "request_id"
    }


async def test_publishable_key_reads_an_order_only_with_its_token(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    first = await checkout(storefront, (await ready_cart(storefront, [(sku, 1)]))["id"])
    second = await checkout(storefront, (await ready_cart(storefront, [(sku, 2)]))["id"])
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    order, other = first.json(), second.json()
    token = order["access_token"]
    assert isinstance(token, str) and len(token) >= 22
    assert token != other["access_token"]

    ok = await storefront.get(f"/v1/orders/{order['id']}", headers={ORDER_TOKEN: token})
    assert ok.status_code == 200, ok.text
    assert ok.json()["id"] == order["id"]
    assert ok.json()["totals"] == order["totals"]

    missing_order = "ord_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    absent = await storefront.get(f"/v1/orders/{missing_order}", headers={ORDER_TOKEN: token})
    absent_body = _without_id(assert_problem(absent, 404, "not_found"), missing_order)
    for headers in (
        {},
        {ORDER_TOKEN: ""},
        {ORDER_TOKEN: token + "x"},
        {ORDER_TOKEN: token[:-1]},
        {ORDER_TOKEN: other["access_token"]},
    ):
        refused = await storefront.get(f"/v1/orders/{order['id']}", headers=headers)
        body = assert_problem(refused, 404, "not_found")
        # Exactly like an order that does not exist: ids cannot be probed.
        assert _without_id(body, order["id"]) == absent_body, headers

    # The back office reads it without a token.
    assert (await admin.get(f"/v1/orders/{order['id']}")).status_code == 200


async def test_publishable_key_cannot_confirm_a_payment_without_the_token(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=1))["variants"][0]["sku"]
    placed = await checkout(storefront, (await ready_cart(storefront, [(sku, 1)]))["id"])
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    refused = await storefront.post(f"/v1/orders/{order_id}/payment/confirm")
    assert_problem(refused, 404, "not_found")
    refused = await storefront.post(
        f"/v1/orders/{order_id}/payment/confirm", headers={ORDER_TOKEN: "otok_wrong"}
    )
    assert_problem(refused, 404, "not_found")
