"""Adyen's Checkout API (v71) wire format to ours: `resultCode` by `resultCode`,
modifications, errors. Nothing outside this package sees an Adyen field.

Amounts are `{"value": minor units, "currency": ISO 4217}` on both sides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cartwright.payments.connector import (
    OperationResult,
    OperationStatus,
    ProviderResult,
    ProviderStatus,
)

# Result codes that ask the shopper for something (a redirect, a 3-D Secure 2 challenge
# or device fingerprint, a voucher or QR code to present).
ACTION_CODES = frozenset(
    {"RedirectShopper", "ChallengeShopper", "IdentifyShopper", "PresentToShopper"}
)


def payment_result(
    body: Mapping[str, Any], *, captured: bool, requested: int | None = None
) -> ProviderResult:
    """A `/payments` or `/payments/details` answer. `captured`: the payment is captured
    on authorisation (`captureDelayHours` 0), so Authorised means captured, of the amount
    Adyen states or else of `requested` (Authorised, not partially: all of it). Codes not
    listed (authentication-only flows, codes Adyen adds later) are PENDING."""
    reference = body.get("pspReference")
    amount, currency = money(body.get("amount"))
    match body.get("resultCode"):
        case "Authorised" | "PartiallyAuthorised" as code:
            # A partial authorisation shows as a smaller `amount`: the core compares.
            if not captured:
                return ProviderResult(ProviderStatus.AUTHORIZED, reference, amount, currency)
            held = amount if amount is not None else requested if code == "Authorised" else None
            if held is None:
                # Captured, of an amount nobody said: never recorded as 0 captured.
                return ProviderResult(
                    ProviderStatus.PENDING,
                    reference,
                    message="Adyen did not state the amount; the AUTHORISATION webhook will",
                )
            return ProviderResult(
                ProviderStatus.CAPTURED, reference, amount, currency, amount_captured=held
            )
        case "Refused" | "Error" as code:
            # Both final: nothing was charged. `Error` is a processing error at Adyen or
            # the issuer; the reason says which.
            reason = str(body.get("refusalReason") or code)
            return ProviderResult(
                ProviderStatus.DECLINED,
                reference,
                amount,
                currency,
                decline_code=snake(reason),
                message=f"Adyen: {reason}",
            )
        case "Cancelled":
            return ProviderResult(
                ProviderStatus.VOIDED,
                reference,
                amount,
                currency,
                message="The payment was cancelled at Adyen.",
            )
        case code if code in ACTION_CODES:
            return ProviderResult(
                ProviderStatus.REQUIRES_ACTION,
                reference,
                amount,
                currency,
                next_action=next_action(body.get("action") or {}),
            )
        case _:
            # Pending, Received: the outcome arrives as an AUTHORISATION webhook.
            return ProviderResult(ProviderStatus.PENDING, reference, amount, currency)


def next_action(action: Mapping[str, Any]) -> dict[str, Any]:
    """The `action` object for Adyen's Drop-in or Components (`handleAction`), and the
    URL for a plain redirect when there is one."""
    shown: dict[str, Any] = {"type": action.get("type") or "unknown", "action": dict(action)}
    if action.get("url"):
        shown["redirect_url"] = action["url"]
    return shown


def modification_result(body: Mapping[str, Any]) -> OperationResult:
    """A capture or refund answer: `received` means accepted, its outcome to come as a
    CAPTURE / CAPTURE_FAILED or REFUND / REFUND_FAILED webhook."""
    amount, currency = money(body.get("amount"))
    reference = body.get("pspReference")
    if body.get("status") == "received":
        return OperationResult(OperationStatus.PENDING, reference, amount, currency)
    return OperationResult(
        OperationStatus.FAILED,
        reference,
        amount,
        currency,
        failure_code="unexpected_status",
        message=f"Adyen answered status {body.get('status')!r}",
    )


def cancel_result(body: Mapping[str, Any]) -> ProviderResult:
    """A cancel is accepted (`received`), not done: the CANCELLATION or TECHNICAL_CANCEL
    webhook says it happened, so the payment is PENDING until then."""
    return ProviderResult(
        ProviderStatus.PENDING,
        body.get("paymentPspReference"),
        message="Adyen received the cancellation; the outcome arrives by webhook",
    )


def refused_operation(error: Mapping[str, Any]) -> OperationResult:
    """A capture or refund Adyen refused outright (a 4xx with its error code)."""
    code = f"adyen_{error.get('errorCode') or 'error'}"
    return OperationResult(
        OperationStatus.FAILED, failure_code=code, message=str(error.get("message") or code)
    )


def refused_payment(error: Mapping[str, Any]) -> ProviderResult:
    """A payment Adyen refused as invalid (a 4xx: an unreadable payment method, a
    currency the account cannot take): nothing was charged."""
    code = f"adyen_{error.get('errorCode') or 'error'}"
    return ProviderResult(
        ProviderStatus.DECLINED,
        error.get("pspReference"),
        decline_code=code,
        message=str(error.get("message") or code),
    )


def money(amount: Any) -> tuple[int | None, str | None]:
    if not isinstance(amount, Mapping) or "value" not in amount:
        return None, None
    return int(amount["value"]), str(amount.get("currency") or "") or None


def snake(reason: str) -> str:
    """`Not enough balance` as `not_enough_balance`: a decline code a client can branch on."""
    return re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_") or "refused"
