"""Refunds by lines, returns and edits on the real databases: refunded amounts come from
the allocation and add up to the total exactly, no unit is refunded or returned twice,
a refused refund gives its units back, returned goods go back on hand only when
restocked, and an edit releases the stock and adjusts the payment."""

from __future__ import annotations

import asyncio

import pytest

from cartwright.kit import ids
from cartwright.kit.db import Database
from cartwright.kit.errors import InvalidState, NotFound
from cartwright.orders import lifecycle, lifecycle_actions, payment_actions
from cartwright.orders.lifecycle import LineQuantity
from cartwright.payments.connector import OperationResult, OperationStatus
from tests.fakes.connectors import FakeConnector, Operation
from tests.orders.support import get, payment_of, place, platform, stock


async def refund(p: object, order_id: str, *lines: tuple[str, int]) -> dict[str, object]:
    status, body = await lifecycle_actions.refund_lines(
        p,  # type: ignore[arg-type]
        order_id,
        [LineQuantity(i, q) for i, q in lines],
        operation_id=ids.new_id("re"),
        reason=None,
    )
    assert status == 201
    return body


async def test_refunds_by_lines_add_up_to_the_total(db: Database) -> None:
    placed = await place(
        db,
        [(333, 3, 21), (1_001, 2, 190)],
        captured=True,
        shipping=499,
        discount=97,
        extra_tax=11,
    )
    p = platform(db, FakeConnector("fake"))
    a, b = placed.line_ids
    first = await refund(p, placed.order_id, (a, 1))
    assert first["breakdown"] is not None
    parts = {k: v["amount"] for k, v in first["breakdown"].items()}  # type: ignore[attr-defined]
    assert (
        parts["goods"] - parts["discount"] + parts["shipping"] + parts["tax"]
        == (
            first["amount"]["amount"]  # type: ignore[index]
        )
    )
    await refund(p, placed.order_id, (b, 1), (a, 1))
    await refund(p, placed.order_id, (a, 1), (b, 1))
    payment = await payment_of(db, placed.order_id)
    assert payment.amount_refunded == placed.total and payment.status == "refunded"
    with pytest.raises(InvalidState):
        await refund(p, placed.order_id, (a, 1))


async def test_more_units_than_sold_is_409_even_concurrently(db: Database) -> None:
    placed = await place(db, [(1_000, 3, 0)], captured=True)
    p = platform(db, FakeConnector("fake"))
    (a,) = placed.line_ids
    with pytest.raises(InvalidState):
        await refund(p, placed.order_id, (a, 4))
    results = await asyncio.gather(
        *(refund(p, placed.order_id, (a, 2)) for _ in range(4)), return_exceptions=True
    )
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(isinstance(r, dict | InvalidState) for r in results), results
    order = await get(db, placed.order_id)
    assert order["amount_refunded"]["amount"] == 2_000


async def test_a_refused_refund_gives_its_units_back(db: Database) -> None:
    placed = await place(db, [(1_000, 1, 0)], captured=True)
    connector = FakeConnector("fake")
    connector.script(
        Operation.REFUND, OperationResult(OperationStatus.FAILED, failure_code="refused")
    )
    p = platform(db, connector)
    with pytest.raises(InvalidState):
        await refund(p, placed.order_id, (placed.line_ids[0], 1))
    again = await refund(p, placed.order_id, (placed.line_ids[0], 1))
    assert again["status"] == "succeeded"


async def test_a_return_received_restocks_only_what_is_restocked(db: Database) -> None:
    placed = await place(db, [(1_500, 3, 285)], captured=True, stock=10)
    p = platform(db, FakeConnector("fake"))
    (a,) = placed.line_ids
    with pytest.raises(InvalidState):  # nothing fulfilled yet
        async with db.transaction() as conn:
            await lifecycle.request_return(conn, placed.order_id, [LineQuantity(a, 1)], reason=None)
    await lifecycle_actions.fulfil(
        p, placed.order_id, [LineQuantity(a, 3)], tracking_number=None, carrier=None
    )
    async with db.transaction() as conn:
        ret = await lifecycle.request_return(
            conn, placed.order_id, [LineQuantity(a, 2)], reason="too big"
        )
    assert ret["status"] == "requested" and ret["id"].startswith("ret_")
    with pytest.raises(InvalidState):  # only 1 fulfilled unit is left to return
        async with db.transaction() as conn:
            await lifecycle.request_return(conn, placed.order_id, [LineQuantity(a, 2)], reason=None)
    async with db.transaction() as conn:
        received = await lifecycle.receive_return(
            conn, ret["id"], [LineQuantity(a, 1, restock=True), LineQuantity(a, 1, restock=False)]
        )
    assert received["status"] == "received"
    assert (await stock(db, placed.skus[0]))["on_hand"] == 10 - 3 + 1
    status, refunded = await lifecycle_actions.refund_return(p, ret["id"])
    assert status == 200 and refunded["status"] == "refunded"
    assert refunded["refund"]["amount"]["amount"] == 2 * (1_500 + 95)
    # Again: the same refund, not a second one.
    _, again = await lifecycle_actions.refund_return(p, ret["id"])
    assert again["refund"]["id"] == refunded["refund"]["id"]
    assert (await payment_of(db, placed.order_id)).amount_refunded == 2 * 1_595


async def test_an_edit_of_a_captured_order_refunds_the_difference(db: Database) -> None:
    placed = await place(db, [(1_000, 3, 570), (200, 1, 38)], captured=True, shipping=500)
    connector = FakeConnector("fake")
    p = platform(db, connector)
    a, b = placed.line_ids
    with pytest.raises(NotFound):
        await lifecycle_actions.edit_line(p, placed.order_id, "oli_x", 0, operation_id="ed_x")
    with pytest.raises(InvalidState):  # more needs a new authorization
        await lifecycle_actions.edit_line(p, placed.order_id, a, 4, operation_id=ids.new_id("ed"))
    status, order = await lifecycle_actions.edit_line(
        p, placed.order_id, a, 1, operation_id=ids.new_id("ed")
    )
    assert status == 200
    assert order["lines"][0]["quantity"] == 1 and order["lines"][0]["tax"]["amount"] == 190
    assert order["totals"]["total"]["amount"] == 1_000 + 190 + 200 + 38 + 500
    assert order["amount_refunded"]["amount"] == placed.total - order["totals"]["total"]["amount"]
    assert (await stock(db, placed.skus[0]))["reserved"] == 1
    # Once refunded in part, it is not edited again (refund by lines instead).
    with pytest.raises(InvalidState):
        await lifecycle_actions.edit_line(p, placed.order_id, b, 0, operation_id=ids.new_id("ed"))


async def test_an_edit_of_an_authorized_order_lowers_what_is_captured(db: Database) -> None:
    placed = await place(db, [(1_000, 2, 0), (400, 1, 0)], captured=False)
    p = platform(db, FakeConnector("fake"))
    a, b = placed.line_ids
    _, order = await lifecycle_actions.edit_line(
        p, placed.order_id, b, 0, operation_id=ids.new_id("ed")
    )
    assert [line["id"] for line in order["lines"]] == [a]
    assert order["totals"]["total"]["amount"] == 2_000
    assert (await stock(db, placed.skus[1]))["reserved"] == 0
    status, captured = await payment_actions.capture(
        p, placed.order_id, operation_id=ids.new_id("cap"), amount=None, final=False
    )
    assert status == 200 and captured["amount_captured"]["amount"] == 2_000
    payment = await payment_of(db, placed.order_id)
    assert payment.status == "captured" and payment.capture_pending == 0
    with pytest.raises(InvalidState):  # the only line left
        await lifecycle_actions.edit_line(p, placed.order_id, a, 0, operation_id=ids.new_id("ed"))
