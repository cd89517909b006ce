"""Matching, one discrepancy kind at a time, on each database: crafted payments of a
provider of the test's own and report lines about them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from cartwright.kit import clock
from cartwright.kit.db import Database
from cartwright.payments.connector import OperationStatus
from cartwright.payments.service import OperationKind
from cartwright.reconciliation import service
from cartwright.reconciliation.errors import AlreadyResolved
from cartwright.reconciliation.parsers import LineKind
from cartwright.reconciliation.schemas import Resolution
from tests.reconciliation.support import (
    capture_line,
    discrepancies,
    fee,
    new_provider,
    operation,
    operation_line,
    paid,
    reconcile,
    report,
)


@pytest.fixture(params=["pg_database", "sqlite_database"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    database = Database(request.getfixturevalue(request.param), pool_size=8)
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


async def kinds(db: Database, run: dict[str, object]) -> list[tuple[str, str | None]]:
    found = await discrepancies(db, str(run["id"]))
    return sorted((str(d["kind"]), d["our_reference"]) for d in found)  # type: ignore[misc]


async def test_a_report_of_exactly_what_we_hold_matches(db: Database) -> None:
    provider = new_provider()
    auto = await paid(db, provider, 1999)
    manual = await paid(db, provider, 5000, captured=False)
    capture = await operation(db, manual, OperationKind.CAPTURE, 3000)
    refund = await operation(db, auto, OperationKind.REFUND, 500)
    rep = report(capture_line(auto), operation_line(manual, capture), operation_line(auto, refund))
    run = await reconcile(db, provider, rep)
    assert run["status"] == "matched"
    assert (run["lines"], run["matched"], run["discrepancies"]) == (3, 3, {})
    assert str(run["id"]).startswith("rec_")


async def test_each_kind_of_discrepancy_once_per_problem(db: Database) -> None:
    provider = new_provider()
    missing = await paid(db, provider, 1000)  # captured; the report lacks it
    wrong_amount = await paid(db, provider, 2000)
    wrong_currency = await paid(db, provider, 3000)
    wrong_fee = await paid(db, provider, 4000)
    pending_refund_of = await paid(db, provider, 5000)
    pending = await operation(
        db, pending_refund_of, OperationKind.REFUND, 700, outcome=OperationStatus.PENDING
    )
    failed = await operation(
        db, pending_refund_of, OperationKind.REFUND, 800, outcome=OperationStatus.FAILED
    )
    stranger = capture_line(
        missing, line_id="pay_stranger", our_reference="pay_unknown", our_payment="pay_unknown",
        source_id="pay_stranger", provider_payment="pay_stranger",
    )  # fmt: skip
    rep = report(
        capture_line(pending_refund_of),
        capture_line(wrong_amount, gross=2100, fee=fee(2100)),
        capture_line(wrong_currency, currency="USD"),
        capture_line(wrong_fee, fee=fee(4000) + 1),
        operation_line(pending_refund_of, pending, line_id="rfd_pending"),
        operation_line(pending_refund_of, failed, line_id="rfd_failed"),
        stranger,
    )
    run = await reconcile(db, provider, rep)
    assert run["status"] == "discrepancies"
    assert run["discrepancies"] == {
        "amount_mismatch": 1,
        "currency_mismatch": 1,
        "fee_mismatch": 1,
        "missing_at_provider": 1,
        "missing_on_our_side": 1,
        "status_mismatch": 2,
    }
    assert (run["lines"], run["matched"]) == (7, 1)
    found = {(d["kind"], d["our_reference"]): d for d in await discrepancies(db, str(run["id"]))}
    assert set(found) == {
        ("amount_mismatch", wrong_amount.id),
        ("currency_mismatch", wrong_currency.id),
        ("fee_mismatch", wrong_fee.id),
        ("missing_at_provider", missing.id),
        ("missing_on_our_side", "pay_unknown"),
        ("status_mismatch", pending.id),
        ("status_mismatch", failed.id),
    }
    assert found[("amount_mismatch", wrong_amount.id)]["expected"] == {"gross": 2000}
    assert found[("amount_mismatch", wrong_amount.id)]["actual"] == {"gross": 2100}
    assert found[("fee_mismatch", wrong_fee.id)]["expected"] == {"fee": fee(4000)}
    assert found[("status_mismatch", pending.id)]["actual"] == {
        "kind": "refund",
        "status": "pending",
    }
    assert all(d["status"] == "open" for d in found.values())

    # The same report again: the same findings, the same discrepancies, none added.
    again = await reconcile(db, provider, rep)
    assert again["id"] != run["id"]
    assert again["discrepancies"] == run["discrepancies"]
    first_ids = sorted(str(d["id"]) for d in found.values())
    assert sorted(str(d["id"]) for d in await discrepancies(db, str(again["id"]))) == first_ids
    async with db.connection() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM reconciliation_discrepancies WHERE provider = $1", provider
        )
        lines = await conn.fetchval(
            "SELECT count(*) FROM reconciliation_lines WHERE provider = $1", provider
        )
    assert (stored, lines) == (7, 7)


async def test_a_second_line_for_one_operation_is_missing_on_our_side(db: Database) -> None:
    provider = new_provider()
    payment = await paid(db, provider, 1500)
    first = capture_line(payment)
    run = await reconcile(db, provider, report(first))
    assert run["status"] == "matched"
    # The next day's report settles it again under another line id.
    second = capture_line(payment, line_id="pay_again", source_id="pay_again")
    run = await reconcile(db, provider, report(second))
    assert await kinds(db, run) == [("missing_on_our_side", payment.id)]
    # And twice within one report.
    other = await paid(db, provider, 1600)
    run = await reconcile(
        db, provider, report(capture_line(other), capture_line(other, line_id="dup_2"))
    )
    assert await kinds(db, run) == [("missing_on_our_side", other.id)]


async def test_nothing_after_the_reports_end_is_missing(db: Database) -> None:
    provider = new_provider()
    await paid(db, provider, 1000)  # today: after yesterday's report ended
    yesterday = clock.utcnow() - timedelta(days=1)
    run = await reconcile(db, provider, report(), day=yesterday)
    assert run["status"] == "matched"
    assert run["lines"] == 0
    today = await reconcile(db, provider, report(), day=clock.utcnow())
    assert today["discrepancies"] == {"missing_at_provider": 1}


async def test_a_chargeback_or_adjustment_is_left_to_a_person(db: Database) -> None:
    provider = new_provider()
    payment = await paid(db, provider, 1200)
    adjustment = capture_line(payment, line_id="adj_1", kind=LineKind.ADJUSTMENT, gross=-100, fee=0)
    run = await reconcile(db, provider, report(capture_line(payment), adjustment))
    assert run["discrepancies"] == {"missing_on_our_side": 1}
    assert run["matched"] == 1


async def test_concurrent_runs_of_one_report_raise_each_problem_once(db: Database) -> None:
    provider = new_provider()
    payments = [await paid(db, provider, 1000 + n) for n in range(4)]
    rep = report(*(capture_line(p, gross=p.amount + 1, fee=fee(p.amount + 1)) for p in payments))
    runs = await asyncio.gather(*(reconcile(db, provider, rep) for _ in range(4)))
    assert all(r["discrepancies"] == {"amount_mismatch": 4} for r in runs)
    ids = {str(d["id"]) for r in runs for d in await discrepancies(db, str(r["id"]))}
    assert len(ids) == 4


async def recon_entries(db: Database, provider: str) -> dict[str, dict[str, int]]:
    """The ledger entries reconciliation posted for `provider`: source → account → net
    debit."""
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT e.source, l.account, l.debit, l.credit FROM ledger_entries e"
            " JOIN ledger_lines l ON l.entry_id = e.id WHERE e.source LIKE $1",
            f"recon:{provider}:%",
        )
    entries: dict[str, dict[str, int]] = {}
    for r in rows:
        accounts = entries.setdefault(r["source"], {})
        accounts[r["account"]] = accounts.get(r["account"], 0) + r["debit"] - r["credit"]
    return entries


async def test_matched_lines_post_their_fees_and_the_days_payout_once(db: Database) -> None:
    provider = new_provider()
    auto = await paid(db, provider, 1999)
    refund = await operation(db, auto, OperationKind.REFUND, 500)
    wrong = await paid(db, provider, 3000)
    bad_line = capture_line(wrong, gross=3100, fee=fee(3100))
    rep = report(capture_line(auto), operation_line(auto, refund), bad_line)
    run = await reconcile(db, provider, rep)
    assert run["discrepancies"] == {"amount_mismatch": 1}
    day = clock.utcnow().date().isoformat()
    entries = await recon_entries(db, provider)
    fee_source = f"recon:{provider}:{auto.provider_reference}"
    payout_source = f"recon:{provider}:payout:{day}:EUR:{run['id']}"
    assert entries == {
        fee_source: {"provider_fees": fee(1999), "provider_clearing": -fee(1999)},
        # The day's net of the matched lines: the capture's, less the refund.
        payout_source: {
            "bank": 1999 - fee(1999) - 500,
            "provider_clearing": -(1999 - fee(1999) - 500),
        },
    }
    # Run again: nothing more is posted.
    await reconcile(db, provider, rep)
    assert await recon_entries(db, provider) == entries

    # The line in discrepancy waits for a person; accepted, it is posted as reported.
    found = await discrepancies(db, str(run["id"]))
    async with db.transaction() as conn:
        await service.resolve(
            conn, str(found[0]["id"]), resolution=Resolution.ACCEPTED, note="their figure"
        )
    after = await recon_entries(db, provider)
    line_source = f"recon:{provider}:{bad_line.line_id}"
    assert after[line_source] == {"provider_fees": fee(3100), "provider_clearing": -fee(3100)}
    payouts = [s for s in after if s.startswith(f"recon:{provider}:payout:") and s != payout_source]
    assert [after[s]["bank"] for s in payouts] == [3100 - fee(3100)]
    with pytest.raises(AlreadyResolved):
        async with db.transaction() as conn:
            await service.resolve(
                conn, str(found[0]["id"]), resolution=Resolution.DISMISSED, note=None
            )
    assert await recon_entries(db, provider) == after


async def test_a_stripe_export_matches_by_stripes_own_ids(db: Database) -> None:
    """Charges by their PaymentIntent, refunds by their `re_` id, without our metadata;
    Stripe's own payout and fee lines need nothing of ours and are posted."""
    provider = "stripe"
    payment = await paid(db, provider, 2000)
    refund = await operation(db, payment, OperationKind.REFUND, 500)
    unique = payment.id[-8:]
    text = (
        "id,type,source,amount,fee,net,currency,created,payment_intent_id\n"
        f"txn_c{unique},charge,ch_{unique},2000,88,1912,eur,{int(clock.utcnow().timestamp())},"
        f"{payment.provider_reference}\n"
        f"txn_r{unique},refund,{refund.provider_reference},-500,0,-500,eur,"
        f"{int(clock.utcnow().timestamp())},\n"
        f"txn_p{unique},payout,po_{unique},-1412,0,-1412,eur,{int(clock.utcnow().timestamp())},\n"
        f"txn_f{unique},stripe_fee,,-200,0,-200,eur,{int(clock.utcnow().timestamp())},\n"
    )
    rep = service.parse_report(provider, text)
    async with db.transaction() as conn:
        run = await service.reconcile(
            conn,
            provider=provider,
            report=rep,
            raw=text.encode(),
            # `stripe` is a name other tests' payments may carry in the session's database:
            # the window for ours missing is moved far back, out of their way.
            settings=service.Settings(fee_schedules={}, grace=timedelta(days=400)),
        )
    assert (run["status"], run["format"], run["matched"]) == ("matched", "stripe", 4)
    entries = await recon_entries(db, provider)
    assert entries[f"recon:stripe:txn_c{unique}"] == {"provider_fees": 88, "provider_clearing": -88}
    assert entries[f"recon:stripe:txn_f{unique}"] == {
        "provider_fees": 200,
        "provider_clearing": -200,
    }
    assert entries[f"recon:stripe:txn_p{unique}:payout"] == {
        "bank": 1412,
        "provider_clearing": -1412,
    }
    # A report with payout lines posts no payout of its own per day.
    assert not [s for s in entries if s.startswith("recon:stripe:payout:")]
