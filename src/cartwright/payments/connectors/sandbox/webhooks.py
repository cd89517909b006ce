"""Verifying and reading the sandbox's webhooks.

The signature is checked on the raw body before anything is parsed: `Sandbox-Signature:
t=<unix>,v1=<hex>` where v1 is HMAC-SHA256(secret, f"{t}.{body}"); a timestamp more than
`TOLERANCE_S` from now is refused, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from cartwright.payments.connector import (
    DisputeNotice,
    InvalidWebhook,
    WebhookEvent,
    WebhookKind,
)
from cartwright.payments.connectors.sandbox.mapping import to_operation, to_result

TOLERANCE_S = 300
SIGNATURE_HEADER = "sandbox-signature"

_KINDS = {
    "payment": WebhookKind.PAYMENT,
    "capture": WebhookKind.CAPTURE,
    "refund": WebhookKind.REFUND,
}
_DISPUTE_KINDS = {
    "dispute.created": WebhookKind.DISPUTE_OPENED,
    "dispute.won": WebhookKind.DISPUTE_WON,
    "dispute.lost": WebhookKind.DISPUTE_LOST,
}


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime) -> None:
    header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
    if header is None:
        raise InvalidWebhook("no Sandbox-Signature header")
    timestamp, signatures = _parse_header(header)
    if abs(now.timestamp() - timestamp) > TOLERANCE_S:
        raise InvalidWebhook("the signature's timestamp is too far from now")
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, given) for given in signatures):
        raise InvalidWebhook("the signature does not match the body")


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp = None
    signatures = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidWebhook("the Sandbox-Signature header is malformed")
    return timestamp, signatures


def parse(secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime) -> WebhookEvent:
    verify(secret, headers, body, now=now)
    try:
        event = orjson.loads(body)
        return _event(event)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise InvalidWebhook("the body is not a sandbox event") from None


def _event(event: dict[str, Any]) -> WebhookEvent:
    type_ = str(event["type"])
    kind = _KINDS.get(type_.split(".", 1)[0], WebhookKind.OTHER)
    data = event["data"]
    obj = data["object"]
    occurred_at = datetime.fromtimestamp(int(event["created"]), UTC)
    if kind is WebhookKind.PAYMENT:
        return WebhookEvent(
            event_id=str(event["id"]),
            kind=kind,
            type=type_,
            occurred_at=occurred_at,
            payment_id=obj["merchant_reference"],
            reference=obj["id"],
            payment=to_result(obj),
        )
    if kind in (WebhookKind.CAPTURE, WebhookKind.REFUND):
        return WebhookEvent(
            event_id=str(event["id"]),
            kind=kind,
            type=type_,
            occurred_at=occurred_at,
            payment_id=obj["merchant_reference"],
            reference=obj["payment"],
            payment=to_result(data["payment"]),
            operation=to_operation(obj),
            operation_key=obj["idempotency_key"],
        )
    if type_ in _DISPUTE_KINDS:
        return WebhookEvent(
            event_id=str(event["id"]),
            kind=_DISPUTE_KINDS[type_],
            type=type_,
            occurred_at=occurred_at,
            payment_id=obj["merchant_reference"],
            reference=obj["payment"],
            dispute=DisputeNotice(
                reference=str(obj["id"]),
                amount=int(obj["amount"]),
                currency=str(obj["currency"]),
                reason=obj.get("reason"),
            ),
        )
    return WebhookEvent(
        event_id=str(event["id"]), kind=kind, type=type_, occurred_at=occurred_at, payment_id=None
    )
