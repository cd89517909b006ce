"""Products and variants: creation, unique SKUs, reads, search, pagination."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.api.support import all_pages, assert_problem, assert_validation_error
from tests.factories import unique_sku


def _variant(sku: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"sku": sku or unique_sku(), "prices": [{"amount": 1250, "currency": "EUR"}], **extra}


async def _create(
    admin: httpx.AsyncClient, title: str, *variants: dict[str, Any]
) -> httpx.Response:
    return await admin.post("/v1/products", json={"title": title, "variants": list(variants)})


async def test_create_product_returns_201_with_ids(admin: httpx.AsyncClient) -> None:
    a, b = unique_sku(), unique_sku()
    response = await admin.post(
        "/v1/products",
        json={
            "title": "Linen shirt",
            "description": "Soft.",
            "variants": [
                {
                    "sku": a,
                    "title": "S",
                    "weight_grams": 180,
                    "prices": [
                        {"amount": 4900, "currency": "EUR"},
                        {"amount": 5300, "currency": "USD"},
                    ],
                },
                {"sku": b, "title": "M", "prices": [{"amount": 4900, "currency": "EUR"}]},
            ],
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    product = response.json()
    assert product["id"].startswith("prod_") and len(product["id"]) > len("prod_")
    assert product["title"] == "Linen shirt"
    assert product["description"] == "Soft."
    variants = product["variants"]
    assert [v["sku"] for v in variants] == [a, b]
    assert all(v["id"].startswith("var_") for v in variants)
    assert len({v["id"] for v in variants}) == 2
    assert variants[0]["title"] == "S" and variants[0]["weight_grams"] == 180
    assert sorted(variants[0]["prices"], key=lambda p: p["currency"]) == [
        {"amount": 4900, "currency": "EUR"},
        {"amount": 5300, "currency": "USD"},
    ]
    assert variants[1]["prices"] == [{"amount": 4900, "currency": "EUR"}]

    fetched = await admin.get(f"/v1/products/{product['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == product


async def test_duplicate_sku_is_409_sku_taken_and_creates_nothing(
    admin: httpx.AsyncClient,
) -> None:
    taken, free = unique_sku(), unique_sku()
    title = f"Dup {uuid.uuid4().hex}"
    assert (await _create(admin, title, _variant(taken))).status_code == 201

    again = await _create(admin, title, _variant(taken))
    assert_problem(again, 409, "sku_taken")
    # One taken SKU among several refuses the whole product.
    mixed = await _create(admin, title, _variant(free), _variant(taken))
    assert_problem(mixed, 409, "sku_taken")
    listed = (await admin.get("/v1/products", params={"q": title})).json()["data"]
    assert len(listed) == 1
    # The free SKU was not taken by the refused request.
    assert (await _create(admin, title + " 2", _variant(free))).status_code == 201


async def test_duplicate_sku_within_one_request_is_422(admin: httpx.AsyncClient) -> None:
    sku = unique_sku()
    response = await _create(admin, "Twice", _variant(sku), _variant(sku))
    assert_validation_error(response, "variants")
    # Nothing was created: the SKU is still free.
    assert (await _create(admin, "Once", _variant(sku))).status_code == 201


async def test_one_price_per_currency(admin: httpx.AsyncClient) -> None:
    variant = _variant(prices=[{"amount": 1, "currency": "EUR"}, {"amount": 2, "currency": "EUR"}])
    assert_validation_error(await _create(admin, "Two EUR prices", variant), "variants[0].prices")


async def test_get_unknown_product_is_404(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    for client in (admin, storefront):
        for product_id in ("prod_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "nope", "var_x"):
            assert_problem(await client.get(f"/v1/products/{product_id}"), 404, "not_found")


async def test_publishable_key_reads_the_catalog(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    title = f"Public {uuid.uuid4().hex}"
    product = (await _create(admin, title, _variant())).json()
    got = await storefront.get(f"/v1/products/{product['id']}")
    assert got.status_code == 200 and got.json() == product
    listed = await storefront.get("/v1/products", params={"q": title})
    assert listed.status_code == 200
    assert listed.json() == {"data": [product], "has_more": False}


async def test_search_matches_titles_case_insensitively(admin: httpx.AsyncClient) -> None:
    token = uuid.uuid4().hex[:10]
    wanted = (await _create(admin, f"Blue WIDGET {token} 50% off_sale", _variant())).json()
    other = (await _create(admin, f"Red gadget {token}", _variant())).json()

    async def ids(q: str) -> set[str]:
        response = await admin.get("/v1/products", params={"q": q, "limit": 100})
        assert response.status_code == 200, response.text
        return {p["id"] for p in response.json()["data"]}

    assert await ids(token) == {wanted["id"], other["id"]}
    assert await ids(token.upper()) == {wanted["id"], other["id"]}
    assert await ids(f"widget {token}") == {wanted["id"]}
    assert await ids(f"blue widget {token.upper()}") == {wanted["id"]}
    assert await ids(f"{token} 50% OFF_SALE") == {wanted["id"]}
    # LIKE metacharacters are literal: `%` and `_` match only themselves.
    assert await ids(f"{token}%") == set()
    assert await ids(f"{token} 50_") == set()
    assert await ids(f"gadget {token}") == {other["id"]}
    assert await ids(f"no such title {token}") == set()


async def test_list_pages_through_every_product_once(admin: httpx.AsyncClient) -> None:
    token = uuid.uuid4().hex
    created = {
        (await _create(admin, f"Paged {token} {i}", _variant())).json()["id"] for i in range(5)
    }

    first = (await admin.get("/v1/products", params={"q": token, "limit": 2})).json()
    assert len(first["data"]) == 2 and first["has_more"] is True
    second = (
        await admin.get(
            "/v1/products",
            params={"q": token, "limit": 2, "starting_after": first["data"][-1]["id"]},
        )
    ).json()
    assert len(second["data"]) == 2 and second["has_more"] is True
    third = (
        await admin.get(
            "/v1/products",
            params={"q": token, "limit": 2, "starting_after": second["data"][-1]["id"]},
        )
    ).json()
    assert len(third["data"]) == 1 and third["has_more"] is False

    seen = [p["id"] for page in (first, second, third) for p in page["data"]]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == created
    # The same walk with limit=100 sees them too, in the same order.
    assert [p["id"] for p in await all_pages(admin, "/v1/products", {"q": token})] == seen
    exact = (await admin.get("/v1/products", params={"q": token, "limit": 5})).json()
    assert len(exact["data"]) == 5 and exact["has_more"] is False


async def test_list_default_limit_is_20(admin: httpx.AsyncClient) -> None:
    token = uuid.uuid4().hex
    for i in range(21):
        assert (await _create(admin, f"Many {token} {i}", _variant())).status_code == 201
    page = (await admin.get("/v1/products", params={"q": token})).json()
    assert len(page["data"]) == 20 and page["has_more"] is True
    rest = (
        await admin.get(
            "/v1/products", params={"q": token, "starting_after": page["data"][-1]["id"]}
        )
    ).json()
    assert len(rest["data"]) == 1 and rest["has_more"] is False
