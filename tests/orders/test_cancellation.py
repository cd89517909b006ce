"""Cancellation as a saga on the real databases: what is authorized is voided, what is
captured refunded, the stock released; retried or resumed by the worker it sends the same
operations again (ids derived from the order), never new ones; and it races a fulfilment
with exactly one winner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from cartwright.events import service as events
from cartwright.kit import clock
from cartwright.kit.db import Database
from cartwright.kit.errors import InvalidState
from cartwright.orders import lifecycle, lifecycle_actions
from cartwright.orders.lifecycle import LineQuantity
from cartwright.payments.connector import OperationResult, OperationStatus
from tests.fakes.connectors import FakeConnector, Operation
from tests.orders.support import get, payment_of, place, platform, reserved_for, stock


async def types_of(db: Database, order_id: str) -> list[str]:
    async with db.connection() as conn:
        return [e["type"] for e in await events.about(conn, [order_id])]


async def test_an_authorized_order_is_voided_and_its_stock_released(db: Database) -> None:
    placed = await place(db, [(1_200, 2, 0)], captured=False, stock=5)
    connector = FakeConnector("fake")
    status, order = await lifecycle_actions.cancel(platform(db, connector), placed.order_id)
    assert status == 200
    assert order["status"] == "canceled" and order["payment_status"] == "voided"
    assert (await stock(db, placed.skus[0]))["reserved"] == 0
    assert (await stock(db, placed.skus[0]))["on_hand"] == 5
    assert await reserved_for(db, placed.order_id, placed.skus[0]) == 0
    assert "order.canceled" in await types_of(db, placed.order_id)
    # Again: nothing more is sent.
    status, again = await lifecycle_actions.cancel(platform(db, connector), placed.order_id)
    assert status == 200 and again["status"] == "canceled"
    assert len(connector.calls) == 1


async def test_a_captured_order_is_refunded_in_full_with_its_breakdown(db: Database) -> None:
    placed = await place(db, [(999, 3, 190), (1, 1, 0)], captured=True, shipping=450)
    connector = FakeConnector("fake")
    status, order = await lifecycle_actions.cancel(platform(db, connector), placed.order_id)
    assert status == 200 and order["payment_status"] == "refunded"
    assert order["amount_refunded"]["amount"] == placed.total
    async with db.connection() as conn:
        (refund,) = await lifecycle_actions.payment_actions.refunds_of(conn, placed.order_id)
    assert refund["breakdown"]["shipping"]["amount"] == 450
    assert refund["breakdown"]["goods"]["amount"] == 2_998


async def test_nothing_fulfilled_or_no_cancel(db: Database) -> None:
    placed = await place(db, [(500, 2, 0)], captured=True)
    p = platform(db, FakeConnector("fake"))
    await lifecycle_actions.fulfil(
        p,
        placed.order_id,
        [LineQuantity(placed.line_ids[0], 1)],
        tracking_number=None,
        carrier=None,
    )
    with pytest.raises(InvalidState) as refused:
        await lifecycle_actions.cancel(p, placed.order_id)
    assert refused.value.extensions["fulfillment_status"] == "partially_fulfilled"


async def test_an_unanswered_refund_answers_202_and_is_finished_later(db: Database) -> None:
    placed = await place(db, [(2_000, 1, 0)], captured=True)
    connector = FakeConnector("fake")
    connector.script(Operation.REFUND, OperationResult(OperationStatus.PENDING))
    p = platform(db, connector)
    status, order = await lifecycle_actions.cancel(p, placed.order_id)
    assert status == 202 and order["status"] == "open"
    # Being canceled: nothing else may happen to it meanwhile.
    with pytest.raises(InvalidState):
        await lifecycle_actions.fulfil(
            p,
            placed.order_id,
            [LineQuantity(placed.line_ids[0], 1)],
            tracking_number=None,
            carrier=None,
        )
    assert await lifecycle_actions.advance_cancel(p, placed.order_id)
    order = await get(db, placed.order_id)
    assert order["status"] == "canceled" and order["payment_status"] == "refunded"
    # The same refund was asked twice (same key), never a second one.
    keys = connector.keys(Operation.REFUND)
    assert len(keys) == 2 and len(set(keys)) == 1


async def test_a_cancellation_whose_process_died_is_finished_by_the_worker(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = await place(db, [(800, 2, 0)], captured=False)
    async with db.transaction() as conn:  # begun, then the process died
        await lifecycle.begin_cancel(conn, placed.order_id, recheck=timedelta(seconds=30))
    assert (await get(db, placed.order_id))["status"] == "open"
    later = datetime.now(UTC) + timedelta(minutes=2)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    connector = FakeConnector("fake")
    assert await lifecycle_actions.finish_due(platform(db, connector)) >= 1
    order = await get(db, placed.order_id)
    assert order["status"] == "canceled" and order["payment_status"] == "voided"
    assert (await stock(db, placed.skus[0]))["reserved"] == 0


async def test_cancel_racing_a_fulfilment_has_one_winner(db: Database) -> None:
    for _ in range(4):
        placed = await place(db, [(300, 2, 0)], captured=True, stock=2)
        p = platform(db, FakeConnector("fake"))
        cancel, fulfil = await asyncio.gather(
            lifecycle_actions.cancel(p, placed.order_id),
            lifecycle_actions.fulfil(
                p,
                placed.order_id,
                [LineQuantity(placed.line_ids[0], 2)],
                tracking_number=None,
                carrier=None,
            ),
            return_exceptions=True,
        )
        order = await get(db, placed.order_id)
        level = await stock(db, placed.skus[0])
        payment = await payment_of(db, placed.order_id)
        if isinstance(cancel, InvalidState):
            assert isinstance(fulfil, tuple) and fulfil[0] == 201
            assert order["status"] == "completed" and order["fulfillment_status"] == "fulfilled"
            assert (level["on_hand"], level["reserved"]) == (0, 0)
            assert payment.amount_refunded == 0
        else:
            assert isinstance(fulfil, InvalidState), (cancel, fulfil)
            assert order["status"] == "canceled" and order["fulfillment_status"] == "unfulfilled"
            assert (level["on_hand"], level["reserved"]) == (2, 0)
            assert payment.amount_refunded == placed.total
