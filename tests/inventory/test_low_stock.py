"""`inventory.low`: once when available stock crosses to at-or-below the SKU's threshold,
again only after it was above it (the worker's pass over the journal; both databases)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.support import assert_validation_error
from tests.factories import checkout, create_product, ready_cart, stock_of


async def _low_events(admin: httpx.AsyncClient, sku: str) -> list[dict[str, Any]]:
    response = await admin.get("/v1/events", params={"aggregate_id": sku, "type": "inventory.low"})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def _until(admin: httpx.AsyncClient, sku: str, *, low: bool) -> dict[str, Any]:
    """The SKU's stock once the worker has set its flag to `low` (it polls every 0.5 s)."""
    for _ in range(80):
        stock = await stock_of(admin, sku, full=True)
        if stock["low_stock"] is low:
            return stock
        await asyncio.sleep(0.25)
    raise AssertionError(f"the low-stock flag of {sku} never became {low}")


async def test_fires_once_under_many_checkouts_and_again_after_a_restock(
    admin: httpx.AsyncClient,
) -> None:
    sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    watched = await admin.put(f"/v1/inventory/{sku}", json={"low_stock_threshold": 3})
    assert watched.status_code == 200, watched.text
    assert watched.json()["low_stock_threshold"] == 3 and watched.json()["low_stock"] is False
    carts = [await ready_cart(admin, [(sku, 1)]) for _ in range(10)]

    responses = await asyncio.gather(*(checkout(admin, c["id"]) for c in carts))
    assert {r.status_code for r in responses} == {201}

    await _until(admin, sku, low=True)
    fired = await _low_events(admin, sku)
    assert len(fired) == 1, fired
    data = fired[0]["data"]
    assert data["sku"] == sku and data["threshold"] == 3
    assert data["available"] <= 3
    assert {"on_hand", "reserved", "locations"} <= set(data)

    # Still low after more passes and more changes: nothing more.
    more = await admin.post(
        f"/v1/inventory/{sku}/adjustments", json={"delta": 1, "reason": "received"}
    )
    assert more.status_code == 201
    # Nothing more may happen: give the worker (a pass every second here) time to err.
    await asyncio.sleep(1.5)
    assert len(await _low_events(admin, sku)) == 1

    # Restocked above the threshold: re-armed, and the next crossing fires again.
    restock = await admin.post(
        f"/v1/inventory/{sku}/adjustments", json={"delta": 20, "reason": "received"}
    )
    assert restock.status_code == 201, restock.text
    await _until(admin, sku, low=False)
    assert len(await _low_events(admin, sku)) == 1
    carts = [await ready_cart(admin, [(sku, 6)]) for _ in range(3)]
    responses = await asyncio.gather(*(checkout(admin, c["id"]) for c in carts))
    assert {r.status_code for r in responses} == {201}
    await _until(admin, sku, low=True)
    assert len(await _low_events(admin, sku)) == 2


async def test_a_threshold_set_at_or_above_the_stock_fires_at_once(
    admin: httpx.AsyncClient,
) -> None:
    sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
    response = await admin.put(f"/v1/inventory/{sku}", json={"low_stock_threshold": 2})
    assert response.status_code == 200, response.text
    assert response.json()["low_stock"] is True
    assert len(await _low_events(admin, sku)) == 1
    # Set again, still low: no second event. Cleared: nothing watched.
    await admin.put(f"/v1/inventory/{sku}", json={"low_stock_threshold": 2})
    assert len(await _low_events(admin, sku)) == 1
    cleared = await admin.put(f"/v1/inventory/{sku}", json={"low_stock_threshold": None})
    assert cleared.json()["low_stock_threshold"] is None
    assert cleared.json()["low_stock"] is False


async def test_a_put_must_say_something(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
    assert_validation_error(await admin.put(f"/v1/inventory/{sku}", json={}))
    assert_validation_error(
        await admin.put(f"/v1/inventory/{sku}", json={"low_stock_threshold": -1}),
        "low_stock_threshold",
    )
