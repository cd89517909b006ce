"""The order lifecycle's steps that ask the payment provider: each is a saga of
`payment_actions`' shape (begin in one transaction, call with none open, settle in
another), with operation ids derived from what it is for, so a retry, or the worker after
a crash, resumes the same operations rather than starting new ones (ADR 0017).

- fulfilment with capture on fulfilment: the capture of the fulfilled value, keyed by the
  fulfilment (`fcap`), after the fulfilment commits;
- cancellation: void what is authorized (`cvd`), refund what is captured (`cre`), keyed by
  the order (an order is canceled once), then the order is `canceled`;
- refunds by lines, returns' refunds (`rre`, keyed by the return) and edits' refunds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog

from cartwright.kit import clock, ids
from cartwright.kit.errors import InvalidState, NotFound
from cartwright.orders import lifecycle, payment_actions, repository
from cartwright.orders import service as orders
from cartwright.orders.lifecycle import CaptureDue, LineQuantity
from cartwright.payments import service as payments
from cartwright.payments.connector import OperationStatus
from cartwright.payments.service import OperationKind
from cartwright.payments.state import CAPTURABLE, REFUNDABLE
from cartwright.platform import Platform

log = structlog.get_logger("cartwright.orders")

LEASE = timedelta(seconds=60)
BATCH = 20


def _recheck(p: Platform) -> timedelta:
    return timedelta(seconds=p.settings.payment_operation_recheck_s)


# ------------------------------------------------------------------------- fulfilments


async def fulfil(
    p: Platform,
    order_id: str,
    lines: Sequence[LineQuantity],
    *,
    tracking_number: str | None,
    carrier: str | None,
) -> tuple[int, dict[str, Any]]:
    """201 with the fulfilment; the capture it owes (capture on fulfilment) is begun after
    the fulfilment committed, and the worker begins it if this process dies first."""
    async with p.db.transaction() as conn:
        _, fulfillment, due = await lifecycle.fulfil(
            conn,
            order_id,
            lines,
            tracking_number=tracking_number,
            carrier=carrier,
            recheck=_recheck(p),
        )
    if due is not None:
        await capture_fulfillment(p, due)
    return 201, fulfillment


async def capture_fulfillment(p: Platform, due: CaptureDue) -> None:
    """Capture what a fulfilment sent (`final` on the last one: the rest is released)."""
    operation_id = ids.derived_id("fcap", due.fulfillment_id)
    now = clock.utcnow()
    try:
        async with p.db.transaction() as conn:
            payment = await payments.payment_of_order(conn, due.order_id)
            operation = await payments.get_operation(conn, operation_id)
            if operation is None:
                left = payments.remainder(payment, OperationKind.CAPTURE)
                amount = min(due.amount, left)
                if payment.status not in CAPTURABLE or amount <= 0:
                    await repository.set_capture_status(
                        conn, due.fulfillment_id, "skipped", None, now
                    )
                    return
                operation = await payments.begin_operation(
                    conn,
                    payment,
                    kind=OperationKind.CAPTURE,
                    operation_id=operation_id,
                    amount=amount,
                    final=due.final,
                    check_after=_recheck(p),
                )
            await repository.set_capture_status(conn, due.fulfillment_id, "begun", None, now)
    except InvalidState as refused:  # e.g. a capture in flight: a final one waits for it
        log.info("fulfilment capture put off", fulfillment_id=due.fulfillment_id, why=str(refused))
        return
    await payment_actions._ask_and_settle(p, operation, payment)


# ------------------------------------------------------------------------ cancellation


async def cancel(p: Platform, order_id: str) -> tuple[int, dict[str, Any]]:
    """200 with the canceled order, or 202 while the provider's answers are awaited (the
    worker finishes it)."""
    async with p.db.transaction() as conn:
        row = await lifecycle.begin_cancel(conn, order_id, recheck=_recheck(p))
    done = row["status"] == "canceled" or await advance_cancel(p, order_id)
    async with p.db.connection() as conn:
        order = await orders.get_order(conn, order_id)
    return (200 if done else 202), order


async def advance_cancel(p: Platform, order_id: str) -> bool:
    """One pass of a cancellation begun: void what is authorized and not captured, refund
    what is captured, then cancel the order. True when it is canceled now; False while an
    answer is awaited (a later pass, the worker's, goes on with the same operations)."""
    steps = (
        (OperationKind.VOID, ids.derived_id("cvd", order_id)),
        (OperationKind.REFUND, ids.derived_id("cre", order_id)),
    )
    for kind, operation_id in steps:
        async with p.db.transaction() as conn:
            payment = await payments.payment_of_order(conn, order_id)
            operation = await payments.get_operation(conn, operation_id)
            if operation is None:
                if kind is OperationKind.VOID:
                    if payment.status not in CAPTURABLE:
                        continue
                    if payment.capture_pending:  # a capture in flight: wait for its answer
                        await repository.put_off_cancel(
                            conn, order_id, clock.utcnow() + _recheck(p)
                        )
                        return False
                    left = payments.remainder(payment, kind)
                    if left <= 0:
                        continue
                else:
                    if payment.status not in REFUNDABLE:
                        continue
                    if payment.refund_pending:  # another refund in flight: wait for it
                        await repository.put_off_cancel(
                            conn, order_id, clock.utcnow() + _recheck(p)
                        )
                        return False
                    left = payments.remainder(payment, kind)
                    if left <= 0:
                        continue
                order = await lifecycle.order_row(conn, order_id)
                rest = lifecycle.unrefunded(order, await repository.lines_of(conn, [order_id]))
                operation = await payments.begin_operation(
                    conn,
                    payment,
                    kind=kind,
                    operation_id=operation_id,
                    amount=None,
                    reason="order canceled",
                    check_after=_recheck(p),
                    breakdown=(
                        rest.as_dict()
                        if kind is OperationKind.REFUND and rest.total == left
                        else None
                    ),
                )
        if operation.status is OperationStatus.PENDING:
            await payment_actions._ask_and_settle(p, operation, payment)
            async with p.db.connection() as conn:
                again = await payments.get_operation(conn, operation_id)
            assert again is not None
            operation = again
        if operation.status is OperationStatus.PENDING:
            return False
        if operation.status is OperationStatus.FAILED:
            log.error(
                "the provider refused a cancellation's operation; the order stays canceling",
                order_id=order_id,
                operation_id=operation_id,
                failure_code=operation.failure_code,
            )
            async with p.db.transaction() as conn:
                await repository.put_off_cancel(conn, order_id, clock.utcnow() + LEASE)
            return False
    async with p.db.transaction() as conn:
        await lifecycle.finish_cancel(conn, order_id)
    return True


# ----------------------------------------------------------------------------- refunds


async def refund_lines(
    p: Platform,
    order_id: str,
    lines: Sequence[LineQuantity],
    *,
    operation_id: str,
    reason: str | None,
) -> tuple[int, dict[str, Any]]:
    """Refund units of lines, the amount from the allocation: 201 with the refund."""
    async with p.db.transaction() as conn:
        operation, payment = await lifecycle.begin_line_refund(
            conn, order_id, lines, operation_id=operation_id, reason=reason, recheck=_recheck(p)
        )
    settled = await payment_actions._ask_and_settle(p, operation, payment)
    final = await payment_actions._settled(p, operation, settled)
    return 201, final.present()


async def refund_return(p: Platform, return_id: str) -> tuple[int, dict[str, Any]]:
    """Refund the units a return received (by allocation): the return is `refunded`."""
    async with p.db.connection() as conn:
        ret = lifecycle.present_return(await lifecycle.get_return(conn, return_id))
    if ret["status"] not in ("received", "refunded"):
        raise InvalidState(
            f"A return that is {ret['status']} cannot be refunded; receive it first.",
            extensions={"return_status": ret["status"]},
        )
    operation_id = ids.derived_id("rre", return_id)
    if ret["status"] == "received":
        wanted = [
            LineQuantity(r["line_id"], int(r["quantity"]))
            for r in ret["received"] or []
            if int(r["quantity"]) > 0
        ]
        if not wanted:
            raise InvalidState("Nothing was received; there is nothing to refund.")
        await refund_lines(
            p, ret["order_id"], wanted, operation_id=operation_id, reason="return " + return_id
        )
    async with p.db.transaction() as conn:
        view = await lifecycle.mark_return_refunded(conn, return_id, operation_id)
        refund = await payments.get_operation(conn, operation_id)
    return 200, {**view, "refund": refund.present() if refund else None}


# ------------------------------------------------------------------------------- edits


async def edit_line(
    p: Platform, order_id: str, line_id: str, quantity: int, *, operation_id: str
) -> tuple[int, dict[str, Any]]:
    """Lower a line (0 removes it): 200 with the order; a captured payment's difference
    is refunded (begun with the edit, sent after it commits, else by the janitor)."""
    async with p.db.transaction() as conn:
        _, refund = await lifecycle.edit_line(
            conn, order_id, line_id, quantity, operation_id=operation_id, recheck=_recheck(p)
        )
    if refund is not None:
        operation, payment = refund
        await payment_actions._ask_and_settle(p, operation, payment)
    async with p.db.connection() as conn:
        return 200, await orders.get_order(conn, order_id)


# ----------------------------------------------------------------------------- worker


async def finish_due(p: Platform) -> int:
    """The worker's pass: cancellations begun and not finished, fulfilments whose capture
    was not begun (their process died, or a capture in flight made them wait)."""
    now = clock.utcnow()
    async with p.db.transaction() as conn:
        cancels = await repository.lease_due_cancellations(
            conn, now=now, lease_until=now + LEASE, limit=BATCH
        )
        captures = await repository.lease_due_captures(
            conn, now=now, lease_until=now + _recheck(p), limit=BATCH
        )
    done = 0
    for order_id in cancels:
        try:
            done += await advance_cancel(p, order_id)
        except NotFound:
            log.error("cancellation of an order without its payment", order_id=order_id)
        except Exception:  # one bad row must not hold up the others; its lease retries
            log.exception("finishing a cancellation failed", order_id=order_id)
    for row in captures:
        due = CaptureDue(
            row["id"], row["order_id"], int(row["capture_amount"]), bool(row["capture_final"])
        )
        try:
            await capture_fulfillment(p, due)
            done += 1
        except Exception:
            log.exception("a fulfilment's capture failed", fulfillment_id=row["id"])
    return done
