"""Domain events: listed in the order they happened, filtered by type, paged by id."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from tests.api.support import assert_problem
from tests.factories import checkout, create_product, events_about, ready_cart

PLACED = ["payment.authorized", "payment.captured", "order.placed"]


async def _place(admin: httpx.AsyncClient) -> dict[str, Any]:
    sku = (await create_product(admin, stock=3))["variants"][0]["sku"]
    placed = await checkout(admin, (await ready_cart(admin, [(sku, 1)]))["id"])
    assert placed.status_code == 201, placed.text
    return placed.json()


async def _listed(
    admin: httpx.AsyncClient, params: dict[str, Any], expected_id: str
) -> list[dict[str, Any]]:
    """`GET /v1/events` once it lists `expected_id`. The list is the gap-free feed: on
    PostgreSQL an event is listed once every transaction that began writing before it has
    ended, anywhere on the server (other test runs share it), so the wait is short, not zero."""
    for _ in range(100):
        response = await admin.get("/v1/events", params=params)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        if any(e["id"] == expected_id for e in data):
            return data
        await asyncio.sleep(0.1)
    return data


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))


async def test_events_are_listed_in_the_order_they_happened(admin: httpx.AsyncClient) -> None:
    first, second = await _place(admin), await _place(admin)
    first_events = await events_about(admin, first["id"])
    second_events = await events_about(admin, second["id"])
    assert [e["type"] for e in first_events] == PLACED
    assert [e["type"] for e in second_events] == PLACED

    # Everything after the first order's last event: the second order's events, in order,
    # and none of the first's.
    later = await _listed(
        admin, {"starting_after": first_events[-1]["id"], "limit": 100}, second_events[-1]["id"]
    )
    later_ids = [e["id"] for e in later]
    assert not {e["id"] for e in first_events} & set(later_ids)
    positions = [later_ids.index(e["id"]) for e in second_events]
    assert positions == sorted(positions)
    times = [_at(e) for e in later]
    assert times == sorted(times)
    for event in later:
        assert event["id"].startswith("evt_")
        assert isinstance(event["type"], str) and event["type"]
        assert isinstance(event["data"], dict)


async def test_event_data_is_the_object_with_its_id(admin: httpx.AsyncClient) -> None:
    order = await _place(admin)
    events = {e["type"]: e for e in await events_about(admin, order["id"])}

    placed = events["order.placed"]["data"]
    assert placed["id"] == order["id"]
    shown = (await admin.get(f"/v1/orders/{order['id']}")).json()
    for field in (
        "id",
        "number",
        "status",
        "payment_status",
        "fulfillment_status",
        "lines",
        "totals",
        "amount_captured",
        "created_at",
    ):
        assert placed[field] == shown[field], field

    for kind in ("payment.authorized", "payment.captured"):
        payment = events[kind]["data"]
        assert payment["id"].startswith("pay_"), payment
        assert payment["order_id"] == order["id"]
        assert payment["amount"] == order["totals"]["total"]
    assert events["payment.captured"]["data"]["amount_captured"] == order["totals"]["total"]


async def test_type_filter(admin: httpx.AsyncClient) -> None:
    before = await events_about(admin, (await _place(admin))["id"])
    order = await _place(admin)
    mine = {e["type"]: e["id"] for e in await events_about(admin, order["id"])}
    for kind in PLACED:
        response = await admin.get("/v1/events", params={"type": kind, "limit": 100})
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["data"], kind
        assert {e["type"] for e in page["data"]} == {kind}
        # The first event of this type after the previous order's events is ours.
        after = await _listed(
            admin, {"type": kind, "starting_after": before[-1]["id"], "limit": 1}, mine[kind]
        )
        assert [e["id"] for e in after] == [mine[kind]], kind
    nothing = await admin.get("/v1/events", params={"type": "no.such.event"})
    assert nothing.json() == {"data": [], "has_more": False}


async def test_starting_after_pages_forward(admin: httpx.AsyncClient) -> None:
    order = await _place(admin)
    events = await events_about(admin, order["id"])
    ids = [e["id"] for e in events]

    seen = []
    cursor = None
    while True:
        params: dict[str, Any] = {"aggregate_id": order["id"], "limit": 1}
        if cursor:
            params["starting_after"] = cursor
        page = (await admin.get("/v1/events", params=params)).json()
        seen.extend(e["id"] for e in page["data"])
        if not page["has_more"]:
            break
        cursor = page["data"][-1]["id"]
    assert seen == ids

    # Unfiltered, starting after our first event: our second one comes before our third.
    listed = await _listed(admin, {"starting_after": ids[0], "limit": 100}, ids[2])
    later = [e["id"] for e in listed]
    assert ids[0] not in later
    assert later.index(ids[1]) < later.index(ids[2])


async def test_unknown_starting_after_is_a_client_error(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/v1/events", params={"starting_after": "evt_doesnotexist"})
    assert_problem(response, 422, "validation_error")
