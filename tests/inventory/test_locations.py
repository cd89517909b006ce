"""Stock locations: warehouses, stock per warehouse, and checkout taking stock from the
warehouses that serve the shipping country without ever overselling (both databases).

The session's database is shared: each test's warehouses serve countries no other test
ships to, so other tests' checkouts (to DE, from the default warehouse) are unaffected."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx

from tests.api.support import assert_problem, assert_validation_error
from tests.factories import checkout, create_product, ready_cart, stock_of
from tests.inventory.support import assert_journal_agrees, movements_of


async def _warehouse(admin: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await admin.post("/v1/warehouses", json={"name": "Test warehouse", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def _put(admin: httpx.AsyncClient, sku: str, warehouse_id: str, on_hand: int) -> None:
    response = await admin.put(
        f"/v1/inventory/{sku}", json={"on_hand": on_hand, "warehouse_id": warehouse_id}
    )
    assert response.status_code == 200, response.text


def _levels(stock: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {loc["warehouse_id"]: (loc["on_hand"], loc["reserved"]) for loc in stock["locations"]}


async def test_create_and_list_warehouses(admin: httpx.AsyncClient) -> None:
    code = "W" + uuid.uuid4().hex[:8]
    created = await _warehouse(admin, code=code, priority=7, countries=["NL", "BE", "NL"])
    assert created["id"].startswith("wh_")
    assert {k: created[k] for k in ("code", "priority", "countries")} == {
        "code": code,
        "priority": 7,
        "countries": ["BE", "NL"],
    }
    assert (await admin.get(f"/v1/warehouses/{created['id']}")).json() == created
    listed: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = (await admin.get("/v1/warehouses", params=params)).json()
        listed.extend(page["data"])
        if not page["has_more"]:
            break
        params["starting_after"] = page["data"][-1]["id"]
    assert created in listed
    assert "wh_default" in [w["id"] for w in listed]
    keys = [(w["priority"], w["id"]) for w in listed]
    assert keys == sorted(keys)

    assert_problem(
        await admin.post("/v1/warehouses", json={"name": "Again", "code": code}),
        409,
        "warehouse_code_taken",
    )
    assert_validation_error(
        await admin.post("/v1/warehouses", json={"name": "X", "countries": ["XX"]}),
        "countries[0]",
    )
    assert_validation_error(await admin.post("/v1/warehouses", json={"priority": 1}), "name")
    assert_problem(await admin.get("/v1/warehouses/wh_nothing"), 404, "not_found")


async def test_stock_per_warehouse_and_the_totals(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=4))["variants"][0]["sku"]
    other = await _warehouse(admin, countries=["LU"])
    await _put(admin, sku, other["id"], 6)
    stock = await stock_of(admin, sku, full=True)
    assert {k: stock[k] for k in ("on_hand", "reserved", "available")} == {
        "on_hand": 10,
        "reserved": 0,
        "available": 10,
    }
    assert _levels(stock) == {"wh_default": (4, 0), other["id"]: (6, 0)}
    adjusted = await admin.post(
        f"/v1/inventory/{sku}/adjustments",
        json={"delta": -2, "reason": "damaged", "warehouse_id": other["id"]},
    )
    assert adjusted.status_code == 201, adjusted.text
    assert _levels(adjusted.json()["stock"])[other["id"]] == (4, 0)
    assert_validation_error(
        await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 1, "warehouse_id": "wh_none"}),
        "warehouse_id",
    )
    await assert_journal_agrees(admin, sku)


async def test_checkout_takes_from_the_warehouses_serving_the_country(
    admin: httpx.AsyncClient,
) -> None:
    sku = (await create_product(admin, stock=2))["variants"][0]["sku"]  # 2 in the default
    france = await _warehouse(admin, priority=10, countries=["FR"])
    await _put(admin, sku, france["id"], 5)

    # Whole from the French warehouse (first by priority, has all 3).
    first = await checkout(admin, (await ready_cart(admin, [(sku, 3)], country="FR"))["id"])
    assert first.status_code == 201, first.text
    assert _levels(await stock_of(admin, sku, full=True)) == {
        "wh_default": (2, 0),
        france["id"]: (5, 3),
    }
    # Germany is served by the default warehouse alone: 3 are not there.
    germany = await checkout(admin, (await ready_cart(admin, [(sku, 3)], country="DE"))["id"])
    assert_problem(germany, 409, "insufficient_stock")
    # 4 to France: no warehouse has them all; split in priority order (2 + 2).
    split = await checkout(admin, (await ready_cart(admin, [(sku, 4)], country="FR"))["id"])
    assert split.status_code == 201, split.text
    assert _levels(await stock_of(admin, sku, full=True)) == {
        "wh_default": (2, 2),
        france["id"]: (5, 5),
    }
    await assert_journal_agrees(admin, sku)


async def test_concurrent_checkouts_over_two_warehouses_never_oversell(
    admin: httpx.AsyncClient,
) -> None:
    sku = (await create_product(admin, stock=None))["variants"][0]["sku"]
    near = await _warehouse(admin, priority=5, countries=["NL"])
    far = await _warehouse(admin, priority=6, countries=["NL"])
    await _put(admin, sku, near["id"], 4)
    await _put(admin, sku, far["id"], 3)
    quantities = [1, 2, 1, 3, 1, 2, 1, 1, 2, 1, 1, 2]
    carts = [await ready_cart(admin, [(sku, q)], country="NL") for q in quantities]

    responses = await asyncio.gather(*(checkout(admin, c["id"]) for c in carts))

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses if r.status_code >= 500]
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {
        "insufficient_stock",
        "cart_changed",
    }
    sold = sum(q for q, r in zip(quantities, responses, strict=True) if r.status_code == 201)
    stock = await stock_of(admin, sku, full=True)
    levels = _levels(stock)
    assert sold == stock["reserved"] <= 7
    assert all(0 <= reserved <= on_hand for on_hand, reserved in levels.values()), levels
    assert levels[near["id"]][0] == 4 and levels[far["id"]][0] == 3
    # Each placed order holds exactly its quantity, whichever warehouses it came from.
    held: Counter[str] = Counter()
    for m in await movements_of(admin, sku):
        if m["reason"] == "reserved":
            held[m["reference"]] += m["delta_reserved"]
    for q, r in zip(quantities, responses, strict=True):
        if r.status_code == 201:
            assert held[r.json()["id"]] == q
        elif r.json()["code"] == "insufficient_stock":
            # Stock only went down here: a refusal means it is still not there.
            assert stock["available"] < q
    await assert_journal_agrees(admin, sku)
