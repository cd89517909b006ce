from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from cartwright.kit.db import Conn, Row

CHANNEL_COLUMNS = (
    "id, code, name, currencies, prices_include_tax, capture_method, price_list_id,"
    " warehouses, shipping_methods, fraud_failure_mode, created_at, updated_at"
)
_JSON_COLUMNS = frozenset({"currencies", "warehouses", "shipping_methods"})


def _param(column: str, value: Any) -> Any:
    return orjson.dumps(value).decode() if column in _JSON_COLUMNS else value


async def insert_channel(conn: Conn, fields: dict[str, Any], now: datetime) -> Row:
    columns = sorted(fields)
    marks = ", ".join(f"${i}" for i in range(2, len(columns) + 2))
    row = await conn.fetchrow(
        f"INSERT INTO channels ({', '.join(columns)}, created_at, updated_at)"
        f" VALUES ({marks}, $1, $1) RETURNING {CHANNEL_COLUMNS}",
        now,
        *(_param(c, fields[c]) for c in columns),
    )
    assert row is not None
    return row


async def get_channel(conn: Conn, channel_id: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1", channel_id)


async def find_by_code(conn: Conn, code: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE code = $1", code)


async def list_channels(conn: Conn, *, limit: int, starting_after: str | None) -> list[Row]:
    if starting_after is None:
        return await conn.fetch(
            f"SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY id DESC LIMIT $1", limit
        )
    return await conn.fetch(
        f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE id < $1 ORDER BY id DESC LIMIT $2",
        starting_after,
        limit,
    )


async def update_channel(
    conn: Conn, channel_id: str, fields: dict[str, Any], now: datetime
) -> Row | None:
    columns = sorted(fields)
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=3))
    sets = f"updated_at = $2, {assignments}" if columns else "updated_at = $2"
    return await conn.fetchrow(
        f"UPDATE channels SET {sets} WHERE id = $1 RETURNING {CHANNEL_COLUMNS}",
        channel_id,
        now,
        *(_param(c, fields[c]) for c in columns),
    )


# ---------------------------------------------------------------------------- price lists

PRICE_LIST_COLUMNS = (
    "id, name, channel, customer_group, starts_at, ends_at, priority, created_at, updated_at"
)


async def all_price_lists(conn: Conn) -> list[Row]:
    return await conn.fetch(f"SELECT {PRICE_LIST_COLUMNS} FROM price_lists ORDER BY id")


async def list_prices_of(conn: Conn, skus: list[str], currency: str) -> list[Row]:
    marks = ", ".join(f"${i}" for i in range(2, len(skus) + 2))
    return await conn.fetch(
        "SELECT price_list_id, sku, currency, amount, min_quantity FROM price_list_prices"
        f" WHERE currency = $1 AND sku IN ({marks})",
        currency,
        *skus,
    )
