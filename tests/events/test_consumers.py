"""An event handled by a consumer once, however often (and however concurrently) it comes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cartwright.events import consumers
from cartwright.kit import ids
from cartwright.kit.db import Database


def _placed(customer_id: str | None) -> dict[str, Any]:
    return {
        "id": ids.new_id("evt"),
        "type": "order.placed",
        "data": {"id": ids.new_id("ord"), "customer_id": customer_id},
    }


async def _deliver(db: Database, event: dict[str, Any]) -> bool:
    async with db.transaction() as conn:
        return await consumers.handle_once(
            conn, consumers.ORDER_COUNTS, event, consumers.count_customer_order
        )


async def _count(db: Database, customer_id: str) -> int:
    async with db.connection() as conn:
        return await consumers.orders_placed(conn, customer_id)


async def test_a_redelivered_event_counts_once(any_db: Database) -> None:
    customer = ids.new_id("cus")
    first, second = _placed(customer), _placed(customer)
    assert await _deliver(any_db, first) is True
    assert await _deliver(any_db, first) is False
    assert await _deliver(any_db, second) is True
    assert await _deliver(any_db, second) is False
    assert await _count(any_db, customer) == 2
    assert await _deliver(any_db, _placed(None)) is True  # a guest's order counts nothing


async def test_concurrent_deliveries_apply_once(any_db: Database) -> None:
    customer = ids.new_id("cus")
    event = _placed(customer)
    applied = await asyncio.gather(*(_deliver(any_db, event) for _ in range(8)))
    assert applied.count(True) == 1
    assert await _count(any_db, customer) == 1


async def test_an_effect_that_fails_leaves_no_inbox_row(any_db: Database) -> None:
    customer = ids.new_id("cus")
    event = _placed(customer)

    async def broken(conn: Any, e: dict[str, Any]) -> None:
        await consumers.count_customer_order(conn, e)
        raise RuntimeError("crash after the effect, before the commit")

    with pytest.raises(RuntimeError):
        async with any_db.transaction() as conn:
            await consumers.handle_once(conn, consumers.ORDER_COUNTS, event, broken)
    assert await _count(any_db, customer) == 0
    assert await _deliver(any_db, event) is True  # delivered again: handled now, once
    assert await _count(any_db, customer) == 1
