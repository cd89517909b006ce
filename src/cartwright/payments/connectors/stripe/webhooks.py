"""Stripe webhook deliveries: the `Stripe-Signature` scheme, then the event.

The header is `t=<unix time>,v1=<hex>[,v1=<hex>...]`: each v1 is HMAC-SHA256, keyed with
the endpoint's signing secret, of `"<t>.<raw body>"`. While a secret is being rolled
Stripe signs with the old and the new one, so any v1 matching any configured secret is
accepted. A timestamp more than five minutes from our clock is refused (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cartwright.payments.connector import DisputeNotice, InvalidWebhook, WebhookEvent, WebhookKind
from cartwright.payments.connectors.stripe import mapping

TOLERANCE_S = 300


def parse(
    headers: Mapping[str, str], body: bytes, secrets: list[str], *, now: datetime
) -> WebhookEvent:
    verify(_header(headers, "stripe-signature"), body, secrets, now=now)
    try:
        event = json.loads(body)
        return _event(event)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidWebhook(f"not a Stripe event: {exc!r}") from exc


def verify(header: str | None, body: bytes, secrets: list[str], *, now: datetime) -> None:
    if not secrets:
        raise InvalidWebhook("no Stripe webhook signing secret is configured")
    if not header:
        raise InvalidWebhook("no Stripe-Signature header")
    timestamps, signatures = [], []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
        raise InvalidWebhook("a Stripe-Signature header without one t= and a v1=")
    if abs(now.timestamp() - int(timestamps[0])) > TOLERANCE_S:
        raise InvalidWebhook("the Stripe-Signature timestamp is outside the tolerance")
    signed = timestamps[0].encode() + b"." + body
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    if not any(hmac.compare_digest(e, v) for e in expected for v in signatures):
        raise InvalidWebhook("no Stripe-Signature v1 matches the body")


def _event(event: dict[str, Any]) -> WebhookEvent:
    kind_of = str(event["type"])
    obj: dict[str, Any] = event["data"]["object"]
    metadata = obj.get("metadata") or {}
    other = WebhookEvent(
        event_id=str(event["id"]),
        kind=WebhookKind.OTHER,
        type=kind_of,
        occurred_at=datetime.fromtimestamp(int(event["created"]), UTC),
        payment_id=None,
    )
    payment_id = metadata.get(mapping.PAYMENT_ID_KEY)
    if kind_of.startswith("payment_intent.") and not mapping.is_placeholder(obj):
        return replace(
            other,
            kind=WebhookKind.PAYMENT,
            payment_id=payment_id,
            reference=obj["id"],
            payment=mapping.payment_result(obj),
        )
    if kind_of == "charge.refunded":
        # The charge after a refund: how much of the payment is refunded now.
        return replace(
            other,
            kind=WebhookKind.PAYMENT,
            payment_id=payment_id,
            reference=obj.get("payment_intent"),
            payment=mapping.refunded_charge(obj),
        )
    if kind_of in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"):
        return replace(
            other,
            kind=WebhookKind.REFUND,
            payment_id=payment_id,
            reference=obj.get("payment_intent"),
            operation=mapping.refund_result(obj),
            operation_key=metadata.get(mapping.REFUND_ID_KEY),
        )
    if kind_of.startswith("charge.dispute."):
        return replace(
            other,
            kind=_dispute_kind(kind_of, obj),
            reference=obj.get("payment_intent"),
            dispute=DisputeNotice(
                reference=str(obj["id"]),
                amount=obj.get("amount"),
                currency=str(obj["currency"]).upper() if obj.get("currency") else None,
                reason=obj.get("reason"),
            ),
        )
    return other


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _dispute_kind(type_: str, dispute: dict[str, Any]) -> WebhookKind:
    """`charge.dispute.created` takes the money back (Stripe withdraws it with the dispute);
    `charge.dispute.closed` decides it (`won`, `lost`); a closed inquiry
    (`warning_closed`) and the other dispute events move nothing."""
    if type_ == "charge.dispute.created":
        # An inquiry (`warning_*`) withdraws no funds yet.
        status = str(dispute.get("status") or "")
        return WebhookKind.DISPUTE if status.startswith("warning") else WebhookKind.DISPUTE_OPENED
    if type_ == "charge.dispute.closed":
        match dispute.get("status"):
            case "won":
                return WebhookKind.DISPUTE_WON
            case "lost":
                return WebhookKind.DISPUTE_LOST
    return WebhookKind.DISPUTE
