from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Dialect, Row, Stmt, Where, insert_rows_stmt, placeholders, stmt

# ------------------------------------------------------------------------------ levels


async def ensure_level(conn: Conn, warehouse_id: str, sku: str, now: datetime) -> None:
    """The level's row, created empty if it is missing (so that a change of it can be
    a plain conditional UPDATE, and two first changes cannot both insert it)."""
    await conn.execute(
        "INSERT INTO stock_levels (warehouse_id, sku, on_hand, reserved, updated_at)"
        " VALUES ($1, $2, 0, 0, $3) ON CONFLICT (warehouse_id, sku) DO NOTHING",
        warehouse_id,
        sku,
        now,
    )


async def lock_level(conn: Conn, warehouse_id: str, sku: str) -> Row | None:
    """The level, locked until the transaction ends (SQLite: its write lock is held)."""
    lock = " FOR UPDATE" if conn.dialect is Dialect.POSTGRES else ""
    return await conn.fetchrow(
        "SELECT sku, on_hand, reserved FROM stock_levels WHERE warehouse_id = $1 AND sku = $2"
        + lock,
        warehouse_id,
        sku,
    )


async def set_on_hand(
    conn: Conn, warehouse_id: str, sku: str, on_hand: int, now: datetime
) -> Row | None:
    """Set on_hand, unless that would be less than what is reserved (None then)."""
    return await conn.fetchrow(
        "UPDATE stock_levels SET on_hand = $3, updated_at = $4"
        " WHERE warehouse_id = $1 AND sku = $2 AND reserved <= $3"
        " RETURNING sku, on_hand, reserved",
        warehouse_id,
        sku,
        on_hand,
        now,
    )


async def add_on_hand(
    conn: Conn, warehouse_id: str, sku: str, delta: int, now: datetime
) -> Row | None:
    """Add `delta` (negative: take away) to on_hand, unless on_hand would end below zero
    or below what is reserved (None then). The database decides, against the latest
    row: a concurrent reservation or adjustment cannot slip between check and write."""
    return await conn.fetchrow(
        "UPDATE stock_levels SET on_hand = on_hand + $3, updated_at = $4"
        " WHERE warehouse_id = $1 AND sku = $2 AND on_hand + $3 >= reserved"
        " AND on_hand + $3 >= 0 RETURNING sku, on_hand, reserved",
        warehouse_id,
        sku,
        delta,
        now,
    )


async def get_level(conn: Conn, warehouse_id: str, sku: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT sku, on_hand, reserved FROM stock_levels WHERE warehouse_id = $1 AND sku = $2",
        warehouse_id,
        sku,
    )


async def levels_of(conn: Conn, sku: str) -> list[Row]:
    """The SKU's level in each warehouse that has one, in the order they are tried."""
    return await conn.fetch(
        "SELECT l.warehouse_id, l.on_hand, l.reserved FROM stock_levels l"
        " JOIN warehouses w ON w.id = l.warehouse_id WHERE l.sku = $1"
        " ORDER BY w.priority, w.id",
        sku,
    )


async def available_in(conn: Conn, skus: Sequence[str], warehouse_ids: Sequence[str]) -> list[Row]:
    """warehouse_id, sku, available for these SKUs in these warehouses (missing: none)."""
    return await conn.fetch(
        "SELECT warehouse_id, sku, on_hand - reserved AS available FROM stock_levels"
        f" WHERE sku IN ({placeholders(1, len(skus))})"
        f" AND warehouse_id IN ({placeholders(len(skus) + 1, len(warehouse_ids))})",
        *skus,
        *warehouse_ids,
    )


async def totals_of(conn: Conn, skus: Sequence[str]) -> list[Row]:
    """sku, on_hand, reserved, available summed over the warehouses (available counted
    per warehouse, never below zero there)."""
    return await conn.fetch(
        "SELECT sku, SUM(on_hand) AS on_hand, SUM(reserved) AS reserved,"
        " SUM(CASE WHEN on_hand > reserved THEN on_hand - reserved ELSE 0 END) AS available"
        f" FROM stock_levels WHERE sku IN ({placeholders(1, len(skus))}) GROUP BY sku",
        *skus,
    )


async def delete_reservations(conn: Conn, reference: str) -> list[Row]:
    return await conn.fetch(
        "DELETE FROM reservations WHERE reference = $1 RETURNING warehouse_id, sku, quantity",
        reference,
    )


async def give_back(conn: Conn, warehouse_id: str, sku: str, quantity: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE stock_levels SET reserved = reserved - $3, updated_at = $4"
        " WHERE warehouse_id = $1 AND sku = $2",
        warehouse_id,
        sku,
        quantity,
        now,
    )


def take_stmt(warehouse_id: str, sku: str, quantity: int, now: datetime) -> Stmt:
    """Reserve `quantity` only if that many are available: the no-oversell statement.
    Its row count is 0 when the stock is short."""
    return stmt(
        "UPDATE stock_levels SET reserved = reserved + $3, updated_at = $4"
        " WHERE warehouse_id = $1 AND sku = $2 AND on_hand - reserved >= $3",
        warehouse_id,
        sku,
        quantity,
        now,
    )


def insert_reservations_stmt(rows: Sequence[tuple[object, ...]]) -> Stmt:
    return insert_rows_stmt(
        "reservations (reference, warehouse_id, sku, quantity, created_at)", rows
    )


# ----------------------------------------------------------------------------- journal


def insert_movements_stmt(rows: Sequence[tuple[object, ...]]) -> Stmt:
    """(id, warehouse_id, sku, delta_on_hand, delta_reserved, reason, reference, note,
    actor_key_id, created_at) for each row: one multi-row INSERT."""
    return insert_rows_stmt(
        "inventory_movements (id, warehouse_id, sku, delta_on_hand, delta_reserved, reason,"
        " reference, note, actor_key_id, created_at)",
        rows,
    )


async def list_movements(
    conn: Conn, sku: str, *, before_id: str | None, warehouse_id: str | None, limit: int
) -> list[Row]:
    where = Where()
    where.add("sku = {}", sku)
    if before_id is not None:
        where.add("id < {}", before_id)
    if warehouse_id is not None:
        where.add("warehouse_id = {}", warehouse_id)
    return await conn.fetch(
        "SELECT id, warehouse_id, sku, delta_on_hand, delta_reserved, reason, reference,"
        " note, actor_key_id, created_at FROM inventory_movements"
        f"{where.sql()} ORDER BY id DESC LIMIT {where.param(limit)}",
        *where.args,
    )


async def movement_of_sku(conn: Conn, movement_id: str, sku: str) -> bool:
    row = await conn.fetchrow(
        "SELECT 1 FROM inventory_movements WHERE id = $1 AND sku = $2", movement_id, sku
    )
    return row is not None


async def journal_sums(conn: Conn, sku: str) -> list[Row]:
    """warehouse_id, on_hand, reserved as the journal adds them up, per warehouse."""
    return await conn.fetch(
        "SELECT warehouse_id, SUM(delta_on_hand) AS on_hand, SUM(delta_reserved) AS reserved"
        " FROM inventory_movements WHERE sku = $1 GROUP BY warehouse_id",
        sku,
    )


async def moved_skus(conn: Conn, from_id: str, *, watched_only: bool) -> list[str]:
    """The SKUs with a movement whose id is at least `from_id` (time-ordered ids: the
    movements since a moment); with `watched_only`, only SKUs that have a threshold."""
    if watched_only:
        rows = await conn.fetch(
            "SELECT DISTINCT m.sku FROM inventory_movements m JOIN stock_alerts a"
            " ON a.sku = m.sku AND a.threshold IS NOT NULL WHERE m.id >= $1",
            from_id,
        )
    else:
        rows = await conn.fetch(
            "SELECT DISTINCT sku FROM inventory_movements WHERE id >= $1", from_id
        )
    return sorted(r["sku"] for r in rows)


# -------------------------------------------------------------------------- warehouses


async def insert_warehouse(
    conn: Conn, warehouse_id: str, name: str, code: str | None, priority: int, countries: str
) -> None:
    await conn.execute(
        "INSERT INTO warehouses (id, name, code, priority, countries) VALUES ($1, $2, $3, $4, $5)",
        warehouse_id,
        name,
        code,
        priority,
        countries,
    )


async def get_warehouse(conn: Conn, warehouse_id: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT id, name, code, priority, countries FROM warehouses WHERE id = $1",
        warehouse_id,
    )


async def code_taken(conn: Conn, code: str) -> bool:
    return await conn.fetchrow("SELECT 1 FROM warehouses WHERE code = $1", code) is not None


async def all_warehouses(conn: Conn) -> list[Row]:
    return await conn.fetch(
        "SELECT id, name, code, priority, countries FROM warehouses ORDER BY priority, id"
    )


async def list_warehouses(conn: Conn, *, after: tuple[int, str] | None, limit: int) -> list[Row]:
    """In the order they are tried (priority, then id), from after (priority, id)."""
    if after is None:
        return await conn.fetch(
            "SELECT id, name, code, priority, countries FROM warehouses"
            " ORDER BY priority, id LIMIT $1",
            limit,
        )
    return await conn.fetch(
        "SELECT id, name, code, priority, countries FROM warehouses"
        " WHERE priority > $1 OR (priority = $1 AND id > $2) ORDER BY priority, id LIMIT $3",
        after[0],
        after[1],
        limit,
    )


# ------------------------------------------------------------------------------ alerts


async def set_threshold(conn: Conn, sku: str, threshold: int | None, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO stock_alerts (sku, threshold, low, updated_at) VALUES ($1, $2, FALSE, $3)"
        " ON CONFLICT (sku) DO UPDATE SET threshold = excluded.threshold,"
        " updated_at = excluded.updated_at",
        sku,
        threshold,
        now,
    )


async def alerts_of(conn: Conn, skus: Sequence[str]) -> list[Row]:
    return await conn.fetch(
        f"SELECT sku, threshold, low FROM stock_alerts WHERE sku IN ({placeholders(1, len(skus))})",
        *skus,
    )


async def flip_low(conn: Conn, sku: str, low: bool, now: datetime) -> bool:
    """Set the SKU's flag to `low` if it is not already: True when this call flipped it
    (the guard: of two passes that see the same crossing, one fires)."""
    count = await conn.execute(
        "UPDATE stock_alerts SET low = $2, updated_at = $3 WHERE sku = $1 AND low <> $2",
        sku,
        low,
        now,
    )
    return count == 1


async def insert_low(conn: Conn, sku: str, now: datetime) -> bool:
    """A flag for a SKU watched by the default threshold alone, raised: True if new."""
    count = await conn.execute(
        "INSERT INTO stock_alerts (sku, threshold, low, updated_at) VALUES ($1, NULL, TRUE, $2)"
        " ON CONFLICT (sku) DO NOTHING",
        sku,
        now,
    )
    return count == 1


# ----------------------------------------------------------------------------- cursors


async def lease_cursor(
    conn: Conn, name: str, now: datetime, until: datetime
) -> tuple[bool, datetime | None]:
    """Take the job's lease if nobody holds it: (taken, where the job stopped)."""
    await conn.execute(
        "INSERT INTO inventory_cursors (name, position, leased_until) VALUES ($1, NULL, NULL)"
        " ON CONFLICT (name) DO NOTHING",
        name,
    )
    row = await conn.fetchrow(
        "UPDATE inventory_cursors SET leased_until = $3 WHERE name = $1"
        " AND (leased_until IS NULL OR leased_until < $2) RETURNING position",
        name,
        now,
        until,
    )
    return (row is not None, None if row is None else row["position"])


async def advance_cursor(conn: Conn, name: str, position: datetime) -> None:
    await conn.execute(
        "UPDATE inventory_cursors SET position = $2, leased_until = NULL WHERE name = $1",
        name,
        position,
    )
