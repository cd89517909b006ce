"""Operations endpoints and the API's own documentation."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.factories import checkout, create_product, ready_cart


async def test_health_and_readiness_need_no_key(anonymous: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz"):
        response = await anonymous.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert isinstance(response.json(), dict)


# A sample line of the text format: name, labels (quoted values may hold any character,
# `}` of a route template included, with `\"` and `\\` escaped), value, timestamp.
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
SAMPLE = re.compile(
    rf"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{{(?:{_LABEL},?)*\}})? (-?[0-9.e+-]+|[+-]?Inf|NaN)( -?[0-9]+)?$"
)


async def test_metrics_are_prometheus_text_with_checkout_counts(
    admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=1))["variants"][0]["sku"]
    assert (await checkout(admin, (await ready_cart(admin, [(sku, 1)]))["id"])).status_code == 201

    response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE cartwright_checkouts_total counter" in text
    placed = [
        line
        for line in text.splitlines()
        if line.startswith("cartwright_checkouts_total{") and 'outcome="placed"' in line
    ]
    assert placed and float(placed[0].rsplit(" ", 1)[1]) >= 1, placed
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert SAMPLE.match(line), line


# The contract's routes (api-v1.md), as OpenAPI paths.
CONTRACT_ROUTES = [
    ("post", "/v1/api-keys"),
    ("get", "/v1/api-keys"),
    ("delete", "/v1/api-keys/{key_id}"),
    ("post", "/v1/products"),
    ("get", "/v1/products"),
    ("get", "/v1/products/{product_id}"),
    ("put", "/v1/inventory/{sku}"),
    ("get", "/v1/inventory/{sku}"),
    ("post", "/v1/carts"),
    ("get", "/v1/carts/{cart_id}"),
    ("patch", "/v1/carts/{cart_id}"),
    ("post", "/v1/carts/{cart_id}/lines"),
    ("patch", "/v1/carts/{cart_id}/lines/{line_id}"),
    ("delete", "/v1/carts/{cart_id}/lines/{line_id}"),
    ("get", "/v1/carts/{cart_id}/shipping-methods"),
    ("post", "/v1/carts/{cart_id}/checkout"),
    ("get", "/v1/orders"),
    ("get", "/v1/orders/{order_id}"),
    ("post", "/v1/orders/{order_id}/payment/confirm"),
    ("get", "/v1/events"),
    ("get", "/v1/ledger/trial-balance"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
]


def _template(path: str) -> str:
    """`/v1/carts/{id}/lines` and `/v1/carts/{cart_id}/lines` are the same route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


@pytest.fixture
async def openapi(anonymous: httpx.AsyncClient) -> dict[str, Any]:
    response = await anonymous.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert isinstance(document, dict)
    return document


async def test_openapi_document_is_valid_and_its_refs_resolve(openapi: dict[str, Any]) -> None:
    assert str(openapi["openapi"]).startswith("3.")
    assert openapi["info"]["title"] and openapi["info"]["version"]
    assert isinstance(openapi["paths"], dict) and openapi["paths"]
    schemas = openapi.get("components", {}).get("schemas", {})

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for ref in refs(openapi):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


# Capture, cancel, fulfillments, refunds, webhook endpoints, PSP webhooks and the ledger
# come with the order-lifecycle, events and payments issues; their tests come with them.
@pytest.mark.parametrize(("method", "path"), CONTRACT_ROUTES)
async def test_openapi_documents_every_contract_route(
    openapi: dict[str, Any], method: str, path: str
) -> None:
    paths = {_template(p): ops for p, ops in openapi["paths"].items()}
    assert _template(path) in paths, path
    assert method in paths[_template(path)], (method, path)


async def test_openapi_documents_request_bodies(openapi: dict[str, Any]) -> None:
    paths = {_template(p): ops for p, ops in openapi["paths"].items()}
    for method, path in [
        ("post", "/v1/products"),
        ("put", "/v1/inventory/{sku}"),
        ("post", "/v1/carts"),
        ("patch", "/v1/carts/{cart_id}"),
        ("post", "/v1/carts/{cart_id}/lines"),
        ("post", "/v1/carts/{cart_id}/checkout"),
        ("post", "/v1/api-keys"),
    ]:
        body = paths[_template(path)][method].get("requestBody")
        assert body and "application/json" in body["content"], (method, path)


async def test_docs_serve_html(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
