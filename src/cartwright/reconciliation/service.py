"""Reconciliation: a provider's settlement report matched against our payments.

`reconcile` parses the report (a bad file changes nothing), matches every line
(`matching`), looks for what we hold that the report lacks over the days it covers, and
writes the run, its lines and its findings in the caller's transaction. A report run again
changes nothing: lines are kept once per provider line id, a discrepancy once per problem
(its key), and a run that finds a known one only links it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson

from cartwright.audit import service as audit
from cartwright.events.service import Event
from cartwright.events.service import record as record_events
from cartwright.kit import clock, context, ids, metrics
from cartwright.kit.db import Conn, Row
from cartwright.kit.errors import NotFound
from cartwright.payments import service as payments
from cartwright.reconciliation import repository
from cartwright.reconciliation.errors import AlreadyResolved
from cartwright.reconciliation.matching import (
    DiscrepancyKind,
    FeeSchedules,
    Finding,
    duplicate,
    match_dispute_line,
    match_line,
    missing_operation,
    missing_payment,
    unmatched,
)
from cartwright.reconciliation.parsers import LineKind, Report, ReportFormat, ReportLine, parse
from cartwright.reconciliation.postings import Posted, post_lines
from cartwright.reconciliation.schemas import Resolution, RunStatus

# Lines matched against our payments; the others are the provider's own bookings.
_PAYMENT_LINES = frozenset({LineKind.CAPTURE, LineKind.REFUND})
# Bookings that need nothing of ours to be right (a payout, a fee of the account).
_PROVIDER_LINES = frozenset({LineKind.FEE, LineKind.PAYOUT})
_DISPUTE_LINES = frozenset({LineKind.CHARGEBACK, LineKind.CHARGEBACK_REVERSAL})


@dataclass(frozen=True, slots=True)
class Settings:
    """What a run needs from the platform's settings."""

    fee_schedules: FeeSchedules
    grace: timedelta


def report_format(provider: str) -> ReportFormat:
    """The format of `provider`'s reports: the sandbox's own (every sandbox server), or
    Stripe's balance transactions."""
    if provider == "stripe":
        return ReportFormat.STRIPE
    return ReportFormat.SANDBOX


def _json(row: Row, column: str) -> Any:
    value = row[column]
    return orjson.loads(value) if isinstance(value, str) else value


def present_run(row: Row) -> dict[str, Any]:
    def at(value: datetime | None) -> str | None:
        return None if value is None else clock.isoformat(value)

    return {
        "id": row["id"],
        "object": "reconciliation_run",
        "provider": row["provider"],
        "status": row["status"],
        "format": row["format"],
        "lines": row["lines"],
        "matched": row["matched"],
        "discrepancies": _json(row, "discrepancies"),
        "file_sha256": row["file_sha256"],
        "period": {"start": at(row["period_start"]), "end": at(row["period_end"])},
        "created_at": clock.isoformat(row["created_at"]),
    }


def present_discrepancy(row: Row) -> dict[str, Any]:
    resolved_at = row["resolved_at"]
    return {
        "id": row["id"],
        "object": "reconciliation_discrepancy",
        "provider": row["provider"],
        "kind": row["kind"],
        "status": row["status"],
        "line_id": row["line_id"],
        "our_reference": row["our_reference"],
        "provider_reference": row["provider_reference"],
        "currency": row["currency"],
        "expected": _json(row, "expected"),
        "actual": _json(row, "actual"),
        "detail": row["detail"],
        "first_run_id": row["first_run_id"],
        "resolution": row["resolution"],
        "note": row["note"],
        "resolved_by": row["resolved_by"],
        "resolved_at": None if resolved_at is None else clock.isoformat(resolved_at),
        "created_at": clock.isoformat(row["created_at"]),
    }


def parse_report(provider: str, text: str) -> Report:
    """The report as lines (`BadReport`, a 422 naming the line, when it is not valid)."""
    return parse(provider, report_format(provider), text)


def period_of(report: Report, day: date | None) -> tuple[datetime, datetime] | None:
    """The UTC days a run covers: `day` when given, else the days its lines fall on;
    None for an empty report with no day (nothing can then be missing from it)."""
    if day is not None:
        start = datetime.combine(day, time(), tzinfo=UTC)
        return start, start + timedelta(days=1)
    if not report.lines:
        return None
    first = min(line.occurred_at for line in report.lines).date()
    last = max(line.occurred_at for line in report.lines).date()
    start = datetime.combine(first, time(), tzinfo=UTC)
    return start, datetime.combine(last, time(), tzinfo=UTC) + timedelta(days=1)


async def _match_all(
    conn: Conn, report: Report, settings: Settings
) -> tuple[dict[str, str | None], list[Finding]]:
    """Each line's subject (ours it matched, by line id) and every problem found."""
    subjects: dict[str, str | None] = {}
    findings: list[Finding] = []
    claimed: dict[str, str] = {}  # our subject → the line that settled it
    for line in report.lines:
        if line.kind in _PAYMENT_LINES:
            match = await match_line(conn, line, settings.fee_schedules)
            subject, problems = match.subject_id, match.findings
        elif line.kind in _DISPUTE_LINES:
            match = await match_dispute_line(conn, line)
            subject, problems = match.subject_id, match.findings
        elif line.kind in _PROVIDER_LINES:
            subject, problems = None, []
        else:  # adjustments: for a person to look at
            subject, problems = None, [unmatched(line)]
        if subject is not None:
            other = claimed.setdefault(subject, line.line_id)
            if other != line.line_id:
                problems = [duplicate(line, subject, other)]
                subject = None
        subjects[line.line_id] = subject
        findings += problems
    # A subject settled by another line in an earlier report is settled twice.
    if claimed:
        for row in await repository.lines_for_subjects(
            conn, report.lines[0].provider, list(claimed)
        ):
            line_id = claimed[row["subject_id"]]
            if row["line_id"] != line_id:
                line = next(x for x in report.lines if x.line_id == line_id)
                subjects[line_id] = None
                findings = [f for f in findings if f.line_id != line_id]
                findings.append(duplicate(line, row["subject_id"], row["line_id"]))
    return subjects, findings


async def _missing_at_provider(
    conn: Conn,
    provider: str,
    period: tuple[datetime, datetime],
    subjects: dict[str, str | None],
    grace: timedelta,
) -> list[Finding]:
    """Ours the report should hold and does not. Recorded within `grace` of the end, an
    operation may reach the provider's books the next day: the window is shifted back by
    `grace`, so each is looked for exactly once, in the run of the day after at the latest,
    and counts as found when any earlier report had it."""
    start, end = period[0] - grace, period[1] - grace
    captured, operations = await payments.settled_between(conn, provider, start, end)
    found = {s for s in subjects.values() if s is not None}
    expected: dict[str, Finding] = {}
    for payment in captured:
        others = await payments.operations_of_payment(conn, payment.id)
        gross = payment.amount_captured - payments.captured_by_operations(others)
        if gross > 0 and payment.id not in found:
            expected[payment.id] = missing_payment(payment, gross)
    for operation in operations:
        if operation.id not in found:
            expected[operation.id] = missing_operation(operation)
    if expected:
        for row in await repository.lines_for_subjects(conn, provider, list(expected)):
            expected.pop(row["subject_id"], None)
    return list(expected.values())


async def reconcile(
    conn: Conn,
    *,
    provider: str,
    report: Report,
    raw: bytes,
    settings: Settings,
    day: date | None = None,
) -> dict[str, Any]:
    """Run a reconciliation of `provider`'s parsed report, in the caller's transaction:
    the run, the lines first seen, the discrepancies first raised and every finding are
    written; the run is returned as the API shows it."""
    now = clock.utcnow()
    run_id = ids.new_id("rec")
    period = period_of(report, day)
    subjects, findings = await _match_all(conn, report, settings)
    if period is not None:
        findings += await _missing_at_provider(conn, provider, period, subjects, settings.grace)
    for line in report.lines:
        await _keep_line(conn, line, subjects[line.line_id], run_id, now)
    discrepancy_ids = []
    for finding in findings:
        discrepancy_ids.append(await _raise(conn, provider, finding, run_id, now))
    problem_lines = {f.line_id for f in findings if f.line_id is not None}
    counts = dict(sorted(Counter(f.kind.value for f in findings).items()))
    status = RunStatus.MATCHED if not findings else RunStatus.DISCREPANCIES
    await repository.insert_run(
        conn,
        run_id=run_id,
        provider=provider,
        status=status,
        report_format=report.format,
        file_sha256=hashlib.sha256(raw).hexdigest(),
        period_start=None if period is None else period[0],
        period_end=None if period is None else period[1],
        lines=len(report.lines),
        matched=sum(1 for line in report.lines if line.line_id not in problem_lines),
        discrepancies=orjson.dumps(counts).decode(),
        created_by=_actor(),
        now=now,
    )
    for discrepancy_id in discrepancy_ids:
        await repository.insert_finding(conn, run_id, discrepancy_id)
    # The ledger: the fees and payouts of the lines that matched (the others wait for a
    # person to resolve their discrepancy).
    await post_lines(
        conn,
        [
            _posted(line, subjects[line.line_id])
            for line in report.lines
            if line.line_id not in problem_lines
        ],
        run_id=run_id,
        pays_out_by_line=any(line.kind is LineKind.PAYOUT for line in report.lines),
        now=now,
    )
    row = await repository.get_run(conn, run_id)
    assert row is not None
    run = present_run(row)
    metrics.reconciliation_runs.labels(provider, status.value).inc()
    await record_events(conn, [Event("reconciliation.run_completed", run_id, run)])
    await audit.record(
        conn,
        "reconciliation.run",
        "reconciliation_run",
        run_id,
        {"provider": provider, "file_sha256": run["file_sha256"], "status": status.value},
    )
    return run


def _posted(line: ReportLine, subject: str | None) -> Posted:
    return Posted(
        provider=line.provider,
        line_id=line.line_id,
        kind=line.kind,
        currency=line.currency,
        gross=line.gross,
        fee=line.fee,
        net=line.net,
        occurred_at=line.occurred_at,
        payment_id=line.our_payment or subject,
    )


def _aware(value: datetime | str) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _actor() -> str | None:
    info = context.current()
    return None if info is None else info.actor_key_id


async def _keep_line(
    conn: Conn, line: ReportLine, subject: str | None, run_id: str, now: datetime
) -> None:
    inserted = await repository.insert_line(
        conn,
        provider=line.provider,
        line_id=line.line_id,
        kind=line.kind,
        our_reference=line.our_reference,
        provider_payment=line.provider_payment,
        currency=line.currency,
        gross=line.gross,
        fee=line.fee,
        net=line.net,
        occurred_at=line.occurred_at,
        subject_id=subject,
        run_id=run_id,
        now=now,
    )
    if not inserted and subject is not None:
        await repository.set_line_subject(conn, line.provider, line.line_id, subject)


async def _raise(conn: Conn, provider: str, finding: Finding, run_id: str, now: datetime) -> str:
    """The discrepancy's id: a new one, or the one raised for the same problem before."""

    def dumped(value: dict[str, Any] | None) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    await repository.insert_discrepancy(
        conn,
        discrepancy_id=ids.new_id("dsc"),
        provider=provider,
        key=finding.key,
        kind=finding.kind,
        line_id=finding.line_id,
        our_reference=finding.our_reference,
        provider_reference=finding.provider_reference,
        currency=finding.currency,
        expected=dumped(finding.expected),
        actual=dumped(finding.actual),
        detail=finding.detail,
        run_id=run_id,
        now=now,
    )
    row = await repository.discrepancy_by_key(conn, provider, finding.key)
    assert row is not None
    if row["first_run_id"] == run_id:
        # Counted when first raised (a rolled-back run may count one that never was).
        metrics.reconciliation_discrepancies.labels(provider, finding.kind.value).inc()
    return str(row["id"])


async def _post_accepted(conn: Conn, provider: str, line_id: str, run_id: str) -> None:
    """The provider's line stands as it reported it: its fee and payout go to the ledger
    (once, whichever of its discrepancies is accepted first)."""
    row = await repository.get_line(conn, provider, line_id)
    if row is None:
        return
    line = Posted(
        provider=provider,
        line_id=line_id,
        kind=LineKind(row["kind"]),
        currency=row["currency"],
        gross=row["gross"],
        fee=row["fee"],
        net=row["net"],
        occurred_at=_aware(row["occurred_at"]),
        payment_id=row["subject_id"],
    )
    # Paid out on its own: the day's payout of its run is posted already.
    await post_lines(
        conn, [line], run_id=f"{run_id}:{line_id}", pays_out_by_line=False, now=clock.utcnow()
    )


async def get_run(conn: Conn, run_id: str) -> dict[str, Any]:
    row = await repository.get_run(conn, run_id)
    if row is None:
        raise NotFound(f"No reconciliation run {run_id}.")
    return present_run(row)


async def list_discrepancies(
    conn: Conn,
    run_id: str,
    *,
    kind: DiscrepancyKind | None,
    limit: int,
    starting_after: str | None,
) -> dict[str, Any]:
    """The discrepancies the run found (new or known before), in id order."""
    await get_run(conn, run_id)
    rows = await repository.discrepancies_of_run(
        conn,
        run_id,
        kind=None if kind is None else kind.value,
        limit=limit + 1,
        starting_after=starting_after,
    )
    return {
        "data": [present_discrepancy(r) for r in rows[:limit]],
        "has_more": len(rows) > limit,
    }


async def resolve(
    conn: Conn, discrepancy_id: str, *, resolution: Resolution, note: str | None
) -> dict[str, Any]:
    """Close an open discrepancy with who (the key) and why, audited, with its event.
    `AlreadyResolved` (409) when it was closed before; nothing changes then."""
    row = await repository.get_discrepancy(conn, discrepancy_id)
    if row is None:
        raise NotFound(f"No discrepancy {discrepancy_id}.")
    resolved = await repository.resolve(
        conn,
        discrepancy_id,
        resolution=resolution.value,
        note=note,
        resolved_by=_actor(),
        now=clock.utcnow(),
    )
    if resolved is None:
        raise AlreadyResolved(
            f"The discrepancy {discrepancy_id} was resolved already ({row['resolution']}).",
            extensions={"status": row["status"]},
        )
    body = present_discrepancy(resolved)
    if resolution is Resolution.ACCEPTED and resolved["line_id"] is not None:
        await _post_accepted(
            conn, resolved["provider"], resolved["line_id"], resolved["first_run_id"]
        )
    await record_events(conn, [Event("reconciliation.discrepancy_resolved", discrepancy_id, body)])
    await audit.record(
        conn,
        "reconciliation.resolve",
        "reconciliation_discrepancy",
        discrepancy_id,
        {"resolution": resolution.value, "note": note, "kind": body["kind"]},
    )
    return body
