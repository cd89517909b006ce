"""An order records whether its shipping price is the flat rate a carrier's outage fell
back to (both databases); checkout snapshots from before the column read as not."""

from __future__ import annotations

import dataclasses
import secrets

import orjson
import pytest

from cartwright.kit import ids
from cartwright.kit.db import Database
from cartwright.orders import service as orders
from cartwright.orders.service import NewOrder, NewOrderLine


def _order(shipping_fallback: bool) -> NewOrder:
    return NewOrder(
        order_id=ids.new_id("ord"),
        number=10**9 + secrets.randbelow(2**40),
        cart_id=ids.new_id("cart"),
        currency="JPY",
        email=None,
        shipping_address={"country": "JP"},
        billing_address=None,
        shipping_method="standard",
        lines=[NewOrderLine("SKU-1", "var_x", "Tea", 1, 1000, 1000, 0)],
        subtotal=1000,
        discount=0,
        shipping=800,
        tax=0,
        total=1800,
        shipping_fallback=shipping_fallback,
    )


@pytest.mark.parametrize("fallback", [True, False])
async def test_the_order_keeps_its_shipping_fallback(db: Database, fallback: bool) -> None:
    new = _order(fallback)
    view, _, placement = orders.plan_placement(
        new, payment_status="authorized", amount_captured=0, next_action=None
    )
    assert view["shipping_fallback"] is fallback  # the checkout's answer shows it
    async with db.transaction() as conn:
        await conn.batch(placement)
    async with db.connection() as conn:
        stored = await conn.fetchval(
            "SELECT shipping_fallback FROM orders WHERE id = $1", new.order_id
        )
        read = await orders.get_order(conn, new.order_id)
    assert bool(stored) is fallback
    assert read["shipping_fallback"] is fallback  # and so does every read


def test_snapshots_carry_it_and_older_ones_read_as_not() -> None:
    new = _order(True)
    assert NewOrder.from_json(new.to_json()).shipping_fallback is True
    older = orjson.loads(new.to_json())
    del older["shipping_fallback"]
    assert NewOrder.from_json(older) == dataclasses.replace(new, shipping_fallback=False)
