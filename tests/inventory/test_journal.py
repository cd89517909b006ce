"""The inventory journal and adjustments: every change of a level is a movement, and no
change can take on_hand below zero or below what is reserved (both databases)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from tests.api.support import assert_problem, assert_validation_error
from tests.factories import checkout, create_product, ready_cart, stock_of
from tests.inventory.support import assert_journal_agrees, movements_of


async def _sku(admin: httpx.AsyncClient, stock: int | None = 10) -> str:
    return str((await create_product(admin, stock=stock))["variants"][0]["sku"])


async def test_an_adjustment_changes_on_hand_and_is_journaled(admin: httpx.AsyncClient) -> None:
    sku = await _sku(admin, stock=10)
    response = await admin.post(
        f"/v1/inventory/{sku}/adjustments",
        json={"delta": -3, "reason": "damaged", "note": "dropped pallet", "reference": "DN-1"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("im_")
    assert {
        k: body[k] for k in ("sku", "warehouse_id", "delta", "reason", "reference", "note")
    } == {
        "sku": sku,
        "warehouse_id": "wh_default",
        "delta": -3,
        "reason": "damaged",
        "reference": "DN-1",
        "note": "dropped pallet",
    }
    assert body["stock"]["on_hand"] == 7 and body["stock"]["available"] == 7
    assert await stock_of(admin, sku) == {"sku": sku, "on_hand": 7, "reserved": 0, "available": 7}

    received = await admin.post(
        f"/v1/inventory/{sku}/adjustments", json={"delta": 5, "reason": "received"}
    )
    assert received.status_code == 201, received.text
    movements = await movements_of(admin, sku)
    # Newest first: the delivery, the damage, the count that created the stock.
    assert [(m["reason"], m["delta_on_hand"], m["delta_reserved"]) for m in movements] == [
        ("received", 5, 0),
        ("damaged", -3, 0),
        ("count", 10, 0),
    ]
    assert movements[1]["id"] == body["id"]
    assert movements[1]["actor"] is not None and movements[1]["actor"]["key_id"]
    await assert_journal_agrees(admin, sku)
    types = [
        e["type"]
        for e in (await admin.get("/v1/events", params={"aggregate_id": sku})).json()["data"]
    ]
    assert types == ["inventory.adjusted"] * 3


async def test_an_adjustment_below_what_is_reserved_is_refused_and_changes_nothing(
    admin: httpx.AsyncClient,
) -> None:
    sku = await _sku(admin, stock=5)
    placed = await checkout(admin, (await ready_cart(admin, [(sku, 3)]))["id"])
    assert placed.status_code == 201, placed.text
    before = await movements_of(admin, sku)

    refused = await admin.post(
        f"/v1/inventory/{sku}/adjustments", json={"delta": -3, "reason": "lost"}
    )
    body = assert_problem(refused, 409, "invalid_state")
    assert body["stock"] == {"warehouse_id": "wh_default", "on_hand": 5, "reserved": 3}
    below_zero = await admin.post(
        f"/v1/inventory/{sku}/adjustments", json={"delta": -6, "reason": "correction"}
    )
    assert_problem(below_zero, 409, "invalid_state")
    assert await stock_of(admin, sku) == {"sku": sku, "on_hand": 5, "reserved": 3, "available": 2}
    assert await movements_of(admin, sku) == before
    # Down to exactly what is held is allowed.
    ok = await admin.post(f"/v1/inventory/{sku}/adjustments", json={"delta": -2, "reason": "lost"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["stock"]["available"] == 0
    await assert_journal_agrees(admin, sku)


async def test_a_count_below_what_is_reserved_is_refused(admin: httpx.AsyncClient) -> None:
    sku = await _sku(admin, stock=4)
    placed = await checkout(admin, (await ready_cart(admin, [(sku, 3)]))["id"])
    assert placed.status_code == 201, placed.text

    refused = await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 2})
    body = assert_problem(refused, 409, "invalid_state")
    assert body["stock"]["reserved"] == 3
    assert await stock_of(admin, sku) == {"sku": sku, "on_hand": 4, "reserved": 3, "available": 1}
    counted = await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 3, "reference": "ST-7"})
    assert counted.status_code == 200, counted.text
    latest = (await movements_of(admin, sku))[0]
    assert (latest["reason"], latest["delta_on_hand"], latest["reference"]) == ("count", -1, "ST-7")
    await assert_journal_agrees(admin, sku)


async def test_a_repeated_adjustment_with_its_key_applies_once(admin: httpx.AsyncClient) -> None:
    sku = await _sku(admin, stock=10)
    key = uuid.uuid4().hex
    body = {"delta": 4, "reason": "received"}
    first = await admin.post(
        f"/v1/inventory/{sku}/adjustments", json=body, headers={"Idempotency-Key": key}
    )
    again = await admin.post(
        f"/v1/inventory/{sku}/adjustments", json=body, headers={"Idempotency-Key": key}
    )
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (await stock_of(admin, sku))["on_hand"] == 14
    other = await admin.post(
        f"/v1/inventory/{sku}/adjustments",
        json={"delta": 5, "reason": "received"},
        headers={"Idempotency-Key": key},
    )
    assert_problem(other, 422, "idempotency_key_reused")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"delta": 0, "reason": "adjustment"}, "delta"),
        ({"delta": 1.5, "reason": "adjustment"}, "delta"),
        ({"delta": 2, "reason": "stolen"}, "reason"),
        ({"reason": "adjustment"}, "delta"),
        ({"delta": -2, "reason": "received"}, None),
        ({"delta": 2, "reason": "damaged"}, None),
        ({"delta": 2, "reason": "adjustment", "warehouse_id": "wh_nowhere"}, "warehouse_id"),
        ({"delta": 2, "reason": "adjustment", "note": "x" * 1001}, "note"),
    ],
)
async def test_bad_adjustments_are_422_and_change_nothing(
    admin: httpx.AsyncClient, body: dict[str, object], field: str | None
) -> None:
    sku = await _sku(admin, stock=3)
    response = await admin.post(f"/v1/inventory/{sku}/adjustments", json=body)
    assert_validation_error(response, field)
    assert (await stock_of(admin, sku))["on_hand"] == 3
    assert len(await movements_of(admin, sku)) == 1


async def test_adjusting_an_unknown_sku_is_404(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/v1/inventory/NO-SUCH-SKU-XYZ/adjustments", json={"delta": 1, "reason": "received"}
    )
    assert_problem(response, 404, "not_found")


async def test_checkout_and_a_declined_payment_are_journaled(admin: httpx.AsyncClient) -> None:
    sku = await _sku(admin, stock=5)
    placed = await checkout(admin, (await ready_cart(admin, [(sku, 2)]))["id"])
    assert placed.status_code == 201, placed.text
    declined = await checkout(
        admin, (await ready_cart(admin, [(sku, 1)]))["id"], token="tok_declined"
    )
    assert declined.status_code == 402, declined.text
    movements = await movements_of(admin, sku)
    assert [(m["reason"], m["delta_on_hand"], m["delta_reserved"]) for m in movements][:3] == [
        ("released", 0, -1),
        ("reserved", 0, 1),
        ("reserved", 0, 2),
    ]
    assert movements[2]["reference"] == placed.json()["id"]
    assert movements[0]["reference"] == movements[1]["reference"] != placed.json()["id"]
    await assert_journal_agrees(admin, sku)


async def test_movements_page_by_id(admin: httpx.AsyncClient) -> None:
    sku = await _sku(admin, stock=1)
    for _ in range(4):
        r = await admin.post(
            f"/v1/inventory/{sku}/adjustments", json={"delta": 1, "reason": "received"}
        )
        assert r.status_code == 201
    first = (await admin.get(f"/v1/inventory/{sku}/movements", params={"limit": 2})).json()
    assert len(first["data"]) == 2 and first["has_more"] is True
    rest = (
        await admin.get(
            f"/v1/inventory/{sku}/movements",
            params={"limit": 100, "starting_after": first["data"][-1]["id"]},
        )
    ).json()
    assert rest["has_more"] is False
    ids = [m["id"] for m in first["data"] + rest["data"]]
    assert len(ids) == 5 == len(set(ids))
    unknown = await admin.get(
        f"/v1/inventory/{sku}/movements", params={"starting_after": "im_nothing"}
    )
    assert_validation_error(unknown, "starting_after")


async def test_concurrent_adjustments_and_checkouts_never_go_below_reserved(
    admin: httpx.AsyncClient,
) -> None:
    stock, shoppers, takers = 10, 12, 12
    sku = await _sku(admin, stock=stock)
    carts = [await ready_cart(admin, [(sku, 1)]) for _ in range(shoppers)]

    async def take_one() -> httpx.Response:
        return await admin.post(
            f"/v1/inventory/{sku}/adjustments", json={"delta": -1, "reason": "lost"}
        )

    results = await asyncio.gather(
        *(checkout(admin, c["id"]) for c in carts), *(take_one() for _ in range(takers))
    )
    checkouts, adjustments = results[:shoppers], results[shoppers:]
    placed = Counter(r.status_code for r in checkouts)
    taken = Counter(r.status_code for r in adjustments)
    assert set(placed) <= {201, 409} and set(taken) <= {201, 409}, (placed, taken)
    assert {r.json()["code"] for r in checkouts if r.status_code == 409} <= {"insufficient_stock"}
    assert {r.json()["code"] for r in adjustments if r.status_code == 409} <= {"invalid_state"}
    # Every unit went exactly once: to an order or out of the warehouse.
    assert placed[201] + taken[201] == stock, (placed, taken)
    final = await stock_of(admin, sku)
    assert final == {
        "sku": sku,
        "on_hand": stock - taken[201],
        "reserved": placed[201],
        "available": 0,
    }
    await assert_journal_agrees(admin, sku)
