"""Matching one provider line to what we hold, and what we hold to the report.

Pure of storage of its own: it reads payments through `payments.service` and returns the
problems it finds (`Finding`), one per problem, each keyed so the same problem found again
(the same report run twice) is the same discrepancy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cartwright.kit.db import Conn
from cartwright.kit.money import apply_rate_bp
from cartwright.payments import disputes
from cartwright.payments import service as payments
from cartwright.payments.connector import OperationStatus
from cartwright.payments.service import Operation, OperationKind, Payment
from cartwright.payments.state import PaymentStatus
from cartwright.reconciliation.parsers import LineKind, ReportLine


class DiscrepancyKind(StrEnum):
    MISSING_ON_OUR_SIDE = "missing_on_our_side"  # a provider line with nothing of ours
    MISSING_AT_PROVIDER = "missing_at_provider"  # ours succeeded; the report lacks it
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    FEE_MISMATCH = "fee_mismatch"  # the fee differs from the provider's schedule
    STATUS_MISMATCH = "status_mismatch"  # the provider settled what ours says did not


@dataclass(frozen=True, slots=True)
class Finding:
    kind: DiscrepancyKind
    key: str
    detail: str
    line_id: str | None = None
    our_reference: str | None = None
    provider_reference: str | None = None
    currency: str | None = None
    expected: dict[str, Any] | None = None
    actual: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class LineMatch:
    """What a line was matched to (`subject_id`: our operation's or payment's id), and
    the problems found with it (none: it matches)."""

    subject_id: str | None
    findings: list[Finding]


FeeSchedules = dict[str, tuple[int, int]]

# The payment states in which the money of a capture made with the authorization is ours.
_CAPTURED = frozenset(
    {
        PaymentStatus.CAPTURED,
        PaymentStatus.PARTIALLY_CAPTURED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
    }
)


def expected_fee(schedules: FeeSchedules, provider: str, kind: LineKind, gross: int) -> int | None:
    """The fee `provider`'s schedule asks for the line; None when we hold no schedule."""
    schedule = schedules.get(provider)
    if schedule is None or kind not in (LineKind.CAPTURE, LineKind.REFUND):
        return None
    if kind is LineKind.REFUND:
        return 0
    percent_bp, fixed = schedule
    return apply_rate_bp(gross, percent_bp) + fixed


def _line_finding(line: ReportLine, kind: DiscrepancyKind, detail: str, **kw: Any) -> Finding:
    return Finding(
        kind=kind,
        key=f"line:{line.line_id}:{kind.value}",
        detail=detail[:500],
        line_id=line.line_id,
        our_reference=kw.pop("our_reference", line.our_reference),
        provider_reference=line.source_id,
        currency=line.currency,
        **kw,
    )


async def _subject(conn: Conn, line: ReportLine) -> tuple[Operation | None, Payment | None]:
    """Ours the line is about: an operation, or for a capture made with its authorization,
    the payment. Our ids first (a primary-key read each); the provider's ids only for a
    line that carries none of ours that we know."""
    provider = line.provider

    async def operation_at_provider(
        operation: Operation | None,
    ) -> tuple[Operation, Payment] | None:
        if operation is None:
            return None
        payment = await payments.find_payment(conn, operation.payment_id)
        if payment is None or payment.provider != provider:
            return None
        return operation, payment

    async def payment_at_provider(payment_id: str | None) -> Payment | None:
        if payment_id is None or line.kind is not LineKind.CAPTURE:
            return None
        payment = await payments.find_payment(conn, payment_id)
        return payment if payment is not None and payment.provider == provider else None

    if line.our_reference is not None:
        found = await operation_at_provider(await payments.get_operation(conn, line.our_reference))
        if found is not None:
            return found
        payment = await payment_at_provider(line.our_reference)
        if payment is not None:
            return None, payment
    if line.source_id is not None:
        by_theirs = await payments.find_operation_by_provider_reference(
            conn, provider, line.source_id
        )
        found = await operation_at_provider(by_theirs)
        if found is not None:
            return found
    payment = await payment_at_provider(line.our_payment)
    if payment is None and line.provider_payment is not None and line.kind is LineKind.CAPTURE:
        payment = await payments.find_by_provider_reference(conn, provider, line.provider_payment)
    return None, payment


async def match_line(conn: Conn, line: ReportLine, schedules: FeeSchedules) -> LineMatch:
    """Match a capture or refund line (chargebacks, fees, payouts and adjustments have
    no payment operation of ours: see `service`)."""
    operation, payment = await _subject(conn, line)
    if payment is None:
        return LineMatch(
            None,
            [
                _line_finding(
                    line,
                    DiscrepancyKind.MISSING_ON_OUR_SIDE,
                    f"The provider reports a {line.kind.value} {line.line_id} of"
                    f" {line.gross} {line.currency} that matches no payment or operation"
                    f" of ours at {line.provider}.",
                    actual={"kind": line.kind.value, "gross": line.gross, "fee": line.fee},
                )
            ],
        )
    findings: list[Finding] = []
    if operation is not None:
        subject_id = operation.id
        currency = operation.currency
        sign = -1 if operation.kind is OperationKind.REFUND else 1
        expected_gross = sign * operation.amount
        expected_kind = operation.kind.value
        status = operation.status.value
        settled = operation.status is OperationStatus.SUCCEEDED
    else:
        subject_id = payment.id
        currency = payment.currency
        others = await payments.operations_of_payment(conn, payment.id)
        expected_gross = payment.amount_captured - payments.captured_by_operations(others)
        expected_kind = LineKind.CAPTURE.value
        status = payment.status.value
        settled = payment.status in _CAPTURED and expected_gross > 0
    if line.kind.value != expected_kind or not settled:
        findings.append(
            _line_finding(
                line,
                DiscrepancyKind.STATUS_MISMATCH,
                f"The provider settled a {line.kind.value} of {subject_id}; ours is a"
                f" {expected_kind} that is {status}.",
                our_reference=subject_id,
                expected={"kind": line.kind.value, "status": "succeeded"},
                actual={"kind": expected_kind, "status": status},
            )
        )
    if line.currency != currency:
        findings.append(
            _line_finding(
                line,
                DiscrepancyKind.CURRENCY_MISMATCH,
                f"The provider settled {subject_id} in {line.currency}; ours is in {currency}.",
                our_reference=subject_id,
                expected={"currency": currency},
                actual={"currency": line.currency},
            )
        )
        return LineMatch(subject_id, findings)
    if line.gross != expected_gross:
        findings.append(
            _line_finding(
                line,
                DiscrepancyKind.AMOUNT_MISMATCH,
                f"The provider settled {line.gross} {currency} for {subject_id}; ours is"
                f" {expected_gross}.",
                our_reference=subject_id,
                expected={"gross": expected_gross},
                actual={"gross": line.gross},
            )
        )
    fee = expected_fee(schedules, line.provider, line.kind, line.gross)
    if fee is not None and fee != line.fee:
        findings.append(
            _line_finding(
                line,
                DiscrepancyKind.FEE_MISMATCH,
                f"The provider charged {line.fee} {currency} on {line.line_id}; its fee"
                f" schedule asks {fee}.",
                our_reference=subject_id,
                expected={"fee": fee},
                actual={"fee": line.fee},
            )
        )
    return LineMatch(subject_id, findings)


async def match_dispute_line(conn: Conn, line: ReportLine) -> LineMatch:
    """Match a chargeback (or its reversal) to the dispute the provider told us of by
    webhook: the ledger took the money back then (ADR 0015), so the line must name a
    dispute we hold, of the same payment, currency and amount, and a reversal one we
    won. Its subject is the dispute (the reversal's: the dispute and `:reversal`)."""
    reversal = line.kind is LineKind.CHARGEBACK_REVERSAL
    dispute = (
        None
        if line.source_id is None
        else await disputes.find_dispute(conn, line.provider, line.source_id)
    )
    if dispute is None:
        return LineMatch(
            None,
            [
                _line_finding(
                    line,
                    DiscrepancyKind.MISSING_ON_OUR_SIDE,
                    f"The provider reports a {line.kind.value} {line.line_id} of {line.gross}"
                    f" {line.currency} for a dispute we were never told of.",
                    actual={"kind": line.kind.value, "gross": line.gross, "fee": line.fee},
                )
            ],
        )
    subject_id = f"{dispute.id}:reversal" if reversal else dispute.id
    findings: list[Finding] = []
    wrong_payment = line.our_payment is not None and line.our_payment != dispute.payment_id
    if wrong_payment or (reversal and dispute.status is not disputes.DisputeStatus.WON):
        findings.append(
            _line_finding(
                line,
                DiscrepancyKind.STATUS_MISMATCH,
                f"The provider booked a {line.kind.value} of dispute {dispute.id} (payment"
                f" {line.our_payment}); ours is {dispute.status.value}, of payment"
                f" {dispute.payment_id}.",
                our_reference=dispute.id,
                expected={"status": "won" if reversal else "opened", "payment": line.our_payment},
                actual={"status": dispute.status.value, "payment": dispute.payment_id},
            )
        )
    if line.currency != dispute.currency:
        findings.append(
            _line_finding(
                line,
                DiscrepancyKind.CURRENCY_MISMATCH,
                f"The provider booked dispute {dispute.id} in {line.currency}; ours is in"
                f" {dispute.currency}.",
                our_reference=dispute.id,
                expected={"currency": dispute.currency},
                actual={"currency": line.currency},
            )
        )
        return LineMatch(subject_id, findings)
    expected_gross = dispute.amount if reversal else -dispute.amount
    if line.gross != expected_gross:
        findings.append(
            _line_finding(
                line,
                DiscrepancyKind.AMOUNT_MISMATCH,
                f"The provider booked {line.gross} {line.currency} for dispute {dispute.id};"
                f" ours is {expected_gross}.",
                our_reference=dispute.id,
                expected={"gross": expected_gross},
                actual={"gross": line.gross},
            )
        )
    return LineMatch(subject_id, findings)


def duplicate(line: ReportLine, subject_id: str, other_line: str) -> Finding:
    return _line_finding(
        line,
        DiscrepancyKind.MISSING_ON_OUR_SIDE,
        f"The provider reports {line.line_id} for {subject_id}, which its line {other_line}"
        " settled already: we hold nothing for a second one.",
        our_reference=subject_id,
        actual={"kind": line.kind.value, "gross": line.gross, "other_line": other_line},
    )


def unmatched(line: ReportLine) -> Finding:
    """A provider line of a kind we hold nothing for (an adjustment)."""
    return _line_finding(
        line,
        DiscrepancyKind.MISSING_ON_OUR_SIDE,
        f"The provider booked a {line.kind.value} {line.line_id} of {line.gross}"
        f" {line.currency} that we hold nothing for.",
        actual={"kind": line.kind.value, "gross": line.gross, "fee": line.fee},
    )


def missing_payment(payment: Payment, expected_gross: int) -> Finding:
    kind = DiscrepancyKind.MISSING_AT_PROVIDER
    return Finding(
        kind=kind,
        key=f"ours:{payment.id}:{kind.value}",
        detail=f"Our payment {payment.id} was captured with its authorization"
        f" ({expected_gross} {payment.currency}); the provider's report has no line for it.",
        our_reference=payment.id,
        provider_reference=payment.provider_reference,
        currency=payment.currency,
        expected={"kind": "capture", "gross": expected_gross},
    )


def missing_operation(operation: Operation) -> Finding:
    kind = DiscrepancyKind.MISSING_AT_PROVIDER
    sign = -1 if operation.kind is OperationKind.REFUND else 1
    return Finding(
        kind=kind,
        key=f"ours:{operation.id}:{kind.value}",
        detail=f"Our {operation.kind.value} {operation.id} of {operation.amount}"
        f" {operation.currency} succeeded; the provider's report has no line for it.",
        our_reference=operation.id,
        provider_reference=operation.provider_reference,
        currency=operation.currency,
        expected={"kind": operation.kind.value, "gross": sign * operation.amount},
    )
