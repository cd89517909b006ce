"""The recovery worker's side of checkout: finish what a request left unfinished.

    processing        the request died (or its answer was lost) between its commits: ask
                      the provider by our reference and finish through the same guarded
                      commit 2; a payment the provider never saw is canceled there first
    awaiting_payment  a lost answer or a 3-D Secure / redirect payment: ask again, resolve
                      when it is known, cancel it (exclusively, see `resolution`) when its
                      challenge expired or the provider has no record of it
    canceling         a cancel that could not be confirmed: send it again

Money taken but no order possible (commit 2 keeps failing after the provider charged) is
given back after `compensate_after_s`: voided or refunded, with the reason recorded and
`payment.compensated` emitted. A payment unknown past `payment_unknown_max_age_s` is
raised (`payment.overdue`, a metric and an error log) and looked at only rarely after,
rather than being asked about forever.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from cartwright.checkout import repository
from cartwright.checkout.resolution import (
    UNPLACEABLE,
    CheckoutStatus,
    Saga,
    cancel_awaited,
    fail_unplaceable,
    finish,
    finish_cancel,
    resolve,
    void_unseen,
)
from cartwright.events import service as events
from cartwright.events.service import Event
from cartwright.kit import clock, metrics, telemetry
from cartwright.kit.db import GuardFailed, Row
from cartwright.kit.errors import ProviderUnavailable
from cartwright.kit.settings import Settings
from cartwright.orders import payment_actions
from cartwright.payments import service as payments
from cartwright.payments.connector import ProviderResult, ProviderStatus
from cartwright.platform import Platform

log = structlog.get_logger("cartwright.checkout")

RECOVERY_BATCH = 20
LEASE = timedelta(seconds=60)


async def recover_due(p: Platform) -> int:
    """One pass of the recovery worker. Returns how many checkouts it moved on."""
    now = clock.utcnow()
    async with p.db.transaction() as conn:
        due = await repository.lease_due(
            conn, now=now, lease_until=now + LEASE, limit=RECOVERY_BATCH
        )
    moved = 0
    for row in due:
        # A trace of its own per checkout, linked to the trace of the request that began it.
        with telemetry.span(
            "checkout.recover",
            {"checkout.id": row["id"], "checkout.status": row["status"]},
            link=row["trace_context"],
        ):
            try:
                moved += await _recover_one(p, row)
            except ProviderUnavailable:
                metrics.recoveries.labels("provider_unavailable").inc()  # the lease retries
            except Exception:  # one bad row must not hold up the others; its lease retries
                metrics.recoveries.labels("error").inc()
                log.exception("payment recovery failed", checkout_id=row["id"])
    return moved


def _next_look_at(settings: Settings, row: Row, result: ProviderResult) -> datetime:
    """When to ask again about a payment still awaited: a 3-D Secure challenge at its
    expiry (a fixed deadline from the checkout, not pushed back by each look), anything
    else after the recovery delay."""
    now = clock.utcnow()
    if result.status is ProviderStatus.REQUIRES_ACTION:
        deadline: datetime = row["created_at"] + timedelta(
            seconds=settings.requires_action_expiry_s
        )
        if deadline > now:
            return deadline
    return now + timedelta(seconds=settings.payment_recovery_after_s)


def _age(row: Row) -> timedelta:
    created: datetime = row["created_at"]
    return clock.utcnow() - created


async def _recover_one(p: Platform, row: Row) -> int:
    settings = p.settings
    async with p.db.connection() as conn:
        payment = await payments.get_payment(conn, row["payment_id"])
    saga = Saga.from_row(row, payment)
    if row["status"] == CheckoutStatus.CANCELING:
        return await finish_cancel(p, saga)
    result = await p.gateway.retrieve(payment.provider, payment.id)
    if row["status"] == CheckoutStatus.PROCESSING:
        return await _finish_processing(p, row, saga, result)
    # A payment still needing the shopper after the expiry is canceled, whether it asked
    # for 3-D Secure at checkout or only turned out to once its lost answer was found; so
    # is one the provider never saw (its request died, or its answer was lost).
    expired = _age(row) >= timedelta(seconds=settings.requires_action_expiry_s)
    if result.status is ProviderStatus.NOT_FOUND or (
        expired and result.status is ProviderStatus.REQUIRES_ACTION
    ):
        return await cancel_awaited(p, saga)
    try:
        async with p.db.transaction() as conn:
            resolved = await resolve(conn, saga, result)
    except GuardFailed:
        return 0
    if resolved is None:
        await _still_awaited(p, row, saga, result)
        return 0
    metrics.recoveries.labels(f"resolved_{resolved['payment_status']}").inc()
    return 1


async def _finish_processing(p: Platform, row: Row, saga: Saga, result: ProviderResult) -> int:
    if result.status is ProviderStatus.NOT_FOUND:
        # Cancel the key there first, so a request still on its way cannot charge later;
        # then nothing was charged.
        result = await void_unseen(p, saga.payment)
    try:
        finished = await finish(p, saga, result)
    except Exception:
        if _age(row) < timedelta(seconds=p.settings.compensate_after_s):
            raise  # the lease retries; it may be a passing failure
        if result.status not in (ProviderStatus.AUTHORIZED, ProviderStatus.CAPTURED):
            raise
        await _compensate(p, saga, result)
        return 1
    if finished is None:
        return 0
    metrics.recoveries.labels(f"finished_{finished.status}").inc()
    return 1


async def _compensate(p: Platform, saga: Saga, result: ProviderResult) -> None:
    """The provider took the money and no order can be written for it: give it back
    (void what is authorized, refund what is captured), fail the checkout, say why."""
    payment = await fail_unplaceable(p, saga, result)
    if payment is None:
        return
    action = await payment_actions.give_back(p, payment, reason=UNPLACEABLE)
    metrics.payments_compensated.labels(action).inc()
    log.error(
        "no order could be placed for a payment the provider took; it is being given back",
        checkout_id=saga.checkout_id,
        payment_id=saga.payment.id,
        action=action,
    )


async def _still_awaited(p: Platform, row: Row, saga: Saga, result: ProviderResult) -> None:
    settings = p.settings
    next_look = _next_look_at(settings, row, result)
    max_age = timedelta(seconds=settings.payment_unknown_max_age_s)
    if result.status is ProviderStatus.PENDING and _age(row) >= max_age:
        # Raised for a person to look at, then asked about only once per maximum age.
        metrics.payments_overdue.inc()
        log.error(
            "a payment is still unknown past its maximum age",
            payment_id=saga.payment.id,
            order_id=saga.order.order_id,
            age_s=int(_age(row).total_seconds()),
        )
        next_look = clock.utcnow() + max_age
        overdue = Event("payment.overdue", saga.order.order_id, saga.payment.present())
    else:
        overdue = None
    async with p.db.transaction() as conn:
        await repository.reschedule(conn, saga.checkout_id, next_look)
        if overdue is not None:
            await events.record(conn, [overdue])
