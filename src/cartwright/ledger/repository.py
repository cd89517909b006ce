"""Every SQL statement on the ledger's tables. Both are append-only: no UPDATE or DELETE
is ever built here (the database refuses them, migration 0014)."""

from __future__ import annotations

from collections.abc import Sequence

from cartwright.kit.db import Conn, Row, Stmt, Where, placeholders

ENTRY_COLUMNS = "id, kind, currency, order_id, payment_id, source, memo, created_at"


def _values(rows: Sequence[Sequence[object]]) -> tuple[str, tuple[object, ...]]:
    width = len(rows[0])
    values = ", ".join(f"({placeholders(i * width + 1, width)})" for i in range(len(rows)))
    return values, tuple(value for row in rows for value in row)


def insert_entries_stmt(rows: Sequence[Sequence[object]]) -> Stmt:
    """All entries of a batch in one INSERT; an entry whose source is posted already is
    skipped (its id is derived from the source, so its lines are skipped too)."""
    values, args = _values(rows)
    return Stmt(
        f"INSERT INTO ledger_entries ({ENTRY_COLUMNS}) VALUES {values}"
        " ON CONFLICT (source) DO NOTHING",
        args,
    )


def insert_lines_stmt(rows: Sequence[Sequence[object]]) -> Stmt:
    values, args = _values(rows)
    return Stmt(
        "INSERT INTO ledger_lines (entry_id, position, account, party, currency, debit, credit)"
        f" VALUES {values} ON CONFLICT (entry_id, position) DO NOTHING",
        args,
    )


async def trial_balance(conn: Conn) -> list[Row]:
    return await conn.fetch(
        "SELECT currency, COALESCE(SUM(debit), 0) AS debits, COALESCE(SUM(credit), 0) AS credits"
        " FROM ledger_lines GROUP BY currency ORDER BY currency"
    )


async def account_balances(
    conn: Conn, *, order_id: str | None = None, payment_id: str | None = None
) -> list[Row]:
    where = Where()
    if order_id is not None:
        where.add("e.order_id = {}", order_id)
    if payment_id is not None:
        where.add("e.payment_id = {}", payment_id)
    source = (
        "ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id"
        if where.args
        else "ledger_lines l"
    )
    return await conn.fetch(
        "SELECT l.account AS account, l.party AS party, l.currency AS currency,"
        " SUM(l.debit) AS debits, SUM(l.credit) AS credits"
        f" FROM {source}{where.sql()}"
        " GROUP BY l.account, l.party, l.currency ORDER BY l.currency, l.account, l.party",
        *where.args,
    )


async def list_entries(
    conn: Conn,
    *,
    limit: int,
    starting_after: str | None,
    order_id: str | None,
    payment_id: str | None,
) -> list[Row]:
    """Newest first. Entry ids are derived from their source (not time-ordered), so the
    order is (created_at, id) and `starting_after` names the entry the page follows."""
    where = Where()
    if order_id is not None:
        where.add("order_id = {}", order_id)
    if payment_id is not None:
        where.add("payment_id = {}", payment_id)
    if starting_after is not None:
        mark = where.param(starting_after)
        where.add(
            "(created_at < (SELECT created_at FROM ledger_entries WHERE id = " + mark + ")"
            " OR (created_at = (SELECT created_at FROM ledger_entries WHERE id = " + mark + ")"
            " AND id < {}))",
            starting_after,
        )
    return await conn.fetch(
        f"SELECT {ENTRY_COLUMNS} FROM ledger_entries{where.sql()}"
        f" ORDER BY created_at DESC, id DESC LIMIT {where.param(limit)}",
        *where.args,
    )


async def lines_of(conn: Conn, entry_ids: Sequence[str]) -> list[Row]:
    if not entry_ids:
        return []
    return await conn.fetch(
        "SELECT entry_id, position, account, party, currency, debit, credit FROM ledger_lines"
        f" WHERE entry_id IN ({placeholders(1, len(entry_ids))}) ORDER BY entry_id, position",
        *entry_ids,
    )


async def entry_by_source(conn: Conn, source: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE source = $1", source
    )
