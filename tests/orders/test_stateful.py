"""A stateful property test of the order lifecycle (hypothesis `RuleBasedStateMachine`):
for any order and any sequence of partial fulfilments, captures, edits, cancellations and
refunds, through the services on a real database with the fake provider,

- amounts never go negative and refunded <= captured <= authorized;
- the order mirrors its payment;
- the stock identities hold: available = on_hand - reserved, reserved = the reservations,
  on_hand = initial - shipped (nothing is restocked here), and an open order holds exactly
  its unfulfilled units (a canceled one nothing);
- refunds by lines never exceed the order's total;
- the ledger stays balanced: the order's entries' debits equal their credits, and the
  provider's clearing account holds what was captured and not refunded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from cartwright.kit import ids
from cartwright.kit.errors import InvalidState, NotFound, ValidationFailed
from cartwright.ledger import service as ledger
from cartwright.ledger.service import Account
from cartwright.orders import lifecycle_actions, payment_actions
from cartwright.orders.lifecycle import LineQuantity
from cartwright.payments import service as payments
from cartwright.payments.connector import OperationStatus
from cartwright.payments.service import OperationKind
from tests.fakes.connectors import FakeConnector
from tests.orders.support import Placed, get, open_db, payment_of, place, platform, stock

T = TypeVar("T")
STOCK = 20

line_st = st.tuples(st.integers(1, 5_000), st.integers(1, 4), st.integers(0, 900))


def machine_for(url: str) -> type[RuleBasedStateMachine]:
    class OrderLifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.db = self.run(open_db(url, pool_size=2))
            self.connector = FakeConnector("fake")
            self.p = platform(self.db, self.connector)
            self.placed: Placed | None = None

        def run(self, work: Coroutine[Any, Any, T]) -> T:
            return self.loop.run_until_complete(work)

        def attempt(self, work: Coroutine[Any, Any, object]) -> None:
            # A refusal (the state machine, a guard, a line removed by an edit) changes nothing.
            with contextlib.suppress(InvalidState, NotFound, ValidationFailed):
                self.run(work)

        def teardown(self) -> None:
            self.run(self.db.close())
            self.loop.close()

        @initialize(
            lines=st.lists(line_st, min_size=1, max_size=3),
            captured=st.booleans(),
            shipping=st.integers(0, 1_000),
            discount_share=st.integers(0, 50),
            extra_tax=st.integers(0, 200),
        )
        def place_order(
            self,
            lines: list[tuple[int, int, int]],
            captured: bool,
            shipping: int,
            discount_share: int,
            extra_tax: int,
        ) -> None:
            goods = sum(price * q for price, q, _ in lines)
            self.placed = self.run(
                place(
                    self.db,
                    lines,
                    captured=captured,
                    shipping=shipping,
                    discount=goods * discount_share // 100,
                    extra_tax=extra_tax,
                    stock=STOCK,
                )
            )

        @property
        def order_id(self) -> str:
            assert self.placed is not None
            return self.placed.order_id

        def line(self, index: int) -> str:
            assert self.placed is not None
            return self.placed.line_ids[index % len(self.placed.line_ids)]

        @rule(index=st.integers(0, 2), quantity=st.integers(1, 4))
        def fulfil(self, index: int, quantity: int) -> None:
            self.attempt(
                lifecycle_actions.fulfil(
                    self.p,
                    self.order_id,
                    [LineQuantity(self.line(index), quantity)],
                    tracking_number=None,
                    carrier=None,
                )
            )

        @rule(amount=st.none() | st.integers(1, 5_000), final=st.booleans())
        def capture(self, amount: int | None, final: bool) -> None:
            self.attempt(
                payment_actions.capture(
                    self.p,
                    self.order_id,
                    operation_id=ids.new_id("cap"),
                    amount=amount,
                    final=final,
                )
            )

        @rule(index=st.integers(0, 2), quantity=st.integers(0, 4))
        def edit(self, index: int, quantity: int) -> None:
            self.attempt(
                lifecycle_actions.edit_line(
                    self.p, self.order_id, self.line(index), quantity, operation_id=ids.new_id("ed")
                )
            )

        @rule()
        def cancel(self) -> None:
            self.attempt(lifecycle_actions.cancel(self.p, self.order_id))

        @rule(index=st.integers(0, 2), quantity=st.integers(1, 4))
        def refund_lines(self, index: int, quantity: int) -> None:
            self.attempt(
                lifecycle_actions.refund_lines(
                    self.p,
                    self.order_id,
                    [LineQuantity(self.line(index), quantity)],
                    operation_id=ids.new_id("re"),
                    reason=None,
                )
            )

        @rule(amount=st.none() | st.integers(1, 5_000))
        def refund_amount(self, amount: int | None) -> None:
            self.attempt(
                payment_actions.refund(
                    self.p, self.order_id, operation_id=ids.new_id("re"), amount=amount, reason=None
                )
            )

        @invariant()
        def books_and_stock_hold(self) -> None:
            if self.placed is None:
                return
            order = self.run(get(self.db, self.order_id))
            payment = self.run(payment_of(self.db, self.order_id))
            assert payment.capture_pending >= 0 and payment.refund_pending >= 0
            assert 0 <= payment.amount_refunded <= payment.amount_captured
            assert payment.amount_captured <= payment.amount_authorized
            assert order["amount_captured"]["amount"] == payment.amount_captured
            assert order["amount_refunded"]["amount"] == payment.amount_refunded
            assert order["totals"]["total"]["amount"] >= 0
            lines = {line["id"]: line for line in order["lines"]}
            for sku in self.placed.skus:
                level = self.run(stock(self.db, sku))
                assert level["available"] == level["on_hand"] - level["reserved"] >= 0
                held = self.run(_reserved(self.db, sku))
                assert level["reserved"] == held
                of_sku = [line for line in lines.values() if line["sku"] == sku]
                shipped = sum(line["quantity_fulfilled"] for line in of_sku)
                assert level["on_hand"] == STOCK - shipped
                if order["status"] == "canceled":
                    assert held == 0
                elif order["status"] == "open":
                    assert held == sum(
                        line["quantity"] - line["quantity_fulfilled"] for line in of_sku
                    )
            debits, credits, clearing = self.run(_ledger_of(self.db, self.order_id))
            assert debits == credits
            assert clearing == payment.amount_captured - payment.amount_refunded
            by_lines = self.run(_line_refunds(self.db, self.order_id))
            assert by_lines <= self.placed.total
            assert by_lines <= payment.amount_captured

    return OrderLifecycle


async def _reserved(db: Any, sku: str) -> int:
    async with db.connection() as conn:
        value = await conn.fetchval(
            "SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE sku = $1", sku
        )
    return int(value)


async def _ledger_of(db: Any, order_id: str) -> tuple[int, int, int]:
    async with db.connection() as conn:
        rows = (await ledger.balances(conn, order_id=order_id))["data"]
        clearing = await ledger.balance_of(conn, Account.PROVIDER_CLEARING, order_id=order_id)
    return sum(r["debits"] for r in rows), sum(r["credits"] for r in rows), clearing


async def _line_refunds(db: Any, order_id: str) -> int:
    async with db.connection() as conn:
        operations = await payments.operations_of_order(conn, order_id)
    return sum(
        op.amount
        for op in operations
        if op.kind is OperationKind.REFUND
        and op.breakdown is not None
        and op.reason != "order edited"
        and op.reason != "order canceled"
        and op.status is not OperationStatus.FAILED
    )


@pytest.mark.parametrize("database", ["pg_database", "sqlite_database"])
def test_the_order_lifecycle_keeps_its_books(database: str, request: pytest.FixtureRequest) -> None:
    machine = machine_for(request.getfixturevalue(database))
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=12,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
