"""Plain factory functions over the HTTP API (no fixtures file to dig through)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "Unter den Linden 1",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}


def unique_sku(prefix: str = "SKU") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12].upper()}"


async def create_product(
    admin: httpx.AsyncClient,
    *,
    sku: str | None = None,
    price: int = 1999,
    currency: str = "EUR",
    stock: int | None = 10,
    title: str = "Test product",
) -> dict[str, Any]:
    sku = sku or unique_sku()
    response = await admin.post(
        "/v1/products",
        json={
            "title": title,
            "variants": [{"sku": sku, "prices": [{"amount": price, "currency": currency}]}],
        },
    )
    assert response.status_code == 201, response.text
    if stock is not None:
        await set_stock(admin, sku, stock)
    return response.json()


async def set_stock(admin: httpx.AsyncClient, sku: str, on_hand: int) -> dict[str, Any]:
    response = await admin.put(f"/v1/inventory/{sku}", json={"on_hand": on_hand})
    assert response.status_code == 200, response.text
    return response.json()


CONTRACT_STOCK = ("sku", "on_hand", "reserved", "available")


def contract_stock(body: dict[str, Any]) -> dict[str, Any]:
    """The members of a stock answer the contract fixes (totals over every warehouse)."""
    return {k: body[k] for k in CONTRACT_STOCK}


async def stock_of(admin: httpx.AsyncClient, sku: str, *, full: bool = False) -> dict[str, Any]:
    """The SKU's stock as the contract shows it (`full`: with `locations` and the rest)."""
    response = await admin.get(f"/v1/inventory/{sku}")
    assert response.status_code == 200, response.text
    return response.json() if full else contract_stock(response.json())


async def ready_cart(
    client: httpx.AsyncClient,
    lines: list[tuple[str, int]],
    *,
    currency: str = "EUR",
    country: str = "DE",
) -> dict[str, Any]:
    """A cart with lines, a shipping address and the standard method: ready to check out."""
    created = await client.post(
        "/v1/carts", json={"currency": currency, "email": "ada@example.com"}
    )
    assert created.status_code == 201, created.text
    cart_id = created.json()["id"]
    for sku, quantity in lines:
        added = await client.post(
            f"/v1/carts/{cart_id}/lines", json={"sku": sku, "quantity": quantity}
        )
        assert added.status_code == 200, added.text
    patched = await client.patch(
        f"/v1/carts/{cart_id}",
        json={"shipping_address": {**ADDRESS, "country": country}, "shipping_method": "standard"},
    )
    assert patched.status_code == 200, patched.text
    return patched.json()


async def checkout(
    client: httpx.AsyncClient,
    cart_id: str,
    *,
    token: str = "tok_visa",
    key: str | None = None,
) -> httpx.Response:
    return await client.post(
        f"/v1/carts/{cart_id}/checkout",
        json={"payment": {"method": "card", "token": token}},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


async def events_about(admin: httpx.AsyncClient, aggregate_id: str) -> list[dict[str, Any]]:
    """Every event about one order or payment, in the order they happened."""
    response = await admin.get("/v1/events", params={"aggregate_id": aggregate_id, "limit": 100})
    assert response.status_code == 200, response.text
    return response.json()["data"]
