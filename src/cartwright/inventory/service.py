"""Inventory: stock per SKU and warehouse, and reservations that hold it.

`available = on_hand - reserved`. A reservation is taken with one conditional UPDATE per
SKU (`... WHERE on_hand - reserved >= q`), written in SKU order (PostgreSQL does not
promise that order inside one statement: a rare deadlock between two multi-SKU checkouts is
broken by the database and the checkout retries): the
database, not a read-then-write in Python, decides who gets the last unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cartwright.audit import service as audit
from cartwright.inventory import repository
from cartwright.kit import clock
from cartwright.kit.db import Conn, Stmt, guarded

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
    """Set the SKU's units on hand in the default warehouse (audited)."""
    before = await repository.lock_level(conn, DEFAULT_WAREHOUSE, sku)
    row = await repository.upsert_on_hand(conn, DEFAULT_WAREHOUSE, sku, on_hand, clock.utcnow())
    await audit.record(
        conn,
        "stock.updated",
        "sku",
        sku,
        {
            "warehouse_id": DEFAULT_WAREHOUSE,
            "on_hand": {"from": before["on_hand"] if before else 0, "to": row["on_hand"]},
        },
    )
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


def reservation_writes(reference: str, items: Sequence[Item]) -> list[Stmt]:
    """The writes that hold `items` for `reference`, all or nothing, for the caller's
    atomic batch: one guarded conditional UPDATE per SKU (the database, not a
    read-then-write in Python, decides who gets the last unit; a short SKU fails its guard
    and nothing of the batch applies), in SKU order, then the reservation rows."""
    merged = _merged(items)
    now = clock.utcnow()
    writes = [
        guarded(repository.take_stmt(DEFAULT_WAREHOUSE, item.sku, item.quantity, now))
        for item in merged
    ]
    writes.append(
        repository.insert_reservations_stmt(
            [(reference, DEFAULT_WAREHOUSE, i.sku, i.quantity, now) for i in merged]
        )
    )
    return writes


async def short_skus(conn: Conn, items: Sequence[Item]) -> list[str]:
    """The SKUs of `items` with fewer units available than asked for."""
    short = []
    for item in _merged(items):
        stock = await get_stock(conn, item.sku)
        if stock["available"] < item.quantity:
            short.append(item.sku)
    return short


async def release(conn: Conn, reference: str) -> int:
    """Give back everything held for `reference`; returns how many units. Idempotent."""
    now = clock.utcnow()
    released = await repository.delete_reservations(conn, reference)
    for row in sorted(released, key=lambda r: (r["warehouse_id"], r["sku"])):
        await repository.give_back(conn, row["warehouse_id"], row["sku"], row["quantity"], now)
    return sum(int(r["quantity"]) for r in released)


# ------------------------------------------------------------------ Movements for orders
# Stock that leaves with an order's fulfilment, goes back on a cancellation or an edit, or
# comes back with a return. Each is a guarded UPDATE per row in the caller's transaction;
# a guard that fails raises `StockMismatch` and the caller's transaction rolls back.


class StockMismatch(RuntimeError):
    """The reservation or the stock level does not hold what the order says it does."""


async def _take_held(conn: Conn, reference: str, item: Item) -> list[tuple[str, int]]:
    """Take `item` off the reservations of `reference`, warehouse by warehouse (a
    reservation may span several): the (warehouse, units) taken from each."""
    taken: list[tuple[str, int]] = []
    left = item.quantity
    for warehouse, held in await repository.reservations_of(conn, reference, item.sku):
        if left == 0:
            break
        units = min(held, left)
        if not await repository.shrink_reservation(conn, reference, warehouse, item.sku, units):
            raise StockMismatch(f"the reservation of {item.sku} for {reference} changed")
        taken.append((warehouse, units))
        left -= units
    if left:
        raise StockMismatch(f"{reference} holds fewer than {item.quantity} of {item.sku}")
    return taken


async def consume(conn: Conn, reference: str, items: Sequence[Item]) -> None:
    """Fulfilment: `items` held for `reference` leave the warehouse (the reservation rows
    shrink, `on_hand` and `reserved` both go down)."""
    now = clock.utcnow()
    for item in _merged(items):
        for warehouse, units in await _take_held(conn, reference, item):
            if not await repository.ship(conn, warehouse, item.sku, units, now):
                raise StockMismatch(f"stock of {item.sku} in {warehouse} is short")
            # journal: record_movement(conn, warehouse, item.sku, -units, "fulfillment",
            #   reference)


async def release_items(conn: Conn, reference: str, items: Sequence[Item]) -> None:
    """Cancel or edit: give back `items` held for `reference` (reservation rows shrink,
    `reserved` goes down)."""
    now = clock.utcnow()
    for item in _merged(items):
        for warehouse, units in await _take_held(conn, reference, item):
            if not await repository.unreserve(conn, warehouse, item.sku, units, now):
                raise StockMismatch(f"reserved stock of {item.sku} in {warehouse} is short")
            # journal: record_movement(conn, warehouse, item.sku, 0, "release", reference)


async def restock(conn: Conn, warehouse_id: str, sku: str, quantity: int, reference: str) -> None:
    """A return: `quantity` units of `sku` back on hand in `warehouse_id`."""
    if quantity <= 0:
        raise ValueError("restock needs a positive quantity")
    await repository.add_on_hand(conn, warehouse_id, sku, quantity, clock.utcnow())
    # journal: record_movement(conn, warehouse_id, sku, quantity, "return", reference)
