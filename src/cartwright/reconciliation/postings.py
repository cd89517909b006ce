"""What a reconciled report puts in the ledger: the provider's fees and its payouts.

Only lines that matched, or whose discrepancy was resolved `accepted`, are posted, and each
line once: `repository.mark_posted` claims it (a guarded update) in the transaction that
posts it, and every entry's source names the line, so the ledger too refuses a second copy.

- A line's fee: Dr provider_fees / Cr provider_clearing (source `recon:<provider>:<line>`);
  a fee line of its own (Stripe's account fees) posts what it took, `-net`.
- Payouts: a report that carries its payouts (Stripe's `payout` lines) posts each, Dr bank /
  Cr provider_clearing (source `recon:<provider>:<line>`). A report without (the sandbox's:
  the day's payout is the sum of its `net`) posts, per currency and day, the net of the
  lines it posted: `recon:<provider>:payout:<day>:<currency>:<run>` (a day whose refunds
  exceed its captures takes money back from the bank: the same entry, reversed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from cartwright.kit.db import Conn
from cartwright.ledger import service as ledger
from cartwright.ledger.service import Account, Entry, EntryKind, cr, dr
from cartwright.reconciliation import repository
from cartwright.reconciliation.parsers import LineKind


@dataclass(frozen=True, slots=True)
class Posted:
    """A line as it goes to the ledger."""

    provider: str
    line_id: str
    kind: LineKind
    currency: str
    gross: int
    fee: int
    net: int
    occurred_at: datetime
    payment_id: str | None = None


def _fee(line: Posted) -> int:
    return -line.net if line.kind is LineKind.FEE else line.fee


def _line_entries(line: Posted) -> list[Entry]:
    source = f"recon:{line.provider}:{line.line_id}"
    entries = []
    fee = _fee(line)
    if fee > 0:
        entries.append(
            ledger.fee_entry(
                source=source,
                provider=line.provider,
                currency=line.currency,
                amount=fee,
                payment_id=line.payment_id,
                memo=f"{line.kind.value} {line.line_id}",
            )
        )
    elif fee < 0:  # a fee given back
        entries.append(
            Entry(
                EntryKind.FEE,
                source,
                line.currency,
                (
                    dr(Account.PROVIDER_CLEARING, -fee, line.provider),
                    cr(Account.PROVIDER_FEES, -fee),
                ),
                payment_id=line.payment_id,
                memo=f"{line.kind.value} {line.line_id}: fee returned",
            )
        )
    if line.kind is LineKind.PAYOUT:
        entries.append(_payout(f"{source}:payout", line.provider, line.currency, -line.gross))
    return entries


def _payout(source: str, provider: str, currency: str, amount: int) -> Entry:
    if amount >= 0:
        return ledger.payout_entry(
            source=source, provider=provider, currency=currency, amount=amount
        )
    return Entry(
        EntryKind.PAYOUT,
        source,
        currency,
        (dr(Account.PROVIDER_CLEARING, -amount, provider), cr(Account.BANK, -amount)),
        memo="the provider took back from the bank",
    )


async def post_lines(
    conn: Conn, lines: list[Posted], *, run_id: str, pays_out_by_line: bool, now: datetime
) -> int:
    """Post the lines not posted before (each claimed first); returns how many were."""
    entries: list[Entry] = []
    daily: dict[tuple[date, str], int] = defaultdict(int)
    posted = 0
    for line in lines:
        if not await repository.mark_posted(conn, line.provider, line.line_id, now):
            continue
        posted += 1
        entries += _line_entries(line)
        if not pays_out_by_line and line.kind is not LineKind.PAYOUT:
            daily[(line.occurred_at.date(), line.currency)] += line.net
    for (day, currency), net in sorted(daily.items()):
        if net and lines:
            provider = lines[0].provider
            source = f"recon:{provider}:payout:{day.isoformat()}:{currency}:{run_id}"
            entries.append(_payout(source, provider, currency, net))
    await ledger.post(conn, entries)
    return posted
