"""The events the order lifecycle, inventory, disputes and reconciliation write, from real
flows through the API on both databases, each matching its JSON Schema (docs/events/):
a fulfilment that completes an order, a line edit, a cancellation, a return asked for and
received, a stock adjustment and a low-stock crossing, a dispute opened and won at the
sandbox provider, and a reconciliation run whose discrepancy a person resolves."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from cartwright.sandbox_psp import settlement
from cartwright.sandbox_psp.books import Books
from tests.api.test_disputes import captured_order, dispute_shown, eventually, provider
from tests.events.contracts import SCHEMAS, load
from tests.factories import checkout, create_product, events_about, ready_cart

SCHEMA_FILES = load(SCHEMAS)
__all__ = ["provider"]  # the sandbox's books (a fixture of tests/api/test_disputes.py)


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def _post(admin: httpx.AsyncClient, path: str, body: Any = None) -> dict[str, Any]:
    response = await admin.post(path, json=body, headers=_key())
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def _check(events: list[dict[str, Any]]) -> set[str]:
    """Every event matches its type's schema; the types seen."""
    for event in events:
        schema = SCHEMA_FILES.get(event["type"])
        assert schema is not None, f"no schema for {event['type']}"
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(event["data"])]
        assert errors == [], (event["type"], errors)
    return {event["type"] for event in events}


async def _order(admin: httpx.AsyncClient, *quantities: int) -> dict[str, Any]:
    skus = [
        (await create_product(admin, price=1_000, stock=10))["variants"][0]["sku"]
        for _ in quantities
    ]
    cart = await ready_cart(admin, list(zip(skus, quantities, strict=True)))
    placed = await checkout(admin, cart["id"])
    assert placed.status_code == 201, placed.text
    return placed.json()  # type: ignore[no-any-return]


def _lines(line_id: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {"lines": [{"line_id": line_id, "quantity": quantity, **extra}]}


async def test_the_order_lifecycles_events_match_their_schemas(admin: httpx.AsyncClient) -> None:
    # An edit (a line removed: its difference is refunded), then a fulfilment of what is
    # left: completed.
    edited = await _order(admin, 2, 1)
    path = f"/v1/orders/{edited['id']}"
    a, b = (line["id"] for line in edited["lines"])
    removed = await admin.delete(f"{path}/lines/{b}", headers=_key())
    assert removed.status_code == 200, removed.text
    await _post(admin, f"{path}/fulfillments", {**_lines(a, 2), "carrier": "ups"})
    # A return asked for and received (one unit back on hand, one damaged).
    ret_id = (await _post(admin, f"{path}/returns", {**_lines(a, 2), "reason": "too big"}))["id"]
    await _post(
        admin,
        f"/v1/returns/{ret_id}/receive",
        {
            "lines": [
                {"line_id": a, "quantity": 1, "restock": True},
                {"line_id": a, "quantity": 1, "restock": False},
            ]
        },
    )
    # A cancellation.
    canceled = await _order(admin, 1)
    await _post(admin, f"/v1/orders/{canceled['id']}/cancel")

    seen = _check(await events_about(admin, edited["id"]))
    seen |= _check(await events_about(admin, canceled["id"]))
    assert {
        "order.updated",
        "order.fulfilled",
        "order.completed",
        "return.requested",
        "return.received",
        "order.canceled",
    } <= seen
    fulfilled = next(
        e for e in await events_about(admin, edited["id"]) if e["type"] == "order.fulfilled"
    )
    assert fulfilled["data"]["fulfillment"]["carrier"] == "ups"
    assert fulfilled["data"]["fulfillment"]["tracking_number"] is None


async def test_the_stock_events_match_their_schemas(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    adjusted = await admin.post(
        f"/v1/inventory/{sku}/adjustments", json={"delta": -2, "reason": "damaged"}
    )
    assert adjusted.status_code in (200, 201), adjusted.text
    counted = await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 4})
    assert counted.status_code == 200, counted.text
    watched = await admin.put(f"/v1/inventory/{sku}", json={"low_stock_threshold": 4})
    assert watched.status_code == 200 and watched.json()["low_stock"] is True, watched.text
    events = await events_about(admin, sku)
    reasons = [e["data"]["reason"] for e in events if e["type"] == "inventory.adjusted"]
    assert reasons[-2:] == ["damaged", "count"]  # after the product's opening count
    assert {"inventory.adjusted", "inventory.low"} <= _check(events)
    low = next(e for e in events if e["type"] == "inventory.low")
    assert (low["data"]["sku"], low["data"]["threshold"]) == (sku, 4)


async def test_the_dispute_events_match_their_schemas(
    admin: httpx.AsyncClient, provider: Books
) -> None:
    order, payment_id = await captured_order(admin)
    at_provider = await provider.find(payment_id)
    assert at_provider is not None
    opened = await provider.open_dispute(at_provider["id"], 500, "fraudulent")
    await eventually(dispute_shown(admin, order["id"], "opened"))
    await provider.decide_dispute(opened["id"], "won")
    await eventually(dispute_shown(admin, order["id"], "won"))
    events = await events_about(admin, order["id"])
    assert {"payment.disputed", "payment.dispute_closed"} <= _check(events)
    # The order shows the dispute: the order.* schemas know the field.
    shown = (await admin.get(f"/v1/orders/{order['id']}")).json()
    assert Draft202012Validator(SCHEMA_FILES["order.placed"]).is_valid(shown)


async def test_the_reconciliation_events_match_their_schemas(admin: httpx.AsyncClient) -> None:
    # A day long before any payment of the tests: its one line is missing on our side.
    day = date(2001, 1, 1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(settlement.COLUMNS)
    unknown = f"sp_{uuid.uuid4().hex}"
    writer.writerow(
        ("capture", unknown, unknown, "ord_none", "", "EUR", 1_000, 30, 970, "2001-01-01T10:00:00Z")
    )
    ran = await admin.post(
        "/v1/reconciliation/runs",
        params={"provider": "sandbox", "day": day.isoformat()},
        content=out.getvalue().encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert ran.status_code == 201, ran.text
    run = ran.json()
    found = await admin.get(f"/v1/reconciliation/runs/{run['id']}/discrepancies")
    assert found.status_code == 200, found.text
    (discrepancy,) = found.json()["data"]
    resolved = await admin.post(
        f"/v1/reconciliation/discrepancies/{discrepancy['id']}/resolve",
        json={"resolution": "dismissed", "note": "a test line"},
    )
    assert resolved.status_code == 200, resolved.text
    seen = _check(await events_about(admin, run["id"]))
    seen |= _check(await events_about(admin, discrepancy["id"]))
    assert seen == {"reconciliation.run_completed", "reconciliation.discrepancy_resolved"}
