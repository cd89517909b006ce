"""The promotions' tables: promotions, their codes, redemptions and customers' uses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from cartwright.kit.db import Conn, Row, Stmt, placeholders, stmt

COLUMNS = (
    "id, name, code, kind, value, currency, rule, min_subtotal, skus, customer_groups,"
    " channels, stacking, priority, starts_at, ends_at, usage_limit, usage_limit_per_customer,"
    " uses, budget, granted, active, created_at, updated_at"
)
_P_COLUMNS = ", ".join("p." + c.strip() for c in COLUMNS.split(","))
_JSON_COLUMNS = frozenset({"rule", "skus", "customer_groups", "channels"})


def _param(column: str, value: Any) -> Any:
    if column in _JSON_COLUMNS and value is not None:
        return orjson.dumps(value).decode()
    return value


async def insert(conn: Conn, fields: dict[str, Any], now: datetime) -> Row:
    columns = sorted(fields)
    marks = placeholders(2, len(columns))
    row = await conn.fetchrow(
        f"INSERT INTO promotions ({', '.join(columns)}, created_at, updated_at)"
        f" VALUES ({marks}, $1, $1) RETURNING {COLUMNS}",
        now,
        *(_param(c, fields[c]) for c in columns),
    )
    assert row is not None
    return row


async def get(conn: Conn, promotion_id: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM promotions WHERE id = $1", promotion_id)


async def page(conn: Conn, *, limit: int, starting_after: str | None) -> list[Row]:
    if starting_after is None:
        return await conn.fetch(
            f"SELECT {COLUMNS} FROM promotions ORDER BY id DESC LIMIT $1", limit
        )
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM promotions WHERE id < $1 ORDER BY id DESC LIMIT $2",
        starting_after,
        limit,
    )


async def update(
    conn: Conn, promotion_id: str, fields: dict[str, Any], now: datetime
) -> Row | None:
    columns = sorted(fields)
    assignments = "".join(f", {c} = ${i}" for i, c in enumerate(columns, start=3))
    return await conn.fetchrow(
        f"UPDATE promotions SET updated_at = $2{assignments} WHERE id = $1 RETURNING {COLUMNS}",
        promotion_id,
        now,
        *(_param(c, fields[c]) for c in columns),
    )


async def recount(conn: Conn, promotion_id: str) -> None:
    """Set the counters from the redemptions not given back (when a limit or a budget is
    first set: until then checkouts recorded redemptions only)."""
    await conn.execute(
        "UPDATE promotions SET"
        " uses = (SELECT count(*) FROM promotion_redemptions r"
        "  WHERE r.promotion_id = $1 AND r.returned_at IS NULL),"
        " granted = (SELECT coalesce(sum(r.amount), 0) FROM promotion_redemptions r"
        "  WHERE r.promotion_id = $1 AND r.returned_at IS NULL)"
        " WHERE id = $1",
        promotion_id,
    )


async def usage(conn: Conn, promotion_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(uses, amount granted) of each promotion, from its redemptions not given back."""
    if not promotion_ids:
        return {}
    rows = await conn.fetch(
        "SELECT promotion_id, count(*) AS uses, coalesce(sum(amount), 0) AS granted"
        " FROM promotion_redemptions"
        f" WHERE returned_at IS NULL AND promotion_id IN ({placeholders(1, len(promotion_ids))})"
        " GROUP BY promotion_id",
        *promotion_ids,
    )
    return {r["promotion_id"]: (int(r["uses"]), int(r["granted"])) for r in rows}


async def automatic(conn: Conn, now: datetime) -> list[Row]:
    """The active promotions that have not ended and have no code of any kind (neither
    their own nor generated single-use ones): they apply by themselves."""
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM promotions p"
        " WHERE active AND code IS NULL AND (ends_at IS NULL OR ends_at > $1)"
        " AND NOT EXISTS (SELECT 1 FROM promotion_codes c WHERE c.promotion_id = p.id)"
        " ORDER BY id",
        now,
    )


# ---------------------------------------------------------------------------------- codes


async def insert_code(
    conn: Conn, code: str, promotion_id: str, *, single_use: bool, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO promotion_codes (code, promotion_id, single_use, created_at)"
        " VALUES ($1, $2, $3, $4)",
        code,
        promotion_id,
        single_use,
        now,
    )


async def insert_codes(conn: Conn, promotion_id: str, codes: Sequence[str], now: datetime) -> None:
    """Many single-use codes (a duplicate raises `UniqueViolation`, nothing kept)."""
    await conn.executemany(
        "INSERT INTO promotion_codes (code, promotion_id, single_use, created_at)"
        " VALUES ($1, $2, $3, $4)",
        [(code, promotion_id, True, now) for code in codes],
    )


async def codes_page(
    conn: Conn, promotion_id: str, *, limit: int, starting_after: str | None
) -> list[Row]:
    if starting_after is None:
        return await conn.fetch(
            "SELECT code, single_use, order_id, created_at FROM promotion_codes"
            " WHERE promotion_id = $1 ORDER BY code LIMIT $2",
            promotion_id,
            limit,
        )
    return await conn.fetch(
        "SELECT code, single_use, order_id, created_at FROM promotion_codes"
        " WHERE promotion_id = $1 AND code > $2 ORDER BY code LIMIT $3",
        promotion_id,
        starting_after,
        limit,
    )


async def by_codes(conn: Conn, codes: Sequence[str]) -> list[Row]:
    """The promotions `codes` bring, each with its code's `code`, `single_use` and
    `code_order_id` (the order that used a single-use code)."""
    return await conn.fetch(
        f"SELECT {_P_COLUMNS}, c.code AS brought_by, c.single_use, c.order_id AS code_order_id"
        " FROM promotion_codes c JOIN promotions p ON p.id = c.promotion_id"
        f" WHERE c.code IN ({placeholders(1, len(codes))})",
        *codes,
    )


async def customer_uses(
    conn: Conn, customer_id: str, promotion_ids: Sequence[str]
) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT promotion_id, uses FROM promotion_customer_uses WHERE customer_id = $1"
        f" AND promotion_id IN ({placeholders(2, len(promotion_ids))})",
        customer_id,
        *promotion_ids,
    )
    return {r["promotion_id"]: int(r["uses"]) for r in rows}


# ------------------------------------------------- checkout's batch: each write a guard


def take_counted_stmt(promotion_id: str, amount: int, now: datetime) -> Stmt:
    """One use and `amount` of a limited promotion, if its limit and budget allow."""
    return stmt(
        "UPDATE promotions SET uses = uses + 1, granted = granted + $2"
        " WHERE id = $1 AND active AND (starts_at IS NULL OR starts_at <= $3)"
        " AND (ends_at IS NULL OR ends_at > $3)"
        " AND (usage_limit IS NULL OR uses < usage_limit)"
        " AND (budget IS NULL OR granted + $2 <= budget)",
        promotion_id,
        amount,
        now,
    )


def redemption_stmt(
    order_id: str,
    promotion_id: str,
    code: str | None,
    customer_id: str | None,
    amount: int,
    currency: str,
    now: datetime,
    *,
    check_unlimited: bool,
) -> Stmt:
    """Record what the order got. `check_unlimited`: only if the promotion is still running
    with neither limit nor budget (a limited one is checked by `take_counted_stmt`), so an
    unlimited promotion costs checkouts no lock on its row."""
    values = "SELECT $1, $2, $3, $4, $5, $6, $7"
    args: tuple[Any, ...] = (order_id, promotion_id, code, customer_id, amount, currency, now)
    if check_unlimited:
        # Parameters of their own: PostgreSQL types a select list's by the columns it
        # fills, and the condition's by the columns it compares.
        values += (
            " WHERE EXISTS (SELECT 1 FROM promotions WHERE id = $8 AND active"
            " AND usage_limit IS NULL AND budget IS NULL"
            " AND (starts_at IS NULL OR starts_at <= $9) AND (ends_at IS NULL OR ends_at > $9))"
        )
        args += (promotion_id, now)
    return stmt(
        "INSERT INTO promotion_redemptions"
        " (order_id, promotion_id, code, customer_id, amount, currency, created_at) " + values,
        *args,
    )


def take_code_stmt(code: str, order_id: str) -> Stmt:
    """A single-use code, once."""
    return stmt(
        "UPDATE promotion_codes SET order_id = $2 WHERE code = $1 AND order_id IS NULL",
        code,
        order_id,
    )


def take_customer_use_stmt(promotion_id: str, customer_id: str, limit: int | None) -> Stmt:
    """One more use of the promotion by the customer, within `limit` if it has one (uses
    are counted for every signed-in customer, so a limit set later counts earlier uses)."""
    sql = (
        "INSERT INTO promotion_customer_uses (promotion_id, customer_id, uses)"
        " VALUES ($1, $2, 1) ON CONFLICT (promotion_id, customer_id) DO UPDATE"
        " SET uses = promotion_customer_uses.uses + 1"
    )
    if limit is None:
        return stmt(sql, promotion_id, customer_id)
    return stmt(sql + " WHERE promotion_customer_uses.uses < $3", promotion_id, customer_id, limit)


# ------------------------------------------------------------------------------ give back


async def return_redemptions(conn: Conn, order_id: str, now: datetime) -> list[Row]:
    """Mark the order's redemptions given back; the ones this call marked."""
    return await conn.fetch(
        "UPDATE promotion_redemptions SET returned_at = $2"
        " WHERE order_id = $1 AND returned_at IS NULL"
        " RETURNING promotion_id, code, customer_id, amount",
        order_id,
        now,
    )


async def give_back_counted(conn: Conn, promotion_id: str, amount: int) -> None:
    """Only a limited promotion counts (an unlimited one's counters are not kept)."""
    await conn.execute(
        "UPDATE promotions SET uses = uses - 1, granted = granted - $2"
        " WHERE id = $1 AND (usage_limit IS NOT NULL OR budget IS NOT NULL) AND uses > 0",
        promotion_id,
        amount,
    )


async def give_back_customer_use(conn: Conn, promotion_id: str, customer_id: str) -> None:
    await conn.execute(
        "UPDATE promotion_customer_uses SET uses = uses - 1"
        " WHERE promotion_id = $1 AND customer_id = $2 AND uses > 0",
        promotion_id,
        customer_id,
    )


async def free_code(conn: Conn, code: str, order_id: str) -> None:
    await conn.execute(
        "UPDATE promotion_codes SET order_id = NULL WHERE code = $1 AND order_id = $2",
        code,
        order_id,
    )
