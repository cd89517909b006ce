"""Every event type the platform writes has a JSON Schema (draft 2020-12), what the API
scenarios wrote matches it, and no schema breaks its frozen previous version."""

from __future__ import annotations

import copy
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from cartwright.events.envelope import envelope, schema_url
from cartwright.events.service import Cursor, FeedEvent
from cartwright.kit import clock
from tests.events.contracts import BASELINES, ROOT, SCHEMAS, breaking_changes, load
from tests.factories import checkout, create_product, events_about, ready_cart

SCHEMA_FILES = load(SCHEMAS)
# Types documented in docs/events.md's table (rows start with | `type` |).
DOCUMENTED = set(
    re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", (ROOT / "docs" / "events.md").read_text(), re.M)
)


def _emitted_in_source() -> set[str]:
    """Event types named where events are built: `Event("<type>"` anywhere, the type tables
    of payments/service.py (`_EVENTS`, `_OPERATION_EVENTS`) and the mismatch type there."""
    found: set[str] = set()
    quoted = r'"((?:payment|order|customer|inventory)\.[a-z_]+)"'
    for path in (ROOT / "src" / "cartwright").rglob("*.py"):
        found |= set(re.findall(r'Event\(\s*"([a-z_]+\.[a-z_]+)"', path.read_text()))
    payments = (ROOT / "src" / "cartwright" / "payments" / "service.py").read_text()
    for table in re.findall(r"^_(?:OPERATION_)?EVENTS\b.*?^}", payments, re.M | re.S):
        found |= set(re.findall(quoted, table))
    found |= set(re.findall(r'\(\("(payment\.mismatch)",\)', payments))
    return found


def test_every_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA_FILES
    for event_type, schema in SCHEMA_FILES.items():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == schema_url(event_type), event_type


def test_every_event_type_in_the_source_and_docs_has_a_schema() -> None:
    emitted = _emitted_in_source()
    assert {"order.placed", "payment.captured", "customer.created"} <= emitted
    assert emitted - set(SCHEMA_FILES) == set(), "write docs/events/<type>.v1.json"
    assert DOCUMENTED - set(SCHEMA_FILES) == set()
    index = (SCHEMAS / "README.md").read_text()
    for event_type in SCHEMA_FILES:
        assert f"{event_type}.v1.json" in index, event_type


def test_no_schema_breaks_its_previous_version() -> None:
    baselines = load(BASELINES)
    assert set(baselines) <= set(SCHEMA_FILES), "an event type's schema was deleted"
    for event_type, old in baselines.items():
        assert breaking_changes(old, SCHEMA_FILES[event_type]) == [], event_type


def test_the_compatibility_check_catches_removed_and_retyped_fields() -> None:
    old = SCHEMA_FILES["order.placed"]
    assert breaking_changes(old, copy.deepcopy(old)) == []

    removed = copy.deepcopy(old)
    del removed["properties"]["number"]
    removed["required"].remove("number")
    assert breaking_changes(old, removed) == [
        "data.number: no longer required",
        "data.number: removed",
    ]
    retyped = copy.deepcopy(old)
    retyped["properties"]["totals"]["properties"]["total"]["properties"]["amount"] = {
        "type": "string"
    }
    assert breaking_changes(old, retyped) == [
        "data.totals.total.amount: type ['integer'] became ['string']",
        "data.totals.total.amount: may now be ['string']",
    ]
    loosened = copy.deepcopy(old)
    loosened["properties"]["lines"]["items"]["properties"]["quantity"]["type"] = [
        "integer",
        "null",
    ]
    assert breaking_changes(old, loosened) == ["data.lines[].quantity: may now be ['null']"]
    added = copy.deepcopy(old)
    added["properties"]["gift_message"] = {"type": ["string", "null"]}
    assert breaking_changes(old, added) == []
    narrowed = copy.deepcopy(SCHEMA_FILES["payment.captured"])
    narrowed["properties"]["capture_method"]["enum"] = ["automatic"]
    assert breaking_changes(SCHEMA_FILES["payment.captured"], narrowed) != []


def test_the_baselines_are_frozen_copies_not_the_schemas_themselves() -> None:
    # The check compares two files; editing a schema must not edit its baseline.
    for event_type in SCHEMA_FILES:
        assert (BASELINES / f"{event_type}.v1.json") != (SCHEMAS / f"{event_type}.v1.json")
        assert Path(BASELINES / f"{event_type}.v1.json").exists(), event_type


async def _scenarios(admin: httpx.AsyncClient) -> list[str]:
    """A few flows through the API; the aggregates whose events they wrote."""
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    aggregates = []
    for token in ("tok_visa", "tok_declined", "tok_3ds_required", "tok_processing_error"):
        cart = await ready_cart(admin, [(sku, 1)])
        response = await checkout(admin, cart["id"], token=token)
        body = response.json()
        aggregates.append(body.get("id") or body.get("order_id") or cart["id"])
    return aggregates


async def test_every_event_the_api_wrote_matches_its_schema(admin: httpx.AsyncClient) -> None:
    # Only the events of these flows: the session's database holds every other test's too
    # (some of made-up types, such as the broker tests' `test.broker`).
    seen = [
        e for aggregate in await _scenarios(admin) for e in await events_about(admin, aggregate)
    ]
    assert seen
    kinds = set()
    for event in seen:
        schema = SCHEMA_FILES.get(event["type"])
        assert schema is not None, f"no schema for {event['type']}"
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(event["data"])]
        assert errors == [], (event["type"], errors)
        kinds.add(event["type"])
    assert "order.placed" in kinds or "payment.failed" in kinds


async def test_a_placed_orders_events_match_their_schemas(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
    placed = await checkout(admin, (await ready_cart(admin, [(sku, 1)]))["id"])
    assert placed.status_code == 201, placed.text
    events = await events_about(admin, placed.json()["id"])
    assert [e["type"] for e in events] == ["payment.authorized", "payment.captured", "order.placed"]
    for event in events:
        Draft202012Validator(SCHEMA_FILES[event["type"]]).validate(event["data"])


async def _post(admin: httpx.AsyncClient, path: str, body: dict[str, object]) -> dict[str, Any]:
    answer = await admin.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_the_lifecycles_events_match_their_schemas(admin: httpx.AsyncClient) -> None:
    """An order shipped in two parcels and partly returned, one edited then canceled, and a
    stock adjustment: every event they wrote matches its schema, each new kind seen."""
    sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    await _post(admin, f"/v1/inventory/{sku}/adjustments", {"delta": 2, "reason": "received"})
    shipped = (await checkout(admin, (await ready_cart(admin, [(sku, 2)]))["id"])).json()
    line = shipped["lines"][0]["id"]
    path = f"/v1/orders/{shipped['id']}"
    for _ in range(2):
        await _post(admin, path + "/fulfillments", {"lines": [{"line_id": line, "quantity": 1}]})
    returned = await _post(admin, path + "/returns", {"lines": [{"line_id": line, "quantity": 1}]})
    receive = {"lines": [{"line_id": line, "quantity": 1, "restock": True}]}
    await _post(admin, f"/v1/returns/{returned['id']}/receive", receive)
    edited = (await checkout(admin, (await ready_cart(admin, [(sku, 3)]))["id"])).json()
    edit_path = f"/v1/orders/{edited['id']}/lines/{edited['lines'][0]['id']}"
    answer = await admin.patch(edit_path, json={"quantity": 1})
    assert answer.status_code == 200, answer.text
    await _post(admin, f"/v1/orders/{edited['id']}/cancel", {})
    seen = set()
    for aggregate in (sku, shipped["id"], edited["id"]):
        for event in await events_about(admin, aggregate):
            schema = SCHEMA_FILES.get(event["type"])
            assert schema is not None, f"no schema for {event['type']}"
            errors = [e.message for e in Draft202012Validator(schema).iter_errors(event["data"])]
            assert errors == [], (event["type"], errors)
            seen.add(event["type"])
    assert {
        "inventory.adjusted",
        "order.fulfilled",
        "order.completed",
        "return.requested",
        "return.received",
        "order.updated",
        "order.canceled",
    } <= seen, seen


def test_the_envelope_is_a_cloudevent_naming_its_schema() -> None:
    now = clock.utcnow()
    event = FeedEvent("evt_1", "order.placed", "ord_1", {"id": "ord_1"}, now, Cursor(5, 9))
    document = envelope(event, source="shop-eu", schema_base_url="https://x.test/events/")
    assert document == {
        "specversion": "1.0",
        "id": "evt_1",
        "type": "order.placed",
        "source": "shop-eu",
        "time": clock.isoformat(now),
        "subject": "ord_1",
        "datacontenttype": "application/json",
        "dataschema": "https://x.test/events/order.placed.v1.json",
        "data": {"id": "ord_1"},
    }
    assert envelope(event)["source"] == "cartwright"


# The field that names what an event is about, where it is not `id`: a SKU's stock has no id
# of its own (`inventory.low` is filed under the SKU, as `GET /v1/inventory/{sku}` shows it).
IDENTIFIED_BY = {"inventory.low": "sku"}


@pytest.mark.parametrize("event_type", sorted(SCHEMA_FILES))
def test_each_schema_refuses_data_without_its_id(event_type: str) -> None:
    assert IDENTIFIED_BY.get(event_type, "id") in SCHEMA_FILES[event_type]["required"]
    assert not Draft202012Validator(SCHEMA_FILES[event_type]).is_valid({})
