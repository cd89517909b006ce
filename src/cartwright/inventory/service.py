"""Inventory: stock per SKU and warehouse, and reservations that hold it.

`available = on_hand - reserved`. A reservation is taken with one conditional UPDATE per
SKU (`... WHERE on_hand - reserved >= q`), in SKU order so two carts never deadlock: the
database, not a read-then-write in Python, decides who gets the last unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cartwright.inventory import repository
from cartwright.inventory.errors import InsufficientStock
from cartwright.kit import clock, ids
from cartwright.kit.db import Conn

DEFAULT_WAREHOUSE = "wh_default"


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    quantity: int


def _present(sku: str, on_hand: int, reserved: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": max(on_hand - reserved, 0),
    }


async def set_on_hand(conn: Conn, sku: str, on_hand: int) -> dict[str, Any]:
    row = await repository.upsert_on_hand(conn, DEFAULT_WAREHOUSE, sku, on_hand, clock.utcnow())
    return _present(row["sku"], row["on_hand"], row["reserved"])


async def get_stock(conn: Conn, sku: str) -> dict[str, Any]:
    row = await repository.get_level(conn, DEFAULT_WAREHOUSE, sku)
    if row is None:
        return _present(sku, 0, 0)
    return _present(row["sku"], row["on_hand"], row["reserved"])


def _merged(items: Sequence[Item]) -> list[Item]:
    totals: dict[str, int] = {}
    for item in items:
        totals[item.sku] = totals.get(item.sku, 0) + item.quantity
    return [Item(sku, totals[sku]) for sku in sorted(totals)]


async def reserve(conn: Conn, reference: str, items: Sequence[Item]) -> None:
    """Hold `items` for `reference`, all or nothing (raises `InsufficientStock`; the
    caller's transaction then rolls back what was taken)."""
    now = clock.utcnow()
    merged = _merged(items)
    short = []
    for item in merged:
        if not await repository.take(conn, DEFAULT_WAREHOUSE, item.sku, item.quantity, now):
            short.append(item.sku)
    if short:
        raise InsufficientStock(f"Not enough stock for: {', '.join(short)}.")
    await repository.insert_reservations(
        conn,
        [
            (ids.new_id("res"), reference, DEFAULT_WAREHOUSE, i.sku, i.quantity, now)
            for i in merged
        ],
    )


async def release(conn: Conn, reference: str) -> int:
    """Give back everything held for `reference`; returns how many units. Idempotent."""
    now = clock.utcnow()
    released = await repository.delete_reservations(conn, reference)
    for row in sorted(released, key=lambda r: (r["warehouse_id"], r["sku"])):
        await repository.give_back(conn, row["warehouse_id"], row["sku"], row["quantity"], now)
    return sum(int(r["quantity"]) for r in released)
