"""The ledger's builders always balance (hypothesis over amounts and refund breakdowns),
an unbalanced entry is refused before anything is built, and a batch of entries is one
INSERT per table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartwright.kit.db import Dialect
from cartwright.ledger import service as ledger
from cartwright.ledger.service import Account, Entry, RefundBreakdown, Unbalanced

amounts = st.integers(min_value=0, max_value=10**12)


def _sums(entry: Entry) -> tuple[int, int]:
    return sum(p.debit for p in entry.postings), sum(p.credit for p in entry.postings)


def _balanced(entry: Entry) -> None:
    entry.check()
    debits, credits = _sums(entry)
    assert debits == credits
    for line in entry.lines:
        assert (line.debit > 0) != (line.credit > 0)


@given(subtotal=amounts, discount=amounts, shipping=amounts, tax=amounts)
def test_placement_balances(subtotal: int, discount: int, shipping: int, tax: int) -> None:
    discount = min(discount, subtotal)
    total = subtotal - discount + shipping + tax
    entry = ledger.placement_entry(
        order_id="ord_1",
        payment_id="pay_1",
        currency="EUR",
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        tax=tax,
        total=total,
    )
    _balanced(entry)
    receivable = [p for p in entry.lines if p.account is Account.CUSTOMER_RECEIVABLE]
    assert sum(p.debit for p in receivable) == total


def test_placement_whose_totals_do_not_add_up_is_refused() -> None:
    with pytest.raises(Unbalanced):
        ledger.placement_entry(
            order_id="ord_1",
            payment_id=None,
            currency="EUR",
            subtotal=1000,
            discount=0,
            shipping=0,
            tax=190,
            total=1000,
        )


@given(goods=amounts, discount=amounts, shipping=amounts, tax=amounts)
def test_refund_with_a_breakdown_balances(
    goods: int, discount: int, shipping: int, tax: int
) -> None:
    discount = min(discount, goods)
    breakdown = RefundBreakdown(goods=goods, discount=discount, shipping=shipping, tax=tax)
    entry = ledger.refund_entry(
        operation_id="rfd_1",
        order_id="ord_1",
        payment_id="pay_1",
        provider="sandbox",
        currency="EUR",
        amount=breakdown.amount,
        breakdown=breakdown,
    )
    _balanced(entry)
    clearing = [p for p in entry.lines if p.account is Account.PROVIDER_CLEARING]
    assert [(p.credit, p.party) for p in clearing] == (
        [(breakdown.amount, "sandbox")] if breakdown.amount else []
    )


@given(goods=amounts, off_by=st.integers(min_value=1, max_value=10**6))
def test_refund_whose_breakdown_misses_its_amount_is_refused(goods: int, off_by: int) -> None:
    with pytest.raises(Unbalanced):
        ledger.refund_entry(
            operation_id="rfd_1",
            order_id="ord_1",
            payment_id="pay_1",
            provider="sandbox",
            currency="EUR",
            amount=goods + off_by,
            breakdown=RefundBreakdown(goods=goods),
        )


@given(amount=amounts)
def test_every_other_builder_balances(amount: int) -> None:
    money = {"currency": "EUR", "amount": amount}
    entries = [
        ledger.capture_entry(
            source_id="cap_1", order_id="ord_1", payment_id="pay_1", provider="sandbox", **money
        ),
        ledger.refund_entry(
            operation_id="rfd_1", order_id="ord_1", payment_id="pay_1", provider="s", **money
        ),
        ledger.void_entry(operation_id="vd_1", order_id="ord_1", payment_id="pay_1", **money),
        ledger.release_entry(operation_id="c_1", order_id="ord_1", payment_id="pay_1", **money),
        ledger.cancellation_entry(order_id="ord_1", payment_id="pay_1", **money),
        ledger.compensation_entry(
            payment_id="pay_1", checkout_id="chk_1", provider="sandbox", **money
        ),
        ledger.give_back_entry(operation_id="cmp_1", payment_id="pay_1", provider="s", **money),
        ledger.fee_entry(source="fee:1", provider="sandbox", **money),
        ledger.payout_entry(source="payout:1", provider="sandbox", **money),
        ledger.chargeback_entry(
            dispute_id="dp_1", order_id="ord_1", payment_id="pay_1", provider="s", **money
        ),
        ledger.chargeback_reversal_entry(
            dispute_id="dp_1", order_id="ord_1", payment_id="pay_1", provider="s", **money
        ),
        ledger.write_off_entry(source="wo:1", order_id="ord_1", **money),
    ]
    for entry in entries:
        _balanced(entry)
    assert len({e.source for e in entries}) == len(entries)


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(Unbalanced):
        ledger.capture_entry(
            source_id="c", order_id=None, payment_id="p", provider="s", currency="EUR", amount=-1
        )


def test_an_unbalanced_entry_is_never_built_into_a_write() -> None:
    bad = Entry(
        ledger.EntryKind.WRITE_OFF,
        "bad:1",
        "EUR",
        (ledger.dr(Account.WRITE_OFFS, 100), ledger.cr(Account.CUSTOMER_RECEIVABLE, 99)),
    )
    good = ledger.payout_entry(source="payout:2", provider="sandbox", currency="EUR", amount=5)
    with pytest.raises(Unbalanced):
        ledger.post_stmts(Dialect.SQLITE, [good, bad])
    two_sided = Entry(
        ledger.EntryKind.WRITE_OFF,
        "bad:2",
        "EUR",
        (ledger.Posting(Account.WRITE_OFFS, debit=5, credit=5),),
    )
    with pytest.raises(Unbalanced):
        ledger.post_stmts(Dialect.POSTGRES, [two_sided])


def test_a_batch_of_entries_is_one_insert_per_table_and_empty_entries_are_skipped() -> None:
    entries = [
        ledger.payout_entry(source=f"payout:{i}", provider="sandbox", currency="EUR", amount=i)
        for i in range(4)
    ]
    statements = ledger.post_stmts(Dialect.POSTGRES, entries)
    assert len(statements) == 2
    assert statements[0].sql.startswith("INSERT INTO ledger_entries")
    assert statements[1].sql.startswith("INSERT INTO ledger_lines")
    # payout:0 has no lines; three entries of two lines each remain.
    assert len(statements[0].args) == 3 * 8 and len(statements[1].args) == 6 * 7
    assert ledger.post_stmts(Dialect.SQLITE, [entries[0]]) == []
