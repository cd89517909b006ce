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
from cartwright.kit.db import Conn, Stmt

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


@dataclass(frozen=True, slots=True)
class ReservationPlan:
    """The writes that hold stock for a reference, to run in the caller's batch, and the
    check of their row counts."""

    items: list[Item]
    statements: list[Stmt]

    def check(self, counts: Sequence[int]) -> None:
        """Raise `InsufficientStock` unless every take succeeded (`counts` are the row
        counts of `statements`, in order); the caller's transaction then rolls back."""
        short = [item.sku for item, count in zip(self.items, counts, strict=False) if count != 1]
        if short:
            raise InsufficientStock(f"Not enough stock for: {', '.join(short)}.")


async def plan_reservation(conn: Conn, reference: str, items: Sequence[Item]) -> ReservationPlan:
    """Prepare to hold `items` for `reference`, all or nothing. Several SKUs are locked
    first, in SKU order; each take is a conditional UPDATE, so the database, not a
    read-then-write in Python, decides who gets the last unit."""
    merged = _merged(items)
    if len(merged) > 1:
        await repository.lock_levels(conn, DEFAULT_WAREHOUSE, [i.sku for i in merged])
    now = clock.utcnow()
    statements = [
        repository.take_stmt(DEFAULT_WAREHOUSE, item.sku, item.quantity, now) for item in merged
    ]
    statements.append(
        repository.insert_reservations_stmt(
            [
                (ids.new_id("res"), reference, DEFAULT_WAREHOUSE, i.sku, i.quantity, now)
                for i in merged
            ]
        )
    )
    return ReservationPlan(merged, statements)


async def reserve(conn: Conn, reference: str, items: Sequence[Item]) -> None:
    """Hold `items` for `reference`, all or nothing (raises `InsufficientStock`)."""
    plan = await plan_reservation(conn, reference, items)
    plan.check(await conn.batch(plan.statements))


async def release(conn: Conn, reference: str) -> int:
    """Give back everything held for `reference`; returns how many units. Idempotent."""
    now = clock.utcnow()
    released = await repository.delete_reservations(conn, reference)
    for row in sorted(released, key=lambda r: (r["warehouse_id"], r["sku"])):
        await repository.give_back(conn, row["warehouse_id"], row["sku"], row["quantity"], now)
    return sum(int(r["quantity"]) for r in released)
