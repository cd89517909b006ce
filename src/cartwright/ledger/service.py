"""The ledger: a double-entry journal of every money movement (docs/ledger.md, ADR 0015).

Callers build an `Entry` with one of the builders below (`placement_entry`,
`capture_entry`, ...) and write it in the same transaction or batch as the state change it
describes: `post_stmts` for a batch (one multi-row INSERT per table, whatever the number
of entries), `post` on the caller's connection. An entry is keyed by its `source` (the
fact's own identity, e.g. `capture:<operation id>`): posting the same fact again writes
nothing. Every entry is checked balanced before it is written; an unbalanced one is a
programming error (`Unbalanced`), never written. Entries are never changed: a correction is
a new entry.

This module is a leaf: it imports only the kit, and knows orders and payments by id only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Dialect, Row, Stmt
from cartwright.ledger import repository


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    CONTRA_REVENUE = "contra_revenue"
    EXPENSE = "expense"


class Account(StrEnum):
    """The chart of accounts. The names are stable API (docs/ledger.md)."""

    CUSTOMER_RECEIVABLE = "customer_receivable"
    PROVIDER_CLEARING = "provider_clearing"  # one balance per provider (the line's party)
    BANK = "bank"
    SALES = "sales"
    SHIPPING_REVENUE = "shipping_revenue"
    DISCOUNTS = "discounts"
    TAX_PAYABLE = "tax_payable"
    SALES_RETURNS = "sales_returns"
    PROVIDER_FEES = "provider_fees"
    CHARGEBACKS = "chargebacks"
    WRITE_OFFS = "write_offs"


ACCOUNT_TYPES: dict[Account, AccountType] = {
    Account.CUSTOMER_RECEIVABLE: AccountType.ASSET,
    Account.PROVIDER_CLEARING: AccountType.ASSET,
    Account.BANK: AccountType.ASSET,
    Account.SALES: AccountType.REVENUE,
    Account.SHIPPING_REVENUE: AccountType.REVENUE,
    Account.DISCOUNTS: AccountType.CONTRA_REVENUE,
    Account.TAX_PAYABLE: AccountType.LIABILITY,
    Account.SALES_RETURNS: AccountType.CONTRA_REVENUE,
    Account.PROVIDER_FEES: AccountType.EXPENSE,
    Account.CHARGEBACKS: AccountType.EXPENSE,
    Account.WRITE_OFFS: AccountType.EXPENSE,
}

# Accounts whose balance is told as credits - debits (the others as debits - credits).
_CREDIT_NORMAL = frozenset({AccountType.LIABILITY, AccountType.REVENUE})


class EntryKind(StrEnum):
    PLACEMENT = "placement"  # an order placed: what the customer owes, by what it is for
    CAPTURE = "capture"  # money taken: the provider holds it for us
    REFUND = "refund"  # money given back to the customer of an order
    VOID = "void"  # an authorization released before it was captured
    RELEASE = "release"  # the rest of an authorization released by a final capture
    CANCELLATION = "cancellation"  # an order canceled: what it still owed, reversed
    COMPENSATION = "compensation"  # money taken for a checkout that never became an order
    GIVE_BACK = "give_back"  # that money returned
    FEE = "fee"  # the provider's fee
    PAYOUT = "payout"  # the provider paid us out to the bank
    CHARGEBACK = "chargeback"  # the customer's bank took money back (a dispute)
    CHARGEBACK_REVERSAL = "chargeback_reversal"  # a dispute won: the money returns
    WRITE_OFF = "write_off"  # a receivable given up


class Unbalanced(Exception):
    """An entry whose debits and credits differ, or with a negative amount: a programming
    error in its builder or caller. Nothing of it is written."""


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of an entry: a debit or a credit of one account (by one party)."""

    account: Account
    debit: int = 0
    credit: int = 0
    party: str | None = None


def dr(account: Account, amount: int, party: str | None = None) -> Posting:
    return Posting(account, debit=amount, party=party)


def cr(account: Account, amount: int, party: str | None = None) -> Posting:
    return Posting(account, credit=amount, party=party)


@dataclass(frozen=True, slots=True)
class Entry:
    """One fact about money, as postings. Postings of 0 are dropped when it is written;
    an entry with nothing left is not written at all (a free order, a zero fee)."""

    kind: EntryKind
    source: str
    currency: str
    postings: tuple[Posting, ...]
    order_id: str | None = None
    payment_id: str | None = None
    memo: str | None = None

    @property
    def id(self) -> str:
        """Derived from the source: the same fact always has the same id."""
        return ids.derived_id("je", self.source)

    @property
    def lines(self) -> tuple[Posting, ...]:
        return tuple(p for p in self.postings if p.debit or p.credit)

    def check(self) -> None:
        """Raise `Unbalanced` unless every posting is one positive side and the entry's
        debits equal its credits."""
        for p in self.postings:
            if p.debit < 0 or p.credit < 0 or (p.debit and p.credit):
                raise Unbalanced(f"{self.source}: posting {p} is not one non-negative side")
        debits = sum(p.debit for p in self.postings)
        credits = sum(p.credit for p in self.postings)
        if debits != credits:
            raise Unbalanced(f"{self.source}: debits {debits} != credits {credits}")
        if len(self.currency) != 3:
            raise Unbalanced(f"{self.source}: currency {self.currency!r}")


@dataclass(frozen=True, slots=True)
class RefundBreakdown:
    """What a refund gives back, by what the order charged for: `goods - discount +
    shipping + tax` is the refund's amount."""

    goods: int
    discount: int = 0
    shipping: int = 0
    tax: int = 0

    @property
    def amount(self) -> int:
        return self.goods - self.discount + self.shipping + self.tax


# ------------------------------------------------------------------------------ builders


def _not_negative(**amounts: int) -> None:
    for name, value in amounts.items():
        if value < 0:
            raise Unbalanced(f"{name} is negative: {value}")


def placement_entry(
    *,
    order_id: str,
    payment_id: str | None,
    currency: str,
    subtotal: int,
    discount: int,
    shipping: int,
    tax: int,
    total: int,
) -> Entry:
    """An order placed (`order.placed`): the customer owes its total, for the goods (less
    the discount), the shipping and the tax collected for the authorities."""
    _not_negative(subtotal=subtotal, discount=discount, shipping=shipping, tax=tax, total=total)
    if subtotal - discount + shipping + tax != total:
        raise Unbalanced(f"order {order_id}: totals do not add up to {total}")
    return Entry(
        EntryKind.PLACEMENT,
        f"placement:{order_id}",
        currency,
        (
            dr(Account.CUSTOMER_RECEIVABLE, total),
            dr(Account.DISCOUNTS, discount),
            cr(Account.SALES, subtotal),
            cr(Account.SHIPPING_REVENUE, shipping),
            cr(Account.TAX_PAYABLE, tax),
        ),
        order_id=order_id,
        payment_id=payment_id,
    )


def capture_entry(
    *,
    source_id: str,
    order_id: str | None,
    payment_id: str,
    provider: str,
    currency: str,
    amount: int,
) -> Entry:
    """`amount` captured: the provider holds it for us, the customer owes it no more.
    `source_id` is the capture operation's id, or the payment's for a capture at checkout."""
    _not_negative(amount=amount)
    return Entry(
        EntryKind.CAPTURE,
        f"capture:{source_id}",
        currency,
        (
            dr(Account.PROVIDER_CLEARING, amount, provider),
            cr(Account.CUSTOMER_RECEIVABLE, amount),
        ),
        order_id=order_id,
        payment_id=payment_id,
    )


def refund_entry(
    *,
    operation_id: str,
    order_id: str,
    payment_id: str,
    provider: str,
    currency: str,
    amount: int,
    breakdown: RefundBreakdown | None = None,
) -> Entry:
    """`amount` refunded from the provider's balance. Without a breakdown all of it is a
    sales return; with one, goods, discount, shipping and tax are each given back."""
    _not_negative(amount=amount)
    if breakdown is None:
        returned: tuple[Posting, ...] = (dr(Account.SALES_RETURNS, amount),)
    else:
        _not_negative(
            goods=breakdown.goods,
            discount=breakdown.discount,
            shipping=breakdown.shipping,
            tax=breakdown.tax,
        )
        if breakdown.amount != amount:
            raise Unbalanced(f"refund {operation_id}: breakdown sums to {breakdown.amount}")
        returned = (
            dr(Account.SALES_RETURNS, breakdown.goods),
            cr(Account.DISCOUNTS, breakdown.discount),
            dr(Account.SHIPPING_REVENUE, breakdown.shipping),
            dr(Account.TAX_PAYABLE, breakdown.tax),
        )
    return Entry(
        EntryKind.REFUND,
        f"refund:{operation_id}",
        currency,
        (*returned, cr(Account.PROVIDER_CLEARING, amount, provider)),
        order_id=order_id,
        payment_id=payment_id,
    )


def _reversal(
    kind: EntryKind,
    source: str,
    order_id: str | None,
    payment_id: str | None,
    currency: str,
    amount: int,
) -> Entry:
    _not_negative(amount=amount)
    return Entry(
        kind,
        source,
        currency,
        (dr(Account.SALES_RETURNS, amount), cr(Account.CUSTOMER_RECEIVABLE, amount)),
        order_id=order_id,
        payment_id=payment_id,
    )


def void_entry(
    *, operation_id: str, order_id: str, payment_id: str, currency: str, amount: int
) -> Entry:
    """An authorization released before it was captured: what the customer still owed
    for it is reversed, so a finished order's receivable is 0."""
    return _reversal(EntryKind.VOID, f"void:{operation_id}", order_id, payment_id, currency, amount)


def release_entry(
    *, operation_id: str, order_id: str, payment_id: str, currency: str, amount: int
) -> Entry:
    """The rest of an authorization released by a final capture (`operation_id`)."""
    return _reversal(
        EntryKind.RELEASE, f"release:{operation_id}", order_id, payment_id, currency, amount
    )


def cancellation_entry(
    *, order_id: str, payment_id: str | None, currency: str, amount: int, reference: str = ""
) -> Entry:
    """An order canceled whose payment was voided: `amount`, what it still owed, reversed.
    `reference` tells one cancellation of the order from another (a partial one)."""
    source = f"cancellation:{order_id}" + (f":{reference}" if reference else "")
    return _reversal(EntryKind.CANCELLATION, source, order_id, payment_id, currency, amount)


def compensation_entry(
    *, payment_id: str, checkout_id: str, provider: str, currency: str, amount: int
) -> Entry:
    """Money captured for a checkout that could not become an order: the provider holds
    it, and we owe it back to the customer (a negative receivable) until it is returned."""
    _not_negative(amount=amount)
    return Entry(
        EntryKind.COMPENSATION,
        f"compensation:{payment_id}",
        currency,
        (
            dr(Account.PROVIDER_CLEARING, amount, provider),
            cr(Account.CUSTOMER_RECEIVABLE, amount),
        ),
        payment_id=payment_id,
        memo=f"checkout {checkout_id}: no order could be written",
    )


def give_back_entry(
    *, operation_id: str, payment_id: str, provider: str, currency: str, amount: int
) -> Entry:
    """Money of a payment without an order refunded (after `compensation_entry`)."""
    _not_negative(amount=amount)
    return Entry(
        EntryKind.GIVE_BACK,
        f"give_back:{operation_id}",
        currency,
        (
            dr(Account.CUSTOMER_RECEIVABLE, amount),
            cr(Account.PROVIDER_CLEARING, amount, provider),
        ),
        payment_id=payment_id,
    )


def fee_entry(
    *,
    source: str,
    provider: str,
    currency: str,
    amount: int,
    payment_id: str | None = None,
    order_id: str | None = None,
    memo: str | None = None,
) -> Entry:
    """The provider's fee, taken from what it holds for us. `source` identifies the fee
    (e.g. `fee:<settlement report>:<row>`)."""
    _not_negative(amount=amount)
    return Entry(
        EntryKind.FEE,
        source,
        currency,
        (dr(Account.PROVIDER_FEES, amount), cr(Account.PROVIDER_CLEARING, amount, provider)),
        order_id=order_id,
        payment_id=payment_id,
        memo=memo,
    )


def payout_entry(
    *, source: str, provider: str, currency: str, amount: int, memo: str | None = None
) -> Entry:
    """The provider paid `amount` out to our bank account."""
    _not_negative(amount=amount)
    return Entry(
        EntryKind.PAYOUT,
        source,
        currency,
        (dr(Account.BANK, amount), cr(Account.PROVIDER_CLEARING, amount, provider)),
        memo=memo,
    )


def chargeback_entry(
    *,
    dispute_id: str,
    order_id: str | None,
    payment_id: str,
    provider: str,
    currency: str,
    amount: int,
) -> Entry:
    """A dispute opened: the customer's bank took `amount` back from the provider's
    balance for us."""
    _not_negative(amount=amount)
    return Entry(
        EntryKind.CHARGEBACK,
        f"chargeback:{dispute_id}",
        currency,
        (dr(Account.CHARGEBACKS, amount), cr(Account.PROVIDER_CLEARING, amount, provider)),
        order_id=order_id,
        payment_id=payment_id,
    )


def chargeback_reversal_entry(
    *,
    dispute_id: str,
    order_id: str | None,
    payment_id: str,
    provider: str,
    currency: str,
    amount: int,
) -> Entry:
    """A dispute won: the chargeback is reversed."""
    _not_negative(amount=amount)
    return Entry(
        EntryKind.CHARGEBACK_REVERSAL,
        f"chargeback_reversal:{dispute_id}",
        currency,
        (dr(Account.PROVIDER_CLEARING, amount, provider), cr(Account.CHARGEBACKS, amount)),
        order_id=order_id,
        payment_id=payment_id,
    )


def write_off_entry(
    *, source: str, order_id: str | None, currency: str, amount: int, memo: str | None = None
) -> Entry:
    """A receivable given up."""
    _not_negative(amount=amount)
    return Entry(
        EntryKind.WRITE_OFF,
        source,
        currency,
        (dr(Account.WRITE_OFFS, amount), cr(Account.CUSTOMER_RECEIVABLE, amount)),
        order_id=order_id,
        memo=memo,
    )


# ------------------------------------------------------------------------------- posting


def post_stmts(dialect: Dialect, entries: Iterable[Entry]) -> list[Stmt]:
    """The writes that post `entries`, for the caller's batch: one INSERT of the entries
    and one of their lines (none when nothing is left to write). Each entry is checked
    first: `Unbalanced` is raised before anything is built. An entry posted before (its
    source) is skipped by the database. `dialect` is the batch's (both take the same SQL
    today)."""
    del dialect
    now = clock.utcnow()
    entry_rows: list[tuple[object, ...]] = []
    line_rows: list[tuple[object, ...]] = []
    seen: set[str] = set()
    for entry in entries:
        entry.check()
        lines = entry.lines
        if not lines or entry.source in seen:
            continue
        seen.add(entry.source)
        entry_id = entry.id
        entry_rows.append(
            (
                entry_id,
                entry.kind.value,
                entry.currency,
                entry.order_id,
                entry.payment_id,
                entry.source,
                entry.memo,
                now,
            )
        )
        line_rows.extend(
            (
                entry_id,
                position,
                p.account.value,
                p.party or "",
                entry.currency,
                p.debit,
                p.credit,
            )
            for position, p in enumerate(lines)
        )
    if not entry_rows:
        return []
    return [repository.insert_entries_stmt(entry_rows), repository.insert_lines_stmt(line_rows)]


async def post(conn: Conn, entries: Iterable[Entry]) -> None:
    """Post `entries` on the caller's connection (in its transaction)."""
    statements = post_stmts(conn.dialect, entries)
    if statements:
        await conn.batch(statements)


# --------------------------------------------------------------------------------- reads


async def trial_balance(conn: Conn) -> dict[str, Any]:
    """Debits and credits per currency over the whole ledger (equal, always)."""
    rows = await repository.trial_balance(conn)
    return {
        "data": [
            {
                "currency": r["currency"],
                "debits": int(r["debits"]),
                "credits": int(r["credits"]),
            }
            for r in rows
        ]
    }


def _balance(row: Row) -> dict[str, Any]:
    account = Account(row["account"])
    kind = ACCOUNT_TYPES[account]
    debits, credits = int(row["debits"]), int(row["credits"])
    return {
        "account": account.value,
        "type": kind.value,
        "party": row["party"] or None,
        "currency": row["currency"],
        "debits": debits,
        "credits": credits,
        "balance": credits - debits if kind in _CREDIT_NORMAL else debits - credits,
    }


async def balances(
    conn: Conn, *, order_id: str | None = None, payment_id: str | None = None
) -> dict[str, Any]:
    """Balance of each account (by party and currency), over the whole ledger or only
    the entries of one order or payment."""
    rows = await repository.account_balances(conn, order_id=order_id, payment_id=payment_id)
    return {"data": [_balance(r) for r in rows]}


async def balance_of(
    conn: Conn, account: Account, *, order_id: str | None = None, currency: str | None = None
) -> int:
    """One account's balance (all parties), as `balances` tells it."""
    rows = (await balances(conn, order_id=order_id))["data"]
    return sum(
        r["balance"]
        for r in rows
        if r["account"] == account.value and (currency is None or r["currency"] == currency)
    )


def _present(entry: Row, lines: Sequence[Row]) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "kind": entry["kind"],
        "currency": entry["currency"],
        "order_id": entry["order_id"],
        "payment_id": entry["payment_id"],
        "source": entry["source"],
        "memo": entry["memo"],
        "created_at": clock.isoformat(entry["created_at"]),
        "lines": [
            {
                "account": line["account"],
                "party": line["party"] or None,
                "debit": int(line["debit"]),
                "credit": int(line["credit"]),
            }
            for line in lines
        ],
    }


async def list_entries(
    conn: Conn,
    *,
    limit: int,
    starting_after: str | None,
    order_id: str | None = None,
    payment_id: str | None = None,
) -> dict[str, Any]:
    """Entries newest first, with their lines; optionally only one order's or payment's."""
    rows = await repository.list_entries(
        conn,
        limit=limit + 1,
        starting_after=starting_after,
        order_id=order_id,
        payment_id=payment_id,
    )
    page = rows[:limit]
    lines: dict[str, list[Row]] = {r["id"]: [] for r in page}
    for line in await repository.lines_of(conn, list(lines)):
        lines[line["entry_id"]].append(line)
    return {"data": [_present(r, lines[r["id"]]) for r in page], "has_more": len(rows) > limit}
