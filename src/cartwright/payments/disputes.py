"""Disputes (chargebacks) of payments, as their providers report them.

A provider tells of a dispute by webhook: opened (the customer's bank took the money back),
then won (it is given back) or lost (it stays taken). Each dispute is one row of
`payment_disputes`, keyed by the provider's id of it, and moves only forward (opened → won
| lost): a redelivered notice, or one about a state we are past, changes nothing. A
decision that arrives before its opening (providers do not promise order) records the
dispute already decided; the opening that follows finds it and changes nothing.

What follows from a dispute elsewhere (the chargeback in the ledger, the order's flag, the
events) is the caller's to write in the same transaction, from the `DisputeChange`.

Evidence: submitting a defence to the provider is a hook, `DisputeEvidence`, with a no-op
default (`NoEvidence`); it is not implemented against any provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import structlog

from cartwright.events.service import Event
from cartwright.kit import clock, ids, metrics
from cartwright.kit.db import Conn, Row
from cartwright.payments import repository
from cartwright.payments.connector import DisputeNotice, WebhookKind
from cartwright.payments.service import Payment, alert_mismatch

log = structlog.get_logger("cartwright.payments.disputes")


class DisputeStatus(StrEnum):
    OPENED = "opened"  # the money was taken back; the merchant may defend it
    WON = "won"  # decided for the merchant: the money is given back
    LOST = "lost"  # decided for the customer: it stays taken


_TARGETS = {
    WebhookKind.DISPUTE_OPENED: DisputeStatus.OPENED,
    WebhookKind.DISPUTE_WON: DisputeStatus.WON,
    WebhookKind.DISPUTE_LOST: DisputeStatus.LOST,
}


@dataclass(frozen=True, slots=True)
class Dispute:
    id: str
    payment_id: str
    order_id: str
    provider: str
    provider_reference: str
    currency: str
    amount: int
    reason: str | None
    status: DisputeStatus
    created_at: datetime
    closed_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Dispute:
        return cls(
            id=row["id"],
            payment_id=row["payment_id"],
            order_id=row["order_id"],
            provider=row["provider"],
            provider_reference=row["provider_reference"],
            currency=row["currency"],
            amount=row["amount"],
            reason=row["reason"],
            status=DisputeStatus(row["status"]),
            created_at=row["created_at"],
            closed_at=row["closed_at"],
        )

    def summary(self) -> dict[str, Any]:
        """What the order shows of it."""
        return {
            "id": self.id,
            "status": self.status.value,
            "amount": {"amount": self.amount, "currency": self.currency},
            "reason": self.reason,
        }

    def present(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "payment_id": self.payment_id,
            "order_id": self.order_id,
            "provider": self.provider,
            "created_at": clock.isoformat(self.created_at),
            "closed_at": clock.isoformat(self.closed_at) if self.closed_at else None,
        }


@dataclass(frozen=True, slots=True)
class DisputeChange:
    """A dispute recorded or decided: what the caller posts and tells."""

    dispute: Dispute
    opened: bool  # first seen now: the chargeback is to be posted
    reversed: bool  # won now: the chargeback is to be reversed
    events: list[Event]


def is_dispute(kind: WebhookKind) -> bool:
    return kind in _TARGETS


async def payment_disputed(
    conn: Conn, provider: str, payment_id: str | None, reference: str | None
) -> Payment | None:
    """The payment a dispute notice is about: by our id when the provider echoes it, else
    by the provider's reference of the payment."""
    row = None
    if payment_id is not None:
        row = await repository.get(conn, payment_id)
    if row is None and reference is not None:
        row = await repository.payment_by_reference(conn, provider, reference)
    if row is None or row["provider"] != provider:
        return None
    return Payment.from_row(row)


async def record(
    conn: Conn, payment: Payment, kind: WebhookKind, notice: DisputeNotice
) -> DisputeChange | None:
    """Apply a dispute notice in the caller's transaction; None when it changes nothing
    (a redelivery, or a state we are past)."""
    target = _TARGETS[kind]
    now = clock.utcnow()
    existing = await repository.get_dispute(conn, payment.provider, notice.reference)
    if existing is None:
        amount = notice.amount
        if amount is None or amount <= 0:
            amount = payment.amount_captured - payment.amount_refunded
        if notice.currency is not None and notice.currency.upper() != payment.currency:
            alert_mismatch(
                payment.provider,
                payment.id,
                f"dispute in {notice.currency}, not {payment.currency}",
            )
        row = await repository.insert_dispute(
            conn,
            dispute_id=ids.new_id("dp"),
            payment_id=payment.id,
            order_id=payment.order_id,
            provider=payment.provider,
            reference=notice.reference,
            currency=payment.currency,
            amount=amount,
            reason=(notice.reason or "")[:200] or None,
            status=target.value,
            now=now,
        )
        if row is not None:
            dispute = Dispute.from_row(row)
            metrics.disputes.labels(payment.provider, DisputeStatus.OPENED.value).inc()
            events = [Event("payment.disputed", payment.order_id, dispute.present())]
            if target is not DisputeStatus.OPENED:
                metrics.disputes.labels(payment.provider, target.value).inc()
                events.append(Event("payment.dispute_closed", payment.order_id, dispute.present()))
            return DisputeChange(dispute, True, target is DisputeStatus.WON, events)
        existing = await repository.get_dispute(conn, payment.provider, notice.reference)
        assert existing is not None
    if target is DisputeStatus.OPENED or existing["status"] != DisputeStatus.OPENED:
        return None
    closed = await repository.close_dispute(conn, existing["id"], target.value, now)
    if closed is None:
        return None
    dispute = Dispute.from_row(closed)
    metrics.disputes.labels(payment.provider, target.value).inc()
    events = [Event("payment.dispute_closed", payment.order_id, dispute.present())]
    return DisputeChange(dispute, False, target is DisputeStatus.WON, events)


async def find_dispute(conn: Conn, provider: str, reference: str) -> Dispute | None:
    """The dispute `provider` knows by `reference` (its own id of it), if we recorded it."""
    row = await repository.get_dispute(conn, provider, reference)
    return None if row is None else Dispute.from_row(row)


async def disputes_of_order(conn: Conn, order_id: str) -> list[Dispute]:
    return [Dispute.from_row(r) for r in await repository.disputes_of_order(conn, order_id)]


class DisputeEvidence(Protocol):
    """Where a merchant's defence of a dispute goes (receipts, tracking, correspondence).
    Implementations submit it to the provider's dispute API; none does today."""

    async def submit(self, dispute: Dispute, evidence: Mapping[str, str]) -> bool:
        """Submit `evidence` for `dispute`; True when the provider took it."""
        ...


class NoEvidence:
    """The default: evidence is not submitted anywhere (logged, and False returned)."""

    async def submit(self, dispute: Dispute, evidence: Mapping[str, str]) -> bool:
        log.warning(
            "dispute evidence is not submitted to providers (no DisputeEvidence configured)",
            dispute_id=dispute.id,
            fields=sorted(evidence),
        )
        return False
