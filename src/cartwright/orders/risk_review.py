"""An order held for fraud review (ADR 0024): approved, it is captured as its payment's
capture policy says; rejected, it is canceled through the cancellation saga (the
authorization voided, the stock released, `order.canceled`).

Both are idempotent: the review moves by a guarded update from `pending`, and asking
again once it moved answers the order as it is (an approval resumes its capture, a
rejection its cancellation, under the same derived operation ids). Anything else is 409
`invalid_state`.
"""

from __future__ import annotations

from typing import Any

from cartwright.audit import service as audit
from cartwright.events import service as events
from cartwright.events.service import Event
from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Row
from cartwright.kit.errors import InvalidState
from cartwright.orders import lifecycle, lifecycle_actions, payment_actions, repository
from cartwright.orders import service as orders
from cartwright.orders.service import RISK_REVIEW_PENDING, present
from cartwright.payments import service as payments
from cartwright.payments.state import CAPTURABLE
from cartwright.platform import Platform

APPROVED = "approved"
REJECTED = "rejected"


def _not_in_review(row: Row) -> InvalidState:
    return InvalidState(
        f"Order {row['id']} is not held for fraud review"
        f" (review: {row['risk_review'] or 'none'}, status: {row['status']}).",
        extensions={"risk_review": row["risk_review"], "order_status": row["status"]},
    )


async def _move(conn: Conn, order_id: str, to_review: str, event_type: str) -> None:
    """Move the review from pending to `to_review` (nothing when it is there already)."""
    row = await lifecycle.order_row(conn, order_id)
    if row["risk_review"] == to_review:
        return
    if row["risk_review"] != RISK_REVIEW_PENDING:
        raise _not_in_review(row)
    moved = await repository.move_risk_review(
        conn, order_id, from_review=RISK_REVIEW_PENDING, to_review=to_review, now=clock.utcnow()
    )
    if moved is None:  # canceled, being canceled, or moved by another request meanwhile
        again = await lifecycle.order_row(conn, order_id)
        if again["risk_review"] == to_review:
            return
        raise _not_in_review(again)
    view = present(moved, await repository.lines_of(conn, [order_id]))
    await events.record(conn, [Event(event_type, order_id, view)])
    await audit.record(conn, event_type, "order", order_id, {"risk_review": to_review})


async def approve(p: Platform, order_id: str) -> tuple[int, dict[str, Any]]:
    """200 with the order. A payment the channel captures automatically is captured now
    (202 while the provider's answer is awaited); one captured on fulfilment stays
    authorized, and the order may now be fulfilled."""
    async with p.db.transaction() as conn:
        await _move(conn, order_id, APPROVED, "order.risk_approved")
        payment = await payments.payment_of_order(conn, order_id)
    if payment.capture_method == "automatic" and payment.status in CAPTURABLE:
        return await payment_actions.capture(
            p, order_id, operation_id=ids.derived_id("rap", order_id), amount=None, final=True
        )
    async with p.db.connection() as conn:
        return 200, await orders.get_order(conn, order_id)


async def reject(p: Platform, order_id: str) -> tuple[int, dict[str, Any]]:
    """200 with the canceled order (its authorization voided, its stock released), or 202
    while the void is awaited (the worker finishes the cancellation)."""
    async with p.db.transaction() as conn:
        await _move(conn, order_id, REJECTED, "order.risk_rejected")
    return await lifecycle_actions.cancel(p, order_id)
