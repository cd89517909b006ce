"""Payments made straight through `payments.service` (no provider), and report lines about
them, for matching tests on each database."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cartwright.kit import clock, ids
from cartwright.kit.db import Database
from cartwright.payments import service as payments
from cartwright.payments.connector import (
    OperationResult,
    OperationStatus,
    ProviderResult,
    ProviderStatus,
)
from cartwright.payments.service import Operation, OperationKind, Payment
from cartwright.reconciliation import service
from cartwright.reconciliation.parsers import LineKind, Report, ReportFormat, ReportLine
from cartwright.sandbox_psp.books import capture_fee

CHECK = timedelta(seconds=30)


def new_provider() -> str:
    """A provider name of the test's own: the session's database is shared."""
    return "sbx_" + uuid.uuid4().hex[:12]


def run_settings(provider: str) -> service.Settings:
    return service.Settings(fee_schedules={provider: (140, 25)}, grace=timedelta(0))


async def paid(
    db: Database, provider: str, amount: int, *, captured: bool = True, currency: str = "EUR"
) -> Payment:
    payment, insert = payments.new_payment(
        payment_id=ids.new_id("pay"),
        order_id=ids.new_id("ord"),
        provider=provider,
        amount=amount,
        currency=currency,
        capture_method="automatic" if captured else "manual",
    )
    status = ProviderStatus.CAPTURED if captured else ProviderStatus.AUTHORIZED
    reference = "psp_" + uuid.uuid4().hex[:10]
    change = payments.plan_result(
        payment, ProviderResult(status, reference, amount, currency, amount if captured else 0)
    )
    async with db.transaction() as conn:
        await conn.batch([insert])
        await conn.batch([change.statement])
        return await payments.get_payment(conn, payment.id)


async def operation(
    db: Database,
    payment: Payment,
    kind: OperationKind,
    amount: int,
    *,
    outcome: OperationStatus = OperationStatus.SUCCEEDED,
) -> Operation:
    async with db.transaction() as conn:
        payment = await payments.get_payment(conn, payment.id)
        begun = await payments.begin_operation(
            conn,
            payment,
            kind=kind,
            operation_id=ids.new_id(kind.value[:3]),
            amount=amount,
            check_after=CHECK,
        )
    if outcome is OperationStatus.PENDING:
        return begun
    async with db.transaction() as conn:
        result = OperationResult(outcome, "op_" + uuid.uuid4().hex[:10], amount, payment.currency)
        settled = await payments.settle_operation(conn, begun, result, retry_after=CHECK)
        assert settled is not None
        return settled.operation


def fee(gross: int) -> int:
    return capture_fee(gross) if gross > 0 else 0


def capture_line(payment: Payment, **changes: object) -> ReportLine:
    """The provider's line of a payment captured with its authorization."""
    line = ReportLine(
        provider=payment.provider,
        line_id=payment.provider_reference or "",
        kind=LineKind.CAPTURE,
        our_reference=payment.id,
        our_payment=payment.id,
        source_id=payment.provider_reference,
        provider_payment=payment.provider_reference,
        currency=payment.currency,
        gross=payment.amount,
        fee=fee(payment.amount),
        net=payment.amount - fee(payment.amount),
        occurred_at=clock.utcnow(),
        line_number=0,
    )
    return _changed(line, changes)


def operation_line(payment: Payment, op: Operation, **changes: object) -> ReportLine:
    gross = -op.amount if op.kind is OperationKind.REFUND else op.amount
    line = ReportLine(
        provider=payment.provider,
        line_id=op.provider_reference or "line_" + uuid.uuid4().hex[:10],
        kind=LineKind.REFUND if op.kind is OperationKind.REFUND else LineKind.CAPTURE,
        our_reference=op.id,
        our_payment=payment.id,
        source_id=op.provider_reference,
        provider_payment=payment.provider_reference,
        currency=op.currency,
        gross=gross,
        fee=fee(gross),
        net=gross - fee(gross),
        occurred_at=clock.utcnow(),
        line_number=0,
    )
    return _changed(line, changes)


def _changed(line: ReportLine, changes: dict[str, object]) -> ReportLine:
    line = replace(line, **changes)  # type: ignore[arg-type]
    if "net" not in changes:
        line = replace(line, net=line.gross - line.fee)
    return line


def report(*lines: ReportLine) -> Report:
    return Report(ReportFormat.SANDBOX, [replace(x, line_number=n) for n, x in enumerate(lines, 2)])


async def reconcile(
    db: Database, provider: str, rep: Report, *, day: datetime | None = None
) -> dict[str, object]:
    async with db.transaction() as conn:
        return await service.reconcile(
            conn,
            provider=provider,
            report=rep,
            raw=repr(rep).encode(),
            settings=run_settings(provider),
            day=None if day is None else day.astimezone(UTC).date(),
        )


async def discrepancies(db: Database, run_id: str) -> list[dict[str, object]]:
    async with db.connection() as conn:
        page = await service.list_discrepancies(
            conn, run_id, kind=None, limit=100, starting_after=None
        )
    return page["data"]  # type: ignore[no-any-return]
