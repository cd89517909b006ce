"""The report parsers: good files in both providers' shapes, bad files refused with the
line that is wrong, and generated sandbox reports read back exactly as written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartwright.kit.money import CURRENCY_EXPONENTS
from cartwright.reconciliation.parsers import BadReport, LineKind, ReportFormat, ReportLine, parse
from cartwright.reconciliation.parsers.sandbox import COLUMNS, render

HEADER = ",".join(COLUMNS)


def sandbox(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def test_a_sandbox_report_is_read_line_by_line() -> None:
    text = sandbox(
        "capture,pay_S1,pay_S1,pay_O1,pay_O1,EUR,1999,53,1946,2026-12-02T10:00:00Z",
        "refund,rfd_S2,pay_S1,pay_O1,ref_O2,EUR,-500,0,-500,2026-12-02T11:00:00.123Z",
    )
    report = parse("sandbox", ReportFormat.SANDBOX, text)
    assert report.format is ReportFormat.SANDBOX
    capture, refund = report.lines
    assert capture == ReportLine(
        provider="sandbox",
        line_id="pay_S1",
        kind=LineKind.CAPTURE,
        our_reference="pay_O1",
        our_payment="pay_O1",
        source_id="pay_S1",
        provider_payment="pay_S1",
        currency="EUR",
        gross=1999,
        fee=53,
        net=1946,
        occurred_at=datetime(2026, 12, 2, 10, tzinfo=UTC),
        line_number=2,
    )
    assert (refund.kind, refund.our_reference, refund.gross, refund.line_number) == (
        LineKind.REFUND,
        "ref_O2",
        -500,
        3,
    )


@pytest.mark.parametrize(
    ("row", "line", "mentions"),
    [
        ("capture,pay_S1,pay_S1,pay_O1,pay_O1,EUR,19.99,53,1946,2026-12-02T10:00:00Z", 2, "gross"),
        ("capture,pay_S1,pay_S1,pay_O1,pay_O1,XXX,1999,53,1946,2026-12-02T10:00:00Z", 2, "XXX"),
        ("capture,pay_S1,pay_S1,pay_O1,pay_O1,EUR,1999,53,1900,2026-12-02T10:00:00Z", 2, "net"),
        ("payout,po_1,,,,EUR,1999,0,1999,2026-12-02T10:00:00Z", 2, "type"),
        ("capture,pay_S1,pay_S1,pay_O1,pay_O1,EUR,1999,53,1946,yesterday", 2, "created_at"),
        ("capture,,pay_S1,pay_O1,pay_O1,EUR,1999,53,1946,2026-12-02T10:00:00Z", 2, "id"),
        ("refund,rfd_1,pay_S1,pay_O1,ref_1,EUR,500,0,500,2026-12-02T10:00:00Z", 2, "negative"),
        ("capture,pay_S1,pay_S1,pay_O1,EUR,1999,53,1946,2026-12-02T10:00:00Z", 2, "fields"),
    ],
)
def test_a_bad_line_is_refused_naming_its_number(row: str, line: int, mentions: str) -> None:
    good = "capture,pay_S0,pay_S0,pay_O0,pay_O0,EUR,1000,39,961,2026-12-02T09:00:00Z"
    with pytest.raises(BadReport) as refused:
        parse("sandbox", ReportFormat.SANDBOX, sandbox(good, row))
    assert refused.value.status == 422
    assert refused.value.extensions["line"] == line + 1
    assert mentions in refused.value.detail


def test_missing_columns_empty_files_and_repeated_ids_are_refused() -> None:
    with pytest.raises(BadReport, match="missing columns: fee, net"):
        parse(
            "sandbox",
            ReportFormat.SANDBOX,
            "type,id,payment,merchant_reference,idempotency_key,currency,gross,created_at\n",
        )
    with pytest.raises(BadReport, match="empty"):
        parse("sandbox", ReportFormat.SANDBOX, "")
    row = "capture,pay_S1,pay_S1,pay_O1,pay_O1,EUR,1999,53,1946,2026-12-02T10:00:00Z"
    with pytest.raises(BadReport, match="repeats line 2") as refused:
        parse("sandbox", ReportFormat.SANDBOX, sandbox(row, row))
    assert refused.value.extensions["line"] == 3


def test_stripe_api_shaped_balance_transactions() -> None:
    text = (
        "id,type,source,amount,fee,net,currency,created,reporting_category,payment_intent_id,"
        "payment_metadata[cartwright_payment_id]\n"
        "txn_1,charge,ch_1,2000,88,1912,eur,1764669600,charge,pi_1,pay_O1\n"
        "txn_2,refund,re_1,-500,0,-500,eur,1764673200,refund,pi_1,pay_O1\n"
        "txn_3,payout,po_1,-1412,0,-1412,eur,1764676800,payout,,\n"
        "txn_4,stripe_fee,,-200,0,-200,eur,1764676800,fee,,\n"
        "txn_5,adjustment,dp_1,-2000,1500,-3500,eur,1764676800,dispute,pi_1,pay_O1\n"
    )
    lines = parse("stripe", ReportFormat.STRIPE, text).lines
    assert [x.kind for x in lines] == [
        LineKind.CAPTURE,
        LineKind.REFUND,
        LineKind.PAYOUT,
        LineKind.FEE,
        LineKind.CHARGEBACK,
    ]
    charge, refund = lines[0], lines[1]
    assert (charge.currency, charge.gross, charge.fee, charge.net) == ("EUR", 2000, 88, 1912)
    assert (charge.our_reference, charge.provider_payment, charge.source_id) == (
        "pay_O1",
        "pi_1",
        "ch_1",
    )
    assert charge.occurred_at == datetime.fromtimestamp(1764669600, UTC)
    # A refund without its own metadata is matched by Stripe's id of it.
    assert (refund.our_reference, refund.source_id) == (None, "re_1")


def test_stripe_itemized_report_in_major_units() -> None:
    text = (
        "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,"
        "source_id,payment_intent_id,refund_metadata[cartwright_refund_id]\n"
        "txn_1,2026-12-02 10:00:00,eur,20.00,0.88,19.12,charge,ch_1,pi_1,\n"
        "txn_2,2026-12-02 11:00:00,jpy,-500,0,-500,refund,re_1,pi_2,ref_O9\n"
        "txn_3,2026-12-02 12:00:00,eur,-1.00,0.00,-1.00,other_adjustment,adj_1,,\n"
    )
    lines = parse("stripe", ReportFormat.STRIPE, text).lines
    assert [(x.kind, x.gross, x.fee, x.net) for x in lines] == [
        (LineKind.CAPTURE, 2000, 88, 1912),
        (LineKind.REFUND, -500, 0, -500),
        (LineKind.ADJUSTMENT, -100, 0, -100),
    ]
    assert lines[1].our_reference == "ref_O9"
    assert lines[0].occurred_at == datetime(2026, 12, 2, 10, tzinfo=UTC)


def test_stripe_itemized_amounts_with_too_many_decimals_are_refused() -> None:
    text = (
        "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id\n"
        "txn_1,2026-12-02 10:00:00,eur,20.001,0,20.001,charge,ch_1\n"
    )
    with pytest.raises(BadReport, match="more decimals") as refused:
        parse("stripe", ReportFormat.STRIPE, text)
    assert refused.value.extensions["line"] == 2


ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=40)


@st.composite
def report_lines(draw: st.DrawFn) -> list[ReportLine]:
    count = draw(st.integers(min_value=0, max_value=20))
    line_ids = draw(st.lists(ids, min_size=count, max_size=count, unique=True))
    start = datetime(2026, 12, 2, tzinfo=UTC)
    lines = []
    for number, line_id in enumerate(line_ids, start=2):
        kind = draw(st.sampled_from([LineKind.CAPTURE, LineKind.REFUND, LineKind.CHARGEBACK]))
        amount = draw(st.integers(min_value=1, max_value=10**12))
        gross = amount if kind is LineKind.CAPTURE else -amount
        fee = draw(st.integers(min_value=0, max_value=10**6))
        lines.append(
            ReportLine(
                provider="sandbox",
                line_id=line_id,
                kind=kind,
                our_reference=draw(st.none() | ids),
                our_payment=draw(st.none() | ids),
                source_id=line_id,
                provider_payment=draw(st.none() | ids),
                currency=draw(st.sampled_from(sorted(CURRENCY_EXPONENTS))),
                gross=gross,
                fee=fee,
                net=gross - fee,
                occurred_at=start
                + timedelta(microseconds=draw(st.integers(0, 86_400 * 10**6 - 1))),
                line_number=number,
            )
        )
    return lines


@given(report_lines())
def test_generated_sandbox_reports_read_back_as_written(lines: list[ReportLine]) -> None:
    assert parse("sandbox", ReportFormat.SANDBOX, render(lines)).lines == lines
