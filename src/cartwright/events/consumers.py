"""Idempotent consumers: an event handled once per consumer, however often it is delivered.

`handle_once` runs in the caller's transaction: the inbox row (consumer, event id) and the
effect commit together or not at all, so a redelivery (the relay and webhooks deliver at least
once) finds the row and does nothing, and a crash before the commit leaves neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from cartwright.events import repository
from cartwright.kit import clock
from cartwright.kit.db import Conn

Effect = Callable[[Conn, dict[str, Any]], Awaitable[None]]


async def handle_once(conn: Conn, consumer: str, event: dict[str, Any], effect: Effect) -> bool:
    """Apply `effect` to `event` (`id`, `type`, `data`: as the feed or the envelope shows it)
    unless `consumer` already handled it; True when it was applied now."""
    if not await repository.claim_inbox(conn, consumer, event["id"], clock.utcnow()):
        return False
    await effect(conn, event)
    return True


ORDER_COUNTS = "customer_order_counts"


async def count_customer_order(conn: Conn, event: dict[str, Any]) -> None:
    """The first consumer: orders placed per customer, from `order.placed` (guests: none)."""
    if event["type"] != "order.placed":
        return
    customer_id = event["data"].get("customer_id")
    if customer_id:
        await repository.count_order_placed(conn, customer_id, clock.utcnow())


async def orders_placed(conn: Conn, customer_id: str) -> int:
    """How many orders the consumer has counted for `customer_id`."""
    return await repository.orders_placed(conn, customer_id)
