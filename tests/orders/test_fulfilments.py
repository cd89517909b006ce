"""Fulfilments on the real databases: stock leaves with them (reservation, on hand and
reserved go down together), lines and the order move on with guarded writes, concurrent
fulfilments never ship more than a line holds, and with capture on fulfilment the
captures add up to the order's total exactly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from cartwright.events import service as events
from cartwright.kit import clock
from cartwright.kit.db import Database
from cartwright.kit.errors import InvalidState, ValidationFailed
from cartwright.orders import lifecycle, lifecycle_actions, payment_actions
from cartwright.orders.lifecycle import LineQuantity
from cartwright.payments import service as payments
from cartwright.payments.connector import OperationResult, OperationStatus
from tests.fakes.connectors import FakeConnector, Operation
from tests.orders.support import get, payment_of, place, platform, reserved_for, stock


async def fulfil(db: Database, order_id: str, *lines: tuple[str, int]) -> dict[str, object]:
    async with db.transaction() as conn:
        _, fulfillment, _ = await lifecycle.fulfil(
            conn,
            order_id,
            [LineQuantity(line_id, q) for line_id, q in lines],
            tracking_number="TRK1",
            carrier="dhl",
            recheck=lifecycle_actions.LEASE,
        )
    return fulfillment


async def test_partial_then_full_fulfilment_moves_stock_and_statuses(db: Database) -> None:
    placed = await place(db, [(1_000, 3, 190), (500, 1, 95)], captured=True, stock=10)
    a, b = placed.line_ids
    first = await fulfil(db, placed.order_id, (a, 2))
    assert first["lines"] == [{"line_id": a, "quantity": 2}]
    order = await get(db, placed.order_id)
    assert order["fulfillment_status"] == "partially_fulfilled" and order["status"] == "open"
    assert (await stock(db, placed.skus[0])) == {
        "sku": placed.skus[0],
        "on_hand": 8,
        "reserved": 1,
        "available": 7,
    }
    assert await reserved_for(db, placed.order_id, placed.skus[0]) == 1
    await fulfil(db, placed.order_id, (a, 1), (b, 1))
    order = await get(db, placed.order_id)
    assert order["fulfillment_status"] == "fulfilled"
    assert order["status"] == "completed"  # fully fulfilled and captured
    assert [line["quantity_fulfilled"] for line in order["lines"]] == [3, 1]
    assert (await stock(db, placed.skus[1]))["on_hand"] == 9
    assert await reserved_for(db, placed.order_id, placed.skus[0]) == 0
    async with db.connection() as conn:
        types = [e["type"] for e in await events.about(conn, [placed.order_id])]
        listed = await lifecycle.fulfillments_of(conn, placed.order_id)
    assert types.count("order.fulfilled") == 2 and "order.completed" in types
    assert [f["id"] for f in listed] == [first["id"], listed[1]["id"]]


async def test_too_many_units_or_an_unknown_line_change_nothing(db: Database) -> None:
    placed = await place(db, [(1_000, 2, 0)], captured=True)
    (line,) = placed.line_ids
    with pytest.raises(InvalidState):
        await fulfil(db, placed.order_id, (line, 3))
    with pytest.raises(ValidationFailed):
        await fulfil(db, placed.order_id, ("oli_nope", 1))
    with pytest.raises(InvalidState):  # the same line twice adds up
        await fulfil(db, placed.order_id, (line, 1), (line, 2))
    order = await get(db, placed.order_id)
    assert order["fulfillment_status"] == "unfulfilled"
    assert order["lines"][0]["quantity_fulfilled"] == 0
    assert (await stock(db, placed.skus[0]))["reserved"] == 2


async def test_concurrent_fulfilments_never_exceed_the_line(db: Database) -> None:
    placed = await place(db, [(700, 5, 0)], captured=True, stock=5)
    (line,) = placed.line_ids
    results = await asyncio.gather(
        *(fulfil(db, placed.order_id, (line, 2)) for _ in range(6)), return_exceptions=True
    )
    shipped = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, InvalidState)]
    assert len(shipped) == 2 and len(refused) == 4, results
    order = await get(db, placed.order_id)
    assert order["lines"][0]["quantity_fulfilled"] == 4
    level = await stock(db, placed.skus[0])
    assert (level["on_hand"], level["reserved"]) == (1, 1)
    assert await reserved_for(db, placed.order_id, placed.skus[0]) == 1


async def test_capture_on_fulfilment_adds_up_to_the_total(db: Database) -> None:
    placed = await place(
        db,
        [(333, 3, 63), (1_001, 1, 190)],
        captured=False,
        shipping=499,
        discount=101,
        extra_tax=95,
    )
    connector = FakeConnector("fake")
    p = platform(db, connector)
    a, b = placed.line_ids
    for lines in ([(a, 1)], [(a, 1), (b, 1)], [(a, 1)]):
        status, _ = await lifecycle_actions.fulfil(
            p,
            placed.order_id,
            [LineQuantity(i, q) for i, q in lines],
            tracking_number=None,
            carrier=None,
        )
        assert status == 201
    payment = await payment_of(db, placed.order_id)
    assert payment.amount_captured == placed.total
    assert payment.status == "captured" and payment.capture_pending == 0
    assert len(connector.keys(Operation.CAPTURE)) == 3
    order = await get(db, placed.order_id)
    assert order["status"] == "completed"
    assert order["amount_captured"]["amount"] == placed.total


async def test_a_capture_left_behind_is_begun_by_the_worker(db: Database) -> None:
    """The process died after the fulfilment committed: the worker begins its capture."""
    placed = await place(db, [(2_500, 2, 0)], captured=False)
    (line,) = placed.line_ids
    async with db.transaction() as conn:  # the fulfilment's commit, and no capture after it
        _, fulfillment, due = await lifecycle.fulfil(
            conn,
            placed.order_id,
            [LineQuantity(line, 2)],
            tracking_number=None,
            carrier=None,
            recheck=lifecycle_actions.LEASE * 0,
        )
    assert due is not None and due.final and due.amount == 5_000
    connector = FakeConnector("fake")
    p = platform(db, connector)
    # The database is shared with other tests, whose captures left behind may come first in
    # a pass (each pass leases what it took, so the next one reaches further).
    for _ in range(20):
        await lifecycle_actions.finish_due(p)
        if (await payment_of(db, placed.order_id)).amount_captured == 5_000:
            break
    assert (await payment_of(db, placed.order_id)).amount_captured == 5_000
    assert len(connector.keys(Operation.CAPTURE)) == 1
    assert (await get(db, placed.order_id))["status"] == "completed"
    assert fulfillment["id"].startswith("ful_")


async def test_a_final_capture_waits_for_one_in_flight(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first fulfilment's capture is unanswered; the last one's (final) cannot start
    while it is in flight: the worker begins it once the first is settled."""
    placed = await place(db, [(1_000, 2, 0)], captured=False)
    (line,) = placed.line_ids
    connector = FakeConnector("fake")
    connector.script(Operation.CAPTURE, OperationResult(OperationStatus.PENDING))
    p = platform(db, connector)
    for _ in range(2):
        await lifecycle_actions.fulfil(
            p, placed.order_id, [LineQuantity(line, 1)], tracking_number=None, carrier=None
        )
    payment = await payment_of(db, placed.order_id)
    assert payment.amount_captured == 0 and payment.capture_pending == 1_000
    async with db.connection() as conn:
        (first,) = await payments.operations_of_order(conn, placed.order_id)
    await payment_actions._ask_and_settle(p, first, payment)  # the answer comes
    assert (await payment_of(db, placed.order_id)).amount_captured == 1_000
    later = datetime.now(UTC) + timedelta(minutes=2)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    assert await lifecycle_actions.finish_due(p) >= 1
    payment = await payment_of(db, placed.order_id)
    assert payment.amount_captured == 2_000 and payment.status == "captured"
    assert (await get(db, placed.order_id))["status"] == "completed"
