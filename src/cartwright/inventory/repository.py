from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Dialect, Row, Stmt, insert_rows_stmt, stmt


async def upsert_on_hand(
    conn: Conn, warehouse_id: str, sku: str, on_hand: int, now: datetime
) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO stock_levels (warehouse_id, sku, on_hand, reserved, updated_at)"
        " VALUES ($1, $2, $3, 0, $4)"
        " ON CONFLICT (warehouse_id, sku) DO UPDATE SET on_hand = excluded.on_hand,"
        " updated_at = excluded.updated_at RETURNING sku, on_hand, reserved",
        warehouse_id,
        sku,
        on_hand,
        now,
    )
    assert row is not None
    return row


async def lock_level(conn: Conn, warehouse_id: str, sku: str) -> Row | None:
    """The level, locked until the transaction ends (SQLite: its write lock is held)."""
    lock = " FOR UPDATE" if conn.dialect is Dialect.POSTGRES else ""
    return await conn.fetchrow(
        "SELECT sku, on_hand, reserved FROM stock_levels WHERE warehouse_id = $1 AND sku = $2"
        + lock,
        warehouse_id,
        sku,
    )


async def get_level(conn: Conn, warehouse_id: str, sku: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT sku, on_hand, reserved FROM stock_levels WHERE warehouse_id = $1 AND sku = $2",
        warehouse_id,
        sku,
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


# ------------------------------------------------------------------ movements for orders


async def reservations_of(conn: Conn, reference: str, sku: str) -> list[tuple[str, int]]:
    """(warehouse, units) held for `reference` of `sku`, in warehouse order."""
    rows = await conn.fetch(
        "SELECT warehouse_id, quantity FROM reservations WHERE reference = $1 AND sku = $2"
        " AND quantity > 0 ORDER BY warehouse_id",
        reference,
        sku,
    )
    return [(str(r["warehouse_id"]), int(r["quantity"])) for r in rows]


async def shrink_reservation(
    conn: Conn, reference: str, warehouse_id: str, sku: str, quantity: int
) -> bool:
    """Take `quantity` off the reservation (the row goes when nothing is left)."""
    taken = await conn.execute(
        "UPDATE reservations SET quantity = quantity - $4"
        " WHERE reference = $1 AND warehouse_id = $2 AND sku = $3 AND quantity >= $4",
        reference,
        warehouse_id,
        sku,
        quantity,
    )
    await conn.execute(
        "DELETE FROM reservations WHERE reference = $1 AND warehouse_id = $2 AND sku = $3"
        " AND quantity = 0",
        reference,
        warehouse_id,
        sku,
    )
    return taken == 1


async def ship(conn: Conn, warehouse_id: str, sku: str, quantity: int, now: datetime) -> bool:
    return (
        await conn.execute(
            "UPDATE stock_levels SET on_hand = on_hand - $3, reserved = reserved - $3,"
            " updated_at = $4 WHERE warehouse_id = $1 AND sku = $2"
            " AND reserved >= $3 AND on_hand >= $3",
            warehouse_id,
            sku,
            quantity,
            now,
        )
        == 1
    )


async def unreserve(conn: Conn, warehouse_id: str, sku: str, quantity: int, now: datetime) -> bool:
    return (
        await conn.execute(
            "UPDATE stock_levels SET reserved = reserved - $3, updated_at = $4"
            " WHERE warehouse_id = $1 AND sku = $2 AND reserved >= $3",
            warehouse_id,
            sku,
            quantity,
            now,
        )
        == 1
    )


async def add_on_hand(
    conn: Conn, warehouse_id: str, sku: str, quantity: int, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO stock_levels (warehouse_id, sku, on_hand, reserved, updated_at)"
        " VALUES ($1, $2, $3, 0, $4) ON CONFLICT (warehouse_id, sku) DO UPDATE"
        " SET on_hand = stock_levels.on_hand + excluded.on_hand, updated_at = excluded.updated_at",
        warehouse_id,
        sku,
        quantity,
        now,
    )
