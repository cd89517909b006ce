"""The journal on both databases: entries are written once per source, and never
changed or deleted (the database refuses it: a correction is a new entry)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cartwright.kit import ids
from cartwright.kit.db import Database
from cartwright.ledger import service as ledger
from cartwright.ledger.service import Account


@pytest.fixture(params=["pg_database", "sqlite_database"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    database = Database(request.getfixturevalue(request.param), pool_size=2)
    await database.connect()
    yield database
    await database.close()


def _payout(source: str, amount: int = 700) -> ledger.Entry:
    return ledger.payout_entry(source=source, provider="sandbox", currency="EUR", amount=amount)


async def test_the_same_fact_posted_twice_is_written_once(db: Database) -> None:
    source = f"payout:{ids.new_id('test')}"
    await db.atomic_batch(ledger.post_stmts(db.dialect, [_payout(source)]))
    async with db.transaction() as conn:
        await ledger.post(conn, [_payout(source), _payout(source)])
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT l.account, l.party, l.debit, l.credit FROM ledger_lines l"
            " JOIN ledger_entries e ON e.id = l.entry_id WHERE e.source = $1 ORDER BY l.position",
            source,
        )
    assert [tuple(r) for r in rows] == [
        (Account.BANK.value, "", 700, 0),
        (Account.PROVIDER_CLEARING.value, "sandbox", 0, 700),
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET memo = 'changed' WHERE source = $1",
        "DELETE FROM ledger_lines WHERE entry_id IN"
        " (SELECT id FROM ledger_entries WHERE source = $1)",
        "UPDATE ledger_lines SET debit = debit + 1 WHERE entry_id IN"
        " (SELECT id FROM ledger_entries WHERE source = $1)",
        "DELETE FROM ledger_entries WHERE source = $1",
    ],
)
async def test_entries_and_lines_cannot_be_changed_or_deleted(db: Database, statement: str) -> None:
    source = f"payout:{ids.new_id('test')}"
    async with db.transaction() as conn:
        await ledger.post(conn, [_payout(source)])
    with pytest.raises(Exception, match="append-only"):
        async with db.transaction() as conn:
            await conn.execute(statement, source)
    async with db.connection() as conn:
        entry = (await ledger.list_entries(conn, limit=100, starting_after=None))["data"]
    (mine,) = [e for e in entry if e["source"] == source]
    assert mine["memo"] is None
    assert [(line["debit"], line["credit"]) for line in mine["lines"]] == [(700, 0), (0, 700)]


async def test_a_line_must_be_one_positive_side(db: Database) -> None:
    source = f"payout:{ids.new_id('test')}"
    async with db.transaction() as conn:
        await ledger.post(conn, [_payout(source)])
        entry_id = ledger.Entry(ledger.EntryKind.PAYOUT, source, "EUR", ()).id
    for debit, credit in ((0, 0), (5, 5), (-5, 0)):
        with pytest.raises(Exception, match="(?i)check"):
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO ledger_lines (entry_id, position, account, party, currency,"
                    " debit, credit) VALUES ($1, 9, 'bank', '', 'EUR', $2, $3)",
                    entry_id,
                    debit,
                    credit,
                )
