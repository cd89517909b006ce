"""Inventory: stock per SKU and warehouse, reservations that hold it, and the journal of
every change.

`available = on_hand - reserved`, and neither a reservation, a count nor an adjustment can
take on_hand below reserved: each is a conditional write (`... WHERE on_hand - reserved >=
q`) that the database, not a read-then-write in Python, decides. A reservation is taken
with one such UPDATE per (warehouse, SKU), written in SKU order (PostgreSQL does not
promise that order inside one statement: a rare deadlock between two multi-SKU checkouts is
broken by the database and the checkout retries).

Every change of a stock level writes its movement (`inventory_movements`) in the same
transaction or batch, so for every (warehouse, SKU) the journal's deltas add up to the
level (docs/adr/0016-inventory-journal-and-locations.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from cartwright.audit import service as audit
from cartwright.events import service as events
from cartwright.inventory import allocation, repository
from cartwright.inventory.allocation import Hold
from cartwright.inventory.errors import StockBelowReserved, WarehouseCodeTaken
from cartwright.inventory.locations import StockLocations, Warehouse
from cartwright.kit import clock, context, ids
from cartwright.kit.db import Conn, Database, Row, Stmt, UniqueViolation, guarded
from cartwright.kit.errors import NotFound, ValidationFailed

DEFAULT_WAREHOUSE = "wh_default"

__all__ = [
    "DEFAULT_WAREHOUSE",
    "Hold",
    "Item",
    "Movement",
    "MovementReason",
    "StockLocations",
    "Warehouse",
]


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    quantity: int


# ------------------------------------------------------------------------------ journal


class MovementReason(StrEnum):
    """Why a stock level changed (the `reason` of a movement)."""

    OPENING = "opening"  # the level before the journal began (migration 0013)
    COUNT = "count"  # PUT /v1/inventory/{sku}: the difference a count made
    ADJUSTMENT = "adjustment"
    RECEIVED = "received"
    DAMAGED = "damaged"
    LOST = "lost"
    CORRECTION = "correction"
    RESERVED = "reserved"  # checkout held units for an order
    RELEASED = "released"  # held units given back (payment failed, order canceled)
    SHIPPED = "shipped"  # held units left the warehouse (on_hand and reserved both down)
    RESTOCKED = "restocked"  # returned goods back on hand


# What `POST /v1/inventory/{sku}/adjustments` takes, and the sign each allows.
ADJUSTMENT_REASONS: dict[MovementReason, int] = {
    MovementReason.ADJUSTMENT: 0,  # either sign
    MovementReason.CORRECTION: 0,
    MovementReason.RECEIVED: 1,
    MovementReason.DAMAGED: -1,
    MovementReason.LOST: -1,
}


@dataclass(frozen=True, slots=True)
class Movement:
    """One change of one stock level: what to add to on_hand and to reserved, and why."""

    warehouse_id: str
    sku: str
    delta_on_hand: int
    delta_reserved: int
    reason: MovementReason
    reference: str | None = None
    note: str | None = None


def movements_stmt(movements: Sequence[Movement]) -> Stmt:
    """The journal rows of `movements`, as one multi-row INSERT for the batch or the
    transaction that makes the changes (the actor is the current request's key, if any).
    The caller changes the stock levels itself, in the same transaction."""
    now = clock.utcnow()
    info = context.current()
    actor = info.actor_key_id if info is not None else None
    return repository.insert_movements_stmt(
        [
            (
                ids.new_id("im"),
                m.warehouse_id,
                m.sku,
                m.delta_on_hand,
                m.delta_reserved,
                m.reason.value,
                m.reference,
                m.note,
                actor,
                now,
            )
            for m in movements
        ]
    )


def movement_stmt(
    warehouse_id: str,
    sku: str,
    *,
    reason: MovementReason,
    delta_on_hand: int = 0,
    delta_reserved: int = 0,
    reference: str | None = None,
    note: str | None = None,
) -> Stmt:
    """`movements_stmt` of one movement."""
    return movements_stmt(
        [Movement(warehouse_id, sku, delta_on_hand, delta_reserved, reason, reference, note)]
    )


async def record_movements(conn: Conn, movements: Sequence[Movement]) -> None:
    """Journal `movements` in the caller's transaction (nothing for an empty list)."""
    if movements:
        await conn.batch([movements_stmt(movements)])


async def record_movement(
    conn: Conn,
    warehouse_id: str,
    sku: str,
    *,
    reason: MovementReason,
    delta_on_hand: int = 0,
    delta_reserved: int = 0,
    reference: str | None = None,
    note: str | None = None,
) -> None:
    """Journal one change of a level, in the caller's transaction (the change's own)."""
    await record_movements(
        conn,
        [Movement(warehouse_id, sku, delta_on_hand, delta_reserved, reason, reference, note)],
    )


def _movement_out(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "warehouse_id": row["warehouse_id"],
        "sku": row["sku"],
        "delta_on_hand": int(row["delta_on_hand"]),
        "delta_reserved": int(row["delta_reserved"]),
        "reason": row["reason"],
        "reference": row["reference"],
        "note": row["note"],
        "actor": {"key_id": row["actor_key_id"]} if row["actor_key_id"] else None,
        "created_at": clock.isoformat(row["created_at"]),
    }


async def list_movements(
    conn: Conn,
    sku: str,
    *,
    limit: int,
    starting_after: str | None,
    warehouse_id: str | None = None,
) -> dict[str, Any]:
    """The SKU's movements, newest first (list convention)."""
    if starting_after is not None and not await repository.movement_of_sku(
        conn, starting_after, sku
    ):
        raise ValidationFailed.field("starting_after", f"no movement {starting_after}")
    rows = await repository.list_movements(
        conn, sku, before_id=starting_after, warehouse_id=warehouse_id, limit=limit + 1
    )
    return {"data": [_movement_out(r) for r in rows[:limit]], "has_more": len(rows) > limit}


async def journal_agrees(conn: Conn, sku: str) -> bool:
    """Whether the journal's sums are the SKU's levels in every warehouse (a check for
    operators and tests; the invariant the journal keeps)."""
    sums = {
        r["warehouse_id"]: (int(r["on_hand"]), int(r["reserved"]))
        for r in await repository.journal_sums(conn, sku)
    }
    levels = {
        r["warehouse_id"]: (int(r["on_hand"]), int(r["reserved"]))
        for r in await repository.levels_of(conn, sku)
    }
    nonzero = {w: v for w, v in sums.items() if v != (0, 0) or w in levels}
    return nonzero == {w: v for w, v in levels.items() if v != (0, 0) or w in sums}


# ------------------------------------------------------------------------------- stock


def _present(sku: str, on_hand: int, reserved: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": max(on_hand - reserved, 0),
    }


async def get_stock(conn: Conn, sku: str) -> dict[str, Any]:
    """The SKU's totals over every warehouse (`sku, on_hand, reserved, available`), its
    level per warehouse (`locations`, in the order checkout tries them) and its own
    low-stock threshold (null: none, or the setting's default) and flag."""
    locations = [
        {"warehouse_id": r["warehouse_id"], **_present(sku, int(r["on_hand"]), int(r["reserved"]))}
        for r in await repository.levels_of(conn, sku)
    ]
    for location in locations:
        del location["sku"]
    alerts = await repository.alerts_of(conn, [sku])
    return {
        "sku": sku,
        "on_hand": sum(loc["on_hand"] for loc in locations),
        "reserved": sum(loc["reserved"] for loc in locations),
        "available": sum(loc["available"] for loc in locations),
        "low_stock_threshold": alerts[0]["threshold"] if alerts else None,
        # Whether `inventory.low` fired and stock has not been above the threshold since.
        "low_stock": bool(alerts[0]["low"]) if alerts else False,
        "locations": locations,
    }


async def _require_warehouse(conn: Conn, warehouse_id: str) -> None:
    if await repository.get_warehouse(conn, warehouse_id) is None:
        raise ValidationFailed.field("warehouse_id", f"no warehouse {warehouse_id}")


def _adjusted(
    movement_id: str,
    sku: str,
    warehouse_id: str,
    delta: int,
    reason: MovementReason,
    reference: str | None,
    note: str | None,
    stock: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": movement_id,
        "sku": sku,
        "warehouse_id": warehouse_id,
        "delta": delta,
        "reason": reason.value,
        "reference": reference,
        "note": note,
        "stock": stock,
    }


async def _journal_admin_change(
    conn: Conn,
    sku: str,
    warehouse_id: str,
    delta: int,
    reason: MovementReason,
    reference: str | None,
    note: str | None,
) -> dict[str, Any]:
    """Journal, audit and announce (`inventory.adjusted`) a change of on_hand made by a
    back office; returns the adjustment as the API shows it."""
    movement = movement_stmt(
        warehouse_id, sku, reason=reason, delta_on_hand=delta, reference=reference, note=note
    )
    movement_id = str(movement.args[0])
    stock = await get_stock(conn, sku)
    adjusted = _adjusted(movement_id, sku, warehouse_id, delta, reason, reference, note, stock)
    await conn.batch(
        [movement, events.record_stmt([events.Event("inventory.adjusted", sku, adjusted)])]
    )
    return adjusted


async def set_on_hand(
    conn: Conn,
    sku: str,
    on_hand: int,
    *,
    warehouse_id: str = DEFAULT_WAREHOUSE,
    reference: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """A count: set the SKU's units on hand in one warehouse (audited, journaled as the
    difference, reason `count`). A count below what is reserved there is refused (409
    `invalid_state`) and changes nothing: those units are promised to orders."""
    await _require_warehouse(conn, warehouse_id)
    now = clock.utcnow()
    await repository.ensure_level(conn, warehouse_id, sku, now)
    before = await repository.lock_level(conn, warehouse_id, sku)
    assert before is not None
    row = await repository.set_on_hand(conn, warehouse_id, sku, on_hand, now)
    if row is None:
        raise StockBelowReserved(
            f"{sku} has {before['reserved']} units reserved in {warehouse_id}: a count of"
            f" {on_hand} would leave orders without their units. Release or ship them first"
            " (docs/runbooks/stock-below-reserved.md).",
            warehouse_id=warehouse_id,
            on_hand=int(before["on_hand"]),
            reserved=int(before["reserved"]),
        )
    delta = int(row["on_hand"]) - int(before["on_hand"])
    if delta:
        await _journal_admin_change(
            conn, sku, warehouse_id, delta, MovementReason.COUNT, reference, note
        )
    await audit.record(
        conn,
        "stock.updated",
        "sku",
        sku,
        {"warehouse_id": warehouse_id, "on_hand": {"from": before["on_hand"], "to": on_hand}},
    )
    return await get_stock(conn, sku)


async def adjust(
    conn: Conn,
    sku: str,
    delta: int,
    reason: MovementReason,
    *,
    warehouse_id: str = DEFAULT_WAREHOUSE,
    reference: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Add `delta` units on hand (negative: take them away) for `reason` (audited,
    journaled, `inventory.adjusted`). Refused with 409 `invalid_state`, changing nothing,
    when on_hand would end below zero or below what is reserved; the database decides,
    so a concurrent checkout cannot slip in between."""
    await _require_warehouse(conn, warehouse_id)
    now = clock.utcnow()
    await repository.ensure_level(conn, warehouse_id, sku, now)
    row = await repository.add_on_hand(conn, warehouse_id, sku, delta, now)
    if row is None:
        level = await repository.get_level(conn, warehouse_id, sku)
        assert level is not None
        raise StockBelowReserved(
            f"{sku} has {level['on_hand']} on hand and {level['reserved']} reserved in"
            f" {warehouse_id}: {delta} would leave {int(level['on_hand']) + delta}, below"
            f" {'what is reserved' if level['reserved'] else 'zero'}.",
            warehouse_id=warehouse_id,
            on_hand=int(level["on_hand"]),
            reserved=int(level["reserved"]),
        )
    adjusted = await _journal_admin_change(conn, sku, warehouse_id, delta, reason, reference, note)
    await audit.record(
        conn,
        "stock.adjusted",
        "sku",
        sku,
        {
            "warehouse_id": warehouse_id,
            "delta": delta,
            "reason": reason.value,
            "movement_id": adjusted["id"],
        },
    )
    return adjusted


# -------------------------------------------------------------------------- warehouses


def _warehouse_out(w: Warehouse) -> dict[str, Any]:
    return {
        "id": w.id,
        "name": w.name,
        "code": w.code,
        "priority": w.priority,
        "countries": list(w.countries),
    }


async def create_warehouse(
    conn: Conn, *, name: str, code: str | None, priority: int, countries: Sequence[str]
) -> dict[str, Any]:
    """A new stock location (audited). Checkouts of processes other than this one see it
    within `CARTWRIGHT_WAREHOUSE_CACHE_TTL_S`."""
    if code is not None and await repository.code_taken(conn, code):
        raise WarehouseCodeTaken(f"A warehouse already has the code {code!r}.")
    warehouse = Warehouse(ids.new_id("wh"), name, code, priority, tuple(sorted(set(countries))))
    try:
        await repository.insert_warehouse(
            conn, warehouse.id, name, code, priority, ",".join(warehouse.countries)
        )
    except UniqueViolation:  # a concurrent request took the code after our check
        raise WarehouseCodeTaken(f"A warehouse already has the code {code!r}.") from None
    shown = _warehouse_out(warehouse)
    await audit.record(conn, "warehouse.created", "warehouse", warehouse.id, shown)
    return shown


async def list_warehouses(conn: Conn, *, limit: int, starting_after: str | None) -> dict[str, Any]:
    """Warehouses in the order checkout tries them (priority, then id)."""
    after = None
    if starting_after is not None:
        row = await repository.get_warehouse(conn, starting_after)
        if row is None:
            raise ValidationFailed.field("starting_after", f"no warehouse {starting_after}")
        after = (int(row["priority"]), str(row["id"]))
    rows = await repository.list_warehouses(conn, after=after, limit=limit + 1)
    return {
        "data": [_warehouse_out(Warehouse.of(r)) for r in rows[:limit]],
        "has_more": len(rows) > limit,
    }


async def get_warehouse(conn: Conn, warehouse_id: str) -> dict[str, Any]:
    row = await repository.get_warehouse(conn, warehouse_id)
    if row is None:
        raise NotFound(f"No warehouse {warehouse_id}.")
    return _warehouse_out(Warehouse.of(row))


# ------------------------------------------------------------------------ reservations


def _merged(items: Sequence[Item]) -> list[Item]:
    totals: dict[str, int] = {}
    for item in items:
        totals[item.sku] = totals.get(item.sku, 0) + item.quantity
    return [Item(sku, totals[sku]) for sku in sorted(totals)]


async def plan_holds(
    conn: Conn,
    locations: StockLocations,
    items: Sequence[Item],
    *,
    country: str | None,
    warehouses: Sequence[str] = (),
) -> list[Hold]:
    """Where each SKU of `items` is to be held for an order shipped to `country`: from the
    warehouses that serve it, by priority, whole in one warehouse where one has it all,
    else split in that order (allocation.py). With one serving warehouse nothing is read
    (the default set-up: the hold is the whole quantity there, as it always was); with
    more, their available stock is read once, without locks, and the guards of the
    checkout batch catch whatever changed since. `warehouses` (codes; empty: all) are the
    only ones a channel takes from."""
    merged = _merged(items)
    serving = [w.id for w in await locations.serving(conn, country, warehouses)]
    if len(serving) <= 1:
        where = serving[0] if serving else ""  # no warehouse serves it: a guard fails
        return [Hold(i.sku, where, i.quantity) for i in merged]
    rows = await repository.available_in(conn, [i.sku for i in merged], serving)
    available = {(r["warehouse_id"], r["sku"]): int(r["available"]) for r in rows}
    return allocation.plan([(i.sku, i.quantity) for i in merged], serving, available)


def reservation_writes(
    reference: str, items: Sequence[Item], holds: Sequence[Hold] | None = None
) -> list[Stmt]:
    """The writes that hold `items` for `reference`, all or nothing, for the caller's
    atomic batch: one guarded conditional UPDATE per (warehouse, SKU) of `holds` (default:
    everything from the default warehouse), in SKU order (the database, not a
    read-then-write in Python, decides who gets the last unit; a short one fails its guard
    and nothing of the batch applies), then the reservation rows and their movements (one
    multi-row INSERT each)."""
    if holds is None:
        holds = [Hold(i.sku, DEFAULT_WAREHOUSE, i.quantity) for i in _merged(items)]
    holds = sorted(holds)
    now = clock.utcnow()
    writes = [guarded(repository.take_stmt(h.warehouse_id, h.sku, h.quantity, now)) for h in holds]
    writes.append(
        repository.insert_reservations_stmt(
            [(reference, h.warehouse_id, h.sku, h.quantity, now) for h in holds]
        )
    )
    writes.append(
        movements_stmt(
            [
                Movement(h.warehouse_id, h.sku, 0, h.quantity, MovementReason.RESERVED, reference)
                for h in holds
            ]
        )
    )
    return writes


async def short_skus(
    conn: Conn,
    items: Sequence[Item],
    *,
    locations: StockLocations | None = None,
    country: str | None = None,
    warehouses: Sequence[str] = (),
) -> list[str]:
    """The SKUs of `items` with fewer units available than asked for, counting the
    warehouses that serve `country` (without `locations`: every warehouse)."""
    merged = _merged(items)
    serving = None
    if locations is not None:
        serving = {w.id for w in await locations.serving(conn, country, warehouses)}
    short = []
    for item in merged:
        levels = await repository.levels_of(conn, item.sku)
        available = sum(
            max(int(r["on_hand"]) - int(r["reserved"]), 0)
            for r in levels
            if serving is None or r["warehouse_id"] in serving
        )
        if available < item.quantity:
            short.append(item.sku)
    return short


# ------------------------------------------------------------------------- low stock

LOW_STOCK_JOB = "low_stock"
# Movements are looked at again this far back from where the last pass stopped: a movement
# is journaled with the time its process gave it, and may commit a little later than
# movements after it (a statement runs at most 30 s; clocks of processes differ a little).
# A SKU seen twice is harmless: the flag, not the pass, decides whether the event fires.
LOW_STOCK_LOOKBACK = timedelta(seconds=60)
LOW_STOCK_LEASE = timedelta(seconds=60)
LOW_STOCK_CHUNK = 200


async def _low_event(conn: Conn, sku: str, threshold: int) -> events.Event:
    stock = await get_stock(conn, sku)
    return events.Event("inventory.low", sku, {**stock, "threshold": threshold})


async def _check_low(conn: Conn, skus: Sequence[str], default_threshold: int | None) -> int:
    """Flip the low-stock flag of each SKU whose available stock crossed its threshold,
    with `inventory.low` when it went down; returns how many fired."""
    now = clock.utcnow()
    totals = {r["sku"]: int(r["available"]) for r in await repository.totals_of(conn, skus)}
    alerts = {r["sku"]: r for r in await repository.alerts_of(conn, skus)}
    fired: list[events.Event] = []
    for sku in skus:
        alert = alerts.get(sku)
        own = None if alert is None else alert["threshold"]
        threshold = int(own) if own is not None else default_threshold
        if threshold is None:
            if alert is not None and alert["low"]:  # no longer watched: nothing to report
                await repository.flip_low(conn, sku, False, now)
            continue
        if totals.get(sku, 0) <= threshold:
            if alert is None:
                flipped = await repository.insert_low(conn, sku, now)
            else:
                flipped = await repository.flip_low(conn, sku, True, now)
            if flipped:
                fired.append(await _low_event(conn, sku, threshold))
        elif alert is not None and alert["low"]:
            await repository.flip_low(conn, sku, False, now)  # re-armed
    await events.record(conn, fired)
    return len(fired)


async def set_low_stock_threshold(
    conn: Conn, sku: str, threshold: int | None, *, default_threshold: int | None = None
) -> None:
    """The SKU's own threshold (None: back to the default). The flag is set for the stock
    as it is now, in this transaction: at or below the new threshold, `inventory.low`
    fires now (once), above it the watch is re-armed."""
    await repository.set_threshold(conn, sku, threshold, clock.utcnow())
    await _check_low(conn, [sku], default_threshold)


async def watch_low_stock(db: Database, *, default_threshold: int | None) -> int:
    """One pass of the low-stock job: the SKUs that moved since the last pass (the
    journal, by id), each checked against its threshold. One pass runs at a time (a
    lease); returns how many `inventory.low` fired."""
    now = clock.utcnow()
    async with db.transaction() as conn:
        taken, position = await repository.lease_cursor(
            conn, LOW_STOCK_JOB, now, now + LOW_STOCK_LEASE
        )
    if not taken:
        return 0
    since = (position or now) - LOW_STOCK_LOOKBACK
    async with db.connection() as conn:
        skus = await repository.moved_skus(
            conn, ids.first_id_at("im", since), watched_only=default_threshold is None
        )
    fired = 0
    for start in range(0, len(skus), LOW_STOCK_CHUNK):
        async with db.transaction() as conn:
            fired += await _check_low(
                conn, skus[start : start + LOW_STOCK_CHUNK], default_threshold
            )
    async with db.transaction() as conn:
        await repository.advance_cursor(conn, LOW_STOCK_JOB, now)
    return fired


async def release(conn: Conn, reference: str) -> int:
    """Give back everything held for `reference` (journaled, reason `released`); returns
    how many units. Idempotent."""
    now = clock.utcnow()
    released = await repository.delete_reservations(conn, reference)
    for row in sorted(released, key=lambda r: (r["warehouse_id"], r["sku"])):
        await repository.give_back(conn, row["warehouse_id"], row["sku"], row["quantity"], now)
    await record_movements(
        conn,
        [
            Movement(
                r["warehouse_id"],
                r["sku"],
                0,
                -int(r["quantity"]),
                MovementReason.RELEASED,
                reference,
            )
            for r in released
        ],
    )
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
            await record_movement(
                conn,
                warehouse,
                item.sku,
                reason=MovementReason.SHIPPED,
                delta_on_hand=-units,
                delta_reserved=-units,
                reference=reference,
            )


async def release_items(conn: Conn, reference: str, items: Sequence[Item]) -> None:
    """Cancel or edit: give back `items` held for `reference` (reservation rows shrink,
    `reserved` goes down)."""
    now = clock.utcnow()
    for item in _merged(items):
        for warehouse, units in await _take_held(conn, reference, item):
            if not await repository.unreserve(conn, warehouse, item.sku, units, now):
                raise StockMismatch(f"reserved stock of {item.sku} in {warehouse} is short")
            await record_movement(
                conn,
                warehouse,
                item.sku,
                reason=MovementReason.RELEASED,
                delta_reserved=-units,
                reference=reference,
            )


async def restock(conn: Conn, warehouse_id: str, sku: str, quantity: int, reference: str) -> None:
    """A return: `quantity` units of `sku` back on hand in `warehouse_id`."""
    if quantity <= 0:
        raise ValueError("restock needs a positive quantity")
    await repository.restock_on_hand(conn, warehouse_id, sku, quantity, clock.utcnow())
    await record_movement(
        conn,
        warehouse_id,
        sku,
        reason=MovementReason.RESTOCKED,
        delta_on_hand=quantity,
        reference=reference,
    )
