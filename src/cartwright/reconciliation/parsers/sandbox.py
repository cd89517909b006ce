"""The sandbox provider's daily settlement report (`sandbox_psp/settlement.py`,
docs/sandbox-psp.md "Settlement report"):

    type,id,payment,merchant_reference,idempotency_key,currency,gross,fee,net,created_at

`merchant_reference` is our payment id and `idempotency_key` our id of the operation (our
payment id for a capture made with the authorization); amounts are minor units, `gross`
negative for a refund (and a chargeback), `created_at` ISO 8601 UTC.
"""

from __future__ import annotations

import csv
import io

from cartwright.kit import clock
from cartwright.reconciliation.parsers.base import (
    BadReport,
    LineKind,
    Report,
    ReportFormat,
    ReportLine,
    UniqueIds,
    check_net,
    currency_code,
    integer,
    rows,
    text_field,
    timestamp,
)

COLUMNS = (
    "type",
    "id",
    "payment",
    "merchant_reference",
    "idempotency_key",
    "currency",
    "gross",
    "fee",
    "net",
    "created_at",
)
KINDS = {
    "capture": LineKind.CAPTURE,
    "refund": LineKind.REFUND,
    "chargeback": LineKind.CHARGEBACK,
    "chargeback_reversal": LineKind.CHARGEBACK_REVERSAL,
}
# A reversal's line id is its dispute's id with this suffix (docs/sandbox-psp.md).
REVERSAL_SUFFIX = "_reversal"
_POSITIVE = frozenset({LineKind.CAPTURE, LineKind.CHARGEBACK_REVERSAL})


def parse_sandbox(provider: str, text: str) -> Report:
    lines = []
    ids = UniqueIds()
    for number, row in rows(text, COLUMNS):
        kind = KINDS.get(row["type"])
        if kind is None:
            raise BadReport.at(number, f"unknown type {row['type']!r}", "type")
        line_id = text_field(number, row, "id")
        assert line_id is not None
        ids.check(number, line_id)
        currency = currency_code(number, row)
        gross, fee, net = (integer(number, row, c) for c in ("gross", "fee", "net"))
        if kind in _POSITIVE and gross <= 0:
            raise BadReport.at(number, f"a {kind}'s gross must be positive", "gross")
        if kind not in _POSITIVE and gross >= 0:
            raise BadReport.at(number, f"a {kind}'s gross must be negative", "gross")
        check_net(number, gross, fee, net)
        lines.append(
            ReportLine(
                provider=provider,
                line_id=line_id,
                kind=kind,
                our_reference=text_field(number, row, "idempotency_key", required=False),
                our_payment=text_field(number, row, "merchant_reference", required=False),
                source_id=(
                    line_id.removesuffix(REVERSAL_SUFFIX)
                    if kind is LineKind.CHARGEBACK_REVERSAL
                    else line_id
                ),
                provider_payment=text_field(number, row, "payment", required=False),
                currency=currency,
                gross=gross,
                fee=fee,
                net=net,
                occurred_at=timestamp(number, row, "created_at"),
                line_number=number,
            )
        )
    return Report(ReportFormat.SANDBOX, lines)


def render(lines: list[ReportLine]) -> str:
    """The lines as the sandbox writes them (for tests and doctored copies)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow(
            (
                line.kind.value,
                line.line_id,
                line.provider_payment or "",
                line.our_payment or "",
                line.our_reference or "",
                line.currency,
                line.gross,
                line.fee,
                line.net,
                clock.isoformat(line.occurred_at),
            )
        )
    return out.getvalue()
