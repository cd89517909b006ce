"""Errors are RFC 9457 problems with a stable code; bad input is a 4xx, never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.support import (
    PROBLEM_JSON,
    assert_problem,
    assert_validation_error,
    idempotency_key,
)
from tests.factories import ADDRESS, create_product, unique_sku


async def _cart_with_product(admin: httpx.AsyncClient) -> tuple[str, str]:
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    cart = await admin.post("/v1/carts", json={"currency": "EUR"})
    assert cart.status_code == 201, cart.text
    return cart.json()["id"], sku


def _product(**variant: Any) -> dict[str, Any]:
    base = {"sku": unique_sku(), "prices": [{"amount": 1999, "currency": "EUR"}]}
    return {"title": "Validation", "variants": [{**base, **variant}]}


def _address(**fields: Any) -> dict[str, Any]:
    return {"shipping_address": {**ADDRESS, **fields}}


# (method, path, body, field named in `errors`); `{cart}` and `{sku}` are filled in.
INVALID: list[tuple[str, str, Any, str]] = [
    # cart lines: quantity is an integer >= 1
    ("POST", "/v1/carts/{cart}/lines", {"sku": "{sku}", "quantity": "2"}, "quantity"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": "{sku}", "quantity": 1.5}, "quantity"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": "{sku}", "quantity": 2.5}, "quantity"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": "{sku}", "quantity": True}, "quantity"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": "{sku}", "quantity": 0}, "quantity"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": "{sku}", "quantity": -1}, "quantity"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": "{sku}", "quantity": None}, "quantity"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": "{sku}", "quantity": 10**30}, "quantity"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": "{sku}", "quantity": [1]}, "quantity"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": "{sku}"}, "quantity"),
    ("POST", "/v1/carts/{cart}/lines", {"quantity": 1}, "sku"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": 12345, "quantity": 1}, "sku"),
    ("POST", "/v1/carts/{cart}/lines", {"sku": "NO-SUCH-SKU-ANYWHERE", "quantity": 1}, "sku"),
    # products: money is integer minor units in a known currency
    (
        "POST",
        "/v1/products",
        _product(prices=[{"amount": 19.99, "currency": "EUR"}]),
        "variants[0].prices[0].amount",
    ),
    (
        "POST",
        "/v1/products",
        _product(prices=[{"amount": "1999", "currency": "EUR"}]),
        "variants[0].prices[0].amount",
    ),
    (
        "POST",
        "/v1/products",
        _product(prices=[{"amount": True, "currency": "EUR"}]),
        "variants[0].prices[0].amount",
    ),
    (
        "POST",
        "/v1/products",
        _product(prices=[{"amount": -1, "currency": "EUR"}]),
        "variants[0].prices[0].amount",
    ),
    (
        "POST",
        "/v1/products",
        _product(prices=[{"currency": "EUR"}]),
        "variants[0].prices[0].amount",
    ),
    (
        "POST",
        "/v1/products",
        _product(prices=[{"amount": 100, "currency": "XXX"}]),
        "variants[0].prices[0].currency",
    ),
    (
        "POST",
        "/v1/products",
        _product(prices=[{"amount": 100, "currency": "eur"}]),
        "variants[0].prices[0].currency",
    ),
    ("POST", "/v1/products", _product(prices=[{"amount": 100}]), "variants[0].prices[0].currency"),
    ("POST", "/v1/products", _product(prices=[]), "variants[0].prices"),
    ("POST", "/v1/products", _product(sku="has spaces"), "variants[0].sku"),
    ("POST", "/v1/products", _product(sku=""), "variants[0].sku"),
    ("POST", "/v1/products", _product(weight_grams=1.5), "variants[0].weight_grams"),
    ("POST", "/v1/products", {"variants": _product()["variants"]}, "title"),
    ("POST", "/v1/products", {"title": "", "variants": _product()["variants"]}, "title"),
    ("POST", "/v1/products", {"title": "x" * 10_000, "variants": _product()["variants"]}, "title"),
    ("POST", "/v1/products", {"title": "No variants", "variants": []}, "variants"),
    ("POST", "/v1/products", {"title": "No variants"}, "variants"),
    (
        "POST",
        "/v1/products",
        {
            "title": "Two",
            "variants": [
                *_product()["variants"],
                *_product(prices=[{"amount": 1.5, "currency": "EUR"}])["variants"],
            ],
        },
        "variants[1].prices[0].amount",
    ),
    # carts
    ("POST", "/v1/carts", {"currency": "ZZZ"}, "currency"),
    ("POST", "/v1/carts", {"currency": "eur"}, "currency"),
    ("POST", "/v1/carts", {"currency": 978}, "currency"),
    ("POST", "/v1/carts", {}, "currency"),
    ("POST", "/v1/carts", {"currency": "EUR", "email": "not-an-email"}, "email"),
    ("PATCH", "/v1/carts/{cart}", _address(country="Germany"), "shipping_address.country"),
    ("PATCH", "/v1/carts/{cart}", _address(country="de"), "shipping_address.country"),
    ("PATCH", "/v1/carts/{cart}", _address(country="DEU"), "shipping_address.country"),
    ("PATCH", "/v1/carts/{cart}", _address(country="ZZ"), "shipping_address.country"),
    ("PATCH", "/v1/carts/{cart}", _address(country="UK"), "shipping_address.country"),
    ("PATCH", "/v1/carts/{cart}", _address(country=""), "shipping_address.country"),
    ("PATCH", "/v1/carts/{cart}", _address(country=49), "shipping_address.country"),
    ("PATCH", "/v1/carts/{cart}", _address(city=""), "shipping_address.city"),
    ("PATCH", "/v1/carts/{cart}", {"shipping_address": {"name": "Ada"}}, "shipping_address.line1"),
    (
        "PATCH",
        "/v1/carts/{cart}",
        {"billing_address": {**ADDRESS, "country": "XX"}},
        "billing_address.country",
    ),
    ("PATCH", "/v1/carts/{cart}", {"shipping_address": "Berlin"}, "shipping_address"),
    ("PATCH", "/v1/carts/{cart}", {"shipping_method": "teleport"}, "shipping_method"),
    ("PATCH", "/v1/carts/{cart}", {"shipping_method": 5}, "shipping_method"),
    ("PATCH", "/v1/carts/{cart}", {"email": "a@"}, "email"),
    # inventory
    ("PUT", "/v1/inventory/{sku}", {"on_hand": -1}, "on_hand"),
    ("PUT", "/v1/inventory/{sku}", {"on_hand": "5"}, "on_hand"),
    ("PUT", "/v1/inventory/{sku}", {"on_hand": 5.5}, "on_hand"),
    ("PUT", "/v1/inventory/{sku}", {"on_hand": False}, "on_hand"),
    ("PUT", "/v1/inventory/{sku}", {"on_hand": 10**40}, "on_hand"),
    ("PUT", "/v1/inventory/{sku}", {}, "on_hand"),
    # checkout
    ("POST", "/v1/carts/{cart}/checkout", {}, "payment"),
    (
        "POST",
        "/v1/carts/{cart}/checkout",
        {"payment": {"method": "iou", "token": "tok_visa"}},
        "payment.method",
    ),
    ("POST", "/v1/carts/{cart}/checkout", {"payment": {"method": "card"}}, "payment.token"),
    (
        "POST",
        "/v1/carts/{cart}/checkout",
        {"payment": {"method": "card", "token": ""}},
        "payment.token",
    ),
]


def _fill(value: Any, cart: str, sku: str) -> Any:
    if isinstance(value, str):
        return value.replace("{cart}", cart).replace("{sku}", sku)
    if isinstance(value, dict):
        return {k: _fill(v, cart, sku) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, cart, sku) for v in value]
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    INVALID,
    ids=[f"{m} {p.split('/')[-1]} {f}#{i}" for i, (m, p, _, f) in enumerate(INVALID)],
)
async def test_invalid_input_is_422_naming_the_field(
    admin: httpx.AsyncClient, method: str, path: str, body: Any, field: str
) -> None:
    cart, sku = await _cart_with_product(admin)
    response = await admin.request(
        method,
        _fill(path, cart, sku),
        json=_fill(body, cart, sku),
        headers={"Idempotency-Key": idempotency_key()},
    )
    assert_validation_error(response, field)
    # A refused request changed nothing.
    after = (await admin.get(f"/v1/carts/{cart}")).json()
    assert after["lines"] == [] and after["shipping_address"] is None
    assert after["shipping_method"] is None and after["email"] is None
    assert (await admin.get(f"/v1/inventory/{sku}")).json()["on_hand"] == 5


WHOLE_BODY = [
    b"",
    b"   ",
    b"{",
    b'{"currency": "EUR",}',
    b"{'currency': 'EUR'}",
    b"[]",
    b'[{"currency": "EUR"}]',
    b'"EUR"',
    b"null",
    b"42",
    b"\xff\xfe\x00",
    b'{"currency": NaN}',
]


@pytest.mark.parametrize("raw", WHOLE_BODY, ids=[repr(b)[:24] for b in WHOLE_BODY])
async def test_a_body_that_is_not_a_json_object_is_422(
    admin: httpx.AsyncClient, raw: bytes
) -> None:
    cart, sku = await _cart_with_product(admin)
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key()}
    for method, path in [
        ("POST", "/v1/products"),
        ("POST", "/v1/carts"),
        ("PUT", f"/v1/inventory/{sku}"),
        ("PATCH", f"/v1/carts/{cart}"),
        ("POST", f"/v1/carts/{cart}/lines"),
        ("POST", f"/v1/carts/{cart}/checkout"),
        ("POST", "/v1/api-keys"),
    ]:
        response = await admin.request(method, path, content=raw, headers=headers)
        assert_validation_error(response)


@pytest.mark.parametrize("path", ["/v1/nope", "/nope", "/v2/products", "/v1/products/x/y/z", "/"])
async def test_unknown_route_is_404_problem(
    admin: httpx.AsyncClient, anonymous: httpx.AsyncClient, path: str
) -> None:
    for client in (admin, anonymous):
        assert_problem(await client.get(path), 404, "not_found")
        assert_problem(await client.post(path, json={}), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/products", {"GET", "POST"}),
        ("PUT", "/v1/carts", {"POST"}),
        ("DELETE", "/v1/carts/cart_x", {"GET", "PATCH"}),
        ("PUT", "/v1/carts/cart_x/lines/line_x", {"PATCH", "DELETE"}),
        ("GET", "/v1/carts/cart_x/checkout", {"POST"}),
        ("PATCH", "/v1/orders", {"GET"}),
        ("POST", "/healthz", {"GET"}),
        ("DELETE", "/v1/events", {"GET"}),
    ],
)
async def test_wrong_method_is_405_problem_with_allow(
    admin: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await admin.request(method, path)
    assert_problem(response, 405, "method_not_allowed")
    assert {m.strip() for m in response.headers["Allow"].split(",")} - {"HEAD"} == allowed


async def test_nul_characters_are_refused_not_crashed_on(admin: httpx.AsyncClient) -> None:
    # PostgreSQL cannot store U+0000: it must be refused before it reaches the database.
    cart, sku = await _cart_with_product(admin)
    response = await admin.post("/v1/products", json={**_product(), "title": "a\u0000b"})
    assert_validation_error(response, "title")
    response = await admin.post("/v1/carts", json={"currency": "EUR", "email": "a\u0000@b.de"})
    assert_validation_error(response, "email")
    response = await admin.patch(f"/v1/carts/{cart}", json=_address(name="Ada\u0000"))
    assert_validation_error(response, "shipping_address.name")
    response = await admin.post(
        "/v1/api-keys", json={"type": "secret", "name": "x", "scopes": ["a\u0000"]}
    )
    assert_validation_error(response, "scopes[0]")
    for params, field in [
        ({"q": "a\u0000"}, "q"),
        ({"starting_after": "\u0000"}, "starting_after"),
    ]:
        assert_validation_error(await admin.get("/v1/products", params=params), field)
    assert_validation_error(await admin.get("/v1/events", params={"type": "x\u0000"}), "type")
    for path in [
        "/v1/products/prod%00",
        f"/v1/inventory/{sku}%00",
        "/v1/carts/cart%00",
        "/v1/orders/ord%00",
        f"/v1/carts/{cart}/lines/line%00",
    ]:
        assert_problem(await admin.get(path), 404, "not_found")


NASTY: list[tuple[str, str, dict[str, Any]]] = [
    (
        "POST",
        "/v1/products",
        {
            "json": {
                "title": "\U0001f6d2 Ünïcödé \u202e",
                **{
                    "variants": [
                        {"sku": "UNI-" + unique_sku(), "prices": [{"amount": 1, "currency": "EUR"}]}
                    ]
                },
            }
        },
    ),
    ("POST", "/v1/products", {"json": {"title": "x", "variants": [{"sku": "é", "prices": []}]}}),
    ("POST", "/v1/products", {"content": b'{"title": "\\ud800", "variants": []}'}),
    (
        "POST",
        "/v1/products",
        {
            "content": b'{"title": "x", "variants": [{"sku": "S", "prices": '
            b'[{"amount": 18446744073709551616, "currency": "EUR"}]}]}'
        },
    ),
    (
        "POST",
        "/v1/products",
        {
            "content": b'{"title": "x", "variants": [{"sku": "S", "prices": '
            b'[{"amount": 1e400, "currency": "EUR"}]}]}'
        },
    ),
    ("POST", "/v1/products", {"content": b"[" * 5000 + b"]" * 5000}),
    ("POST", "/v1/products", {"content": b'{"a":' * 900 + b'"\\u0000"' + b"}" * 900}),
    ("POST", "/v1/products", {"json": {"title": "x" * 200_000, "variants": []}}),
    ("POST", "/v1/products", {"content": b" " * 300_000}),
    ("POST", "/v1/products", {"json": {"title": "t", "variants": [{"sku": "s" * 5000}]}}),
    ("POST", "/v1/carts", {"json": {"currency": "EUR", "email": "a@" + "b" * 10_000 + ".de"}}),
    ("POST", "/v1/carts", {"json": {"currency": "EUR"}, "headers": {"Idempotency-Key": "k" * 256}}),
    ("POST", "/v1/carts", {"json": {"currency": "EUR" * 1000}}),
    ("POST", "/v1/carts", {"json": {"currency": "EUR", "extra": {"deep": [1, {"x": None}]}}}),
    ("GET", "/v1/products", {"params": {"limit": "9" * 400}}),
    ("GET", "/v1/products", {"params": {"limit": "-0"}}),
    ("GET", "/v1/products", {"params": {"q": "x" * 10_000}}),
    ("GET", "/v1/products", {"params": {"q": "%_\\'\";--"}}),
    ("GET", "/v1/products", {"params": {"starting_after": "x" * 5000}}),
    ("GET", "/v1/products", {"params": {"starting_after": "' OR 1=1 --"}}),
    ("GET", "/v1/orders", {"params": {"starting_after": "ord_doesnotexist"}}),
    ("GET", "/v1/events", {"params": {"starting_after": "evt_doesnotexist"}}),
    ("GET", "/v1/events", {"params": {"type": "x" * 5000}}),
    ("GET", "/v1/products/" + "p" * 5000, {}),
    ("GET", "/v1/products/%F0%9F%9B%92", {}),
    ("GET", "/v1/carts/" + "c" * 5000, {}),
    ("GET", "/v1/orders/%E2%80%AE", {}),
    ("PUT", "/v1/inventory/" + "s" * 5000, {"json": {"on_hand": 1}}),
    ("PUT", "/v1/inventory/%C3%A9", {"json": {"on_hand": 1}}),
    ("DELETE", "/v1/api-keys/" + "k" * 5000, {}),
    (
        "POST",
        "/v1/carts/cart_nope/checkout",
        {
            "json": {"payment": {"method": "card", "token": "t" * 10_000}},
            "headers": {"Idempotency-Key": "nasty"},
        },
    ),
    ("POST", "/v1/orders/ord_nope/payment/confirm", {}),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"), NASTY, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(NASTY)]
)
async def test_nasty_input_never_causes_a_5xx(
    admin: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    response = await admin.request(method, path, **kwargs)
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        body = response.json()
        assert body["status"] == response.status_code and body["code"]
    # The server is still healthy afterwards.
    assert (await admin.get("/v1/products", params={"limit": 1})).status_code == 200


async def test_oversized_body_is_refused_as_a_problem(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/v1/products",
        content=b'{"title": "' + b"x" * 400_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


async def test_every_answer_carries_a_request_id_and_problems_repeat_it(
    anonymous: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    ok = await admin.get("/v1/products")
    assert ok.headers["request-id"].startswith("req_")
    refused = await anonymous.get("/v1/products")
    body = assert_problem(refused, 401, "unauthenticated")
    assert body["request_id"] == refused.headers["request-id"]
    assert refused.headers["request-id"] != ok.headers["request-id"]
    nul = await anonymous.get("/v1/products/%00")
    assert assert_problem(nul, 404, "not_found")["request_id"] == nul.headers["request-id"]
