"""Adyen standard webhooks: `{"live": ..., "notificationItems": [{"NotificationRequestItem":
{...}}]}`, every item signed on its own.

The signature (`additionalData.hmacSignature`) is base64 of HMAC-SHA256, keyed with the
endpoint's HMAC key read as hex, over the item's `pspReference`, `originalReference`,
`merchantAccountCode`, `merchantReference`, `amount.value`, `amount.currency`,
`eventCode` and `success`, joined by colons (an absent field as empty). One item that
fails verification rejects the whole delivery.

Adyen gives a notification no id. Ours is `<pspReference>:<eventCode>:<success>`: stable
across Adyen's redeliveries of the same item, and different for each event of a payment
(a capture or refund has its own pspReference).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from cartwright.payments.connector import (
    DisputeNotice,
    InvalidWebhook,
    OperationResult,
    OperationStatus,
    ProviderResult,
    ProviderStatus,
    WebhookEvent,
    WebhookKind,
)
from cartwright.payments.connectors.adyen.mapping import money, snake

SIGNED_FIELDS = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
    "value",
    "currency",
    "eventCode",
    "success",
)
CAPTURE_CODES = frozenset({"CAPTURE", "CAPTURE_FAILED"})
REFUND_CODES = frozenset({"REFUND", "REFUND_FAILED", "REFUNDED_REVERSED"})
# Codes whose `success` is "true" when the operation did NOT go through.
FAILURE_CODES = frozenset({"CAPTURE_FAILED", "REFUND_FAILED", "REFUNDED_REVERSED"})
DISPUTE_CODES = frozenset(
    {
        "CHARGEBACK",
        "CHARGEBACK_REVERSED",
        "NOTIFICATION_OF_CHARGEBACK",
        "SECOND_CHARGEBACK",
        "REQUEST_FOR_INFORMATION",
        "PREARBITRATION_LOST",
        "PREARBITRATION_WON",
    }
)

# The codes that move money: CHARGEBACK (the funds were deducted), CHARGEBACK_REVERSED and
# PREARBITRATION_WON (given back), PREARBITRATION_LOST (the chargeback stands). The others
# (NOTIFICATION_OF_CHARGEBACK, REQUEST_FOR_INFORMATION, SECOND_CHARGEBACK) are recorded.
DISPUTE_KINDS = {
    "CHARGEBACK": WebhookKind.DISPUTE_OPENED,
    "CHARGEBACK_REVERSED": WebhookKind.DISPUTE_WON,
    "PREARBITRATION_WON": WebhookKind.DISPUTE_WON,
    "PREARBITRATION_LOST": WebhookKind.DISPUTE_LOST,
}


def signature(item: dict[str, Any], key: bytes) -> str:
    amount = item.get("amount") or {}
    values = {**item, "value": amount.get("value"), "currency": amount.get("currency")}
    signed = ":".join("" if values.get(f) is None else str(values[f]) for f in SIGNED_FIELDS)
    return base64.b64encode(hmac.new(key, signed.encode(), hashlib.sha256).digest()).decode()


def parse(
    body: bytes, key: bytes | None, merchant_account: str, *, captured: bool
) -> list[WebhookEvent]:
    """`captured`: an AUTHORISATION means captured (the platform captures at checkout)."""
    if key is None:
        raise InvalidWebhook("no Adyen HMAC key is configured")
    try:
        items = [
            entry["NotificationRequestItem"] for entry in json.loads(body)["notificationItems"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidWebhook(f"not an Adyen notification: {exc!r}") from exc
    if not items:
        raise InvalidWebhook("an Adyen notification without items")
    for item in items:
        sent = str((item.get("additionalData") or {}).get("hmacSignature") or "")
        if not hmac.compare_digest(sent.encode(), signature(item, key).encode()):
            raise InvalidWebhook("an Adyen notification item whose HMAC signature does not match")
    try:
        return [_event(item, merchant_account, captured=captured) for item in items]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidWebhook(f"an unreadable Adyen notification item: {exc!r}") from exc


def _event(item: dict[str, Any], merchant_account: str, *, captured: bool) -> WebhookEvent:
    code = str(item["eventCode"])
    success = item.get("success") == "true"
    psp_reference = str(item["pspReference"])
    amount, currency = money(item.get("amount"))
    reason = str(item.get("reason") or code)
    other = WebhookEvent(
        event_id=f"{psp_reference}:{code}:{item.get('success')}",
        kind=WebhookKind.OTHER,
        type=code,
        occurred_at=datetime.fromisoformat(str(item["eventDate"])),
        payment_id=None,
    )
    if item.get("merchantAccountCode") != merchant_account:
        return other  # a company-level webhook also reports the company's other accounts
    payment_id = item.get("merchantReference")
    # For a modification, the payment's own pspReference.
    reference = item.get("originalReference") or psp_reference
    if code == "AUTHORISATION":
        if success:
            status = ProviderStatus.CAPTURED if captured else ProviderStatus.AUTHORIZED
            payment = ProviderResult(
                status,
                psp_reference,
                amount,
                currency,
                amount_captured=(amount or 0) if captured else 0,
            )
        else:
            payment = ProviderResult(
                ProviderStatus.DECLINED,
                psp_reference,
                amount,
                currency,
                decline_code=snake(reason),
                message=f"Adyen: {reason}",
            )
        return replace(
            other,
            kind=WebhookKind.PAYMENT,
            payment_id=payment_id,
            reference=psp_reference,
            payment=payment,
        )
    if code in ("CANCELLATION", "TECHNICAL_CANCEL") and success:
        voided = ProviderResult(ProviderStatus.VOIDED, reference, amount, currency)
        return replace(
            other,
            kind=WebhookKind.PAYMENT,
            payment_id=payment_id,
            reference=reference,
            payment=voided,
        )
    if code in CAPTURE_CODES or code in REFUND_CODES:
        done = success and code not in FAILURE_CODES
        operation = OperationResult(
            OperationStatus.SUCCEEDED if done else OperationStatus.FAILED,
            psp_reference,
            amount,
            currency,
            failure_code=None if done else snake(reason),
            message=None if done else f"Adyen: {reason}",
        )
        kind = WebhookKind.CAPTURE if code in CAPTURE_CODES else WebhookKind.REFUND
        return replace(
            other, kind=kind, payment_id=payment_id, reference=reference, operation=operation
        )
    if code in DISPUTE_CODES:
        # A dispute's own pspReference is shared by all its events; `originalReference` is
        # the disputed payment's.
        return replace(
            other,
            kind=DISPUTE_KINDS.get(code, WebhookKind.DISPUTE),
            payment_id=payment_id,
            reference=reference,
            dispute=DisputeNotice(psp_reference, amount, currency, reason),
        )
    return other
