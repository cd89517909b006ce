"""The daily settlement report: what the sandbox pays out for one UTC day, as CSV.

One row per capture (a payment captured with its authorization counts as one capture, of
its whole amount) and per refund made that day, oldest first:

    type,id,payment,merchant_reference,idempotency_key,currency,gross,fee,net,created_at

`gross` is positive for a capture and negative for a refund, `fee` is what the sandbox
keeps (`books.capture_fee` on captures, nothing on refunds), `net = gross - fee`, all in
minor units; `created_at` is ISO 8601 in UTC. The day's payout in a currency is the sum of
its `net`.

Disputes add two types: `chargeback` on the day a dispute is opened (`id` the dispute's,
`gross` minus the amount taken back, `fee` the dispute fee, `idempotency_key` empty), and
`chargeback_reversal` on the day one is won (`id` the dispute's with `_reversal` appended, so
a dispute opened and won the same day gives two lines of distinct ids; `gross` the amount
given back, `fee` 0).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

from cartwright.kit import clock
from cartwright.kit.db import Database
from cartwright.sandbox_psp.books import capture_fee

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


async def report(db: Database, day: date) -> str:
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    async with db.connection() as conn:
        with_authorization = await conn.fetch(
            "SELECT id, merchant_reference, idempotency_key, currency, amount, captured_at"
            " FROM sandbox_payments WHERE captured_at >= $1 AND captured_at < $2",
            start,
            end,
        )
        operations = await conn.fetch(
            "SELECT o.id, o.kind, o.payment_id, p.merchant_reference, o.idempotency_key,"
            " o.currency, o.amount, o.fee, o.created_at FROM sandbox_operations o"
            " JOIN sandbox_payments p ON p.id = o.payment_id"
            " WHERE o.created_at >= $1 AND o.created_at < $2",
            start,
            end,
        )
        disputes = await conn.fetch(
            "SELECT d.id, d.payment_id, p.merchant_reference, d.currency, d.amount, d.fee,"
            " d.status, d.created_at, d.decided_at FROM sandbox_disputes d"
            " JOIN sandbox_payments p ON p.id = d.payment_id"
            " WHERE (d.created_at >= $1 AND d.created_at < $2)"
            " OR (d.status = 'won' AND d.decided_at >= $1 AND d.decided_at < $2)",
            start,
            end,
        )
    lines: list[tuple[datetime, str, tuple[object, ...]]] = []
    for d in disputes:
        who = (d["id"], d["payment_id"], d["merchant_reference"], "")
        if start <= d["created_at"] < end:
            money = (d["currency"], -d["amount"], d["fee"], -d["amount"] - d["fee"])
            lines.append((d["created_at"], d["id"], ("chargeback", *who, *money)))
        decided = d["decided_at"]
        if d["status"] == "won" and decided is not None and start <= decided < end:
            money = (d["currency"], d["amount"], 0, d["amount"])
            reversal = (f"{d['id']}_reversal", *who[1:])
            lines.append((decided, reversal[0], ("chargeback_reversal", *reversal, *money)))
    for p in with_authorization:
        fee = capture_fee(p["amount"])
        line = ("capture", p["id"], p["id"], p["merchant_reference"], p["idempotency_key"])
        money = (p["currency"], p["amount"], fee, p["amount"] - fee)
        lines.append((p["captured_at"], p["id"], (*line, *money)))
    for o in operations:
        gross = o["amount"] if o["kind"] == "capture" else -o["amount"]
        line = (o["kind"], o["id"], o["payment_id"], o["merchant_reference"], o["idempotency_key"])
        money = (o["currency"], gross, o["fee"], gross - o["fee"])
        lines.append((o["created_at"], o["id"], (*line, *money)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for at, _, values in sorted(lines, key=lambda line: line[:2]):
        writer.writerow((*values, clock.isoformat(at)))
    return out.getvalue()
