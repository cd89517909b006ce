"""Provider webhooks: what a payment provider tells us on its own.

A delivery is verified by the provider's connector (signature, timestamp, format) before
anything is read from it; one that fails is refused (400), logged and changes nothing.
Each event is then applied at most once, by the provider's event id, and only ever moves
a payment forward, through the same guarded transitions as every other path:

    payment  an awaited payment resolved (a redirect method completes only this way): the
             checkout's `resolution`, exactly as a confirm would
    capture  a capture or refund the provider answered later: `payment_actions.settle`,
    refund   exactly as the request or the janitor would
    dispute  opened, won or lost (`payments.disputes`): recorded once per provider
             dispute, the chargeback (or its reversal) posted to the ledger, the order
             flagged, `payment.disputed` / `payment.dispute_closed` told; a dispute notice
             that moves no money (an inquiry) is recorded only

Events about a state we are past (they arrive in any order) find their guard failed and
change nothing. The event id is recorded after the effect: a crash between the two makes
the redelivery run the effect again, and its guard then finds it done.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import assert_never

import structlog

from cartwright.checkout.resolution import apply_provider_result
from cartwright.events import service as events
from cartwright.kit import clock, metrics
from cartwright.kit.errors import NotFound
from cartwright.ledger import service as ledger
from cartwright.orders import payment_actions
from cartwright.orders import service as orders
from cartwright.payments import disputes
from cartwright.payments import service as payments
from cartwright.payments.connector import InvalidWebhook, WebhookEvent, WebhookKind
from cartwright.payments.errors import WebhookRejected
from cartwright.payments.state import AWAITING
from cartwright.platform import Platform

log = structlog.get_logger("cartwright.payments.webhooks")


async def receive(p: Platform, provider: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """Verify and apply one delivery; the body to answer it with."""
    if not p.gateway.has(provider):
        raise NotFound(f"No payment provider {provider} is enabled.")
    connector = p.gateway.connector(provider)
    try:
        received = connector.parse_webhook(headers, body, now=clock.utcnow())
    except InvalidWebhook as exc:
        metrics.psp_webhooks.labels(provider, "invalid").inc()
        log.warning("provider webhook refused", provider=provider, reason=str(exc))
        raise WebhookRejected(f"The webhook could not be verified: {exc}.") from None
    for event in received:
        outcome = await _apply_once(p, provider, event)
        metrics.psp_webhooks.labels(provider, outcome).inc()
    return connector.webhook_ack


async def _apply_once(p: Platform, provider: str, event: WebhookEvent) -> str:
    async with p.db.connection() as conn:
        seen = await payments.webhook_seen(conn, provider, event.event_id)
    if seen:
        return "duplicate"
    outcome = await _apply(p, provider, event)
    async with p.db.transaction() as conn:
        await payments.record_webhook(conn, provider, event, outcome)
    return outcome


async def _apply(p: Platform, provider: str, event: WebhookEvent) -> str:
    match event.kind:
        case WebhookKind.PAYMENT:
            return await _payment(p, event)
        case WebhookKind.CAPTURE | WebhookKind.REFUND:
            return await _operation(p, event)
        case WebhookKind.DISPUTE_OPENED | WebhookKind.DISPUTE_WON | WebhookKind.DISPUTE_LOST:
            return await _dispute(p, provider, event)
        case WebhookKind.DISPUTE | WebhookKind.OTHER:
            return "recorded"
    assert_never(event.kind)


async def _dispute(p: Platform, provider: str, event: WebhookEvent) -> str:
    """A chargeback opened or decided: the dispute recorded (once), the chargeback or its
    reversal posted, the order flagged and the event told, in one transaction."""
    if event.dispute is None:
        return "ignored"
    async with p.db.connection() as conn:
        payment = await disputes.payment_disputed(conn, provider, event.payment_id, event.reference)
    if payment is None:
        return "unknown_payment"
    async with p.db.transaction() as conn:
        change = await disputes.record(conn, payment, event.kind, event.dispute)
        if change is None:
            return "already_done"
        dispute = change.dispute
        builders = [
            builder
            for builder, due in (
                (ledger.chargeback_entry, change.opened),
                (ledger.chargeback_reversal_entry, change.reversed),
            )
            if due
        ]
        entries = [
            build(
                dispute_id=dispute.id,
                order_id=dispute.order_id,
                payment_id=payment.id,
                provider=payment.provider,
                currency=dispute.currency,
                amount=dispute.amount,
            )
            for build in builders
        ]
        await ledger.post(conn, entries)
        await orders.record_dispute(conn, dispute.order_id, dispute.summary())
        await events.record(conn, change.events)
    return "applied"


async def _payment(p: Platform, event: WebhookEvent) -> str:
    if event.payment_id is None or event.payment is None:
        return "ignored"
    async with p.db.connection() as conn:
        try:
            payment = await payments.get_payment(conn, event.payment_id)
        except NotFound:
            return "unknown_payment"
    if payment.status not in AWAITING:
        return "not_awaited"  # we are past what it says: only ever forward
    return await apply_provider_result(p, payment, event.payment)


async def _operation(p: Platform, event: WebhookEvent) -> str:
    if event.operation_key is None or event.operation is None:
        return "ignored"
    async with p.db.connection() as conn:
        operation = await payments.get_operation(conn, event.operation_key)
    if operation is None:
        return "unknown_operation"
    async with p.db.transaction() as conn:
        settled = await payment_actions.settle(
            conn,
            operation,
            event.operation,
            retry_after=timedelta(seconds=p.settings.payment_operation_recheck_s),
        )
    return "applied" if settled is not None else "already_done"
