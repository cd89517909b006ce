"""Stripe's wire format to ours and back: form-encoded requests, PaymentIntents, Refunds
and errors mapped status by status. Nothing outside this package sees a Stripe field.

Amounts are in the currency's smallest unit on both sides; Stripe writes currencies in
lower case, we in upper case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cartwright.payments.connector import (
    OperationResult,
    OperationStatus,
    ProviderResult,
    ProviderStatus,
)

# The metadata key that carries our payment id (the Search API finds payments by it), and
# the one naming our refund on a Stripe refund (echoed in refund webhooks).
PAYMENT_ID_KEY = "cartwright_payment_id"
REFUND_ID_KEY = "cartwright_refund_id"
# Marks the canceled placeholder that takes a lost authorization's idempotency key.
PLACEHOLDER_KEY = "cartwright_placeholder"

# The reasons Stripe accepts on a refund; any other reason of ours goes in metadata.
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


def form(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: nested keys as `a[b][c]`, lists as `a[0]`, booleans as
    `true`/`false`, None left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs.extend(form(value, name))
        elif isinstance(value, list):
            pairs.extend(form({str(i): item for i, item in enumerate(value)}, name))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs


def payment_result(intent: Mapping[str, Any]) -> ProviderResult:
    """A PaymentIntent as our `ProviderResult`, by its `status`; anything not listed (or
    a status Stripe adds later) is PENDING, never a guess. Our placeholder for a payment
    that never reached Stripe is NOT_FOUND: it was never a payment."""
    if is_placeholder(intent):
        return ProviderResult(ProviderStatus.NOT_FOUND)
    reference = intent.get("id")
    amount = intent.get("amount")
    currency = _currency(intent.get("currency"))
    received = int(intent.get("amount_received") or 0)
    match intent.get("status"):
        case "requires_capture":
            return ProviderResult(ProviderStatus.AUTHORIZED, reference, amount, currency)
        case "succeeded":
            return ProviderResult(
                ProviderStatus.CAPTURED, reference, amount, currency, amount_captured=received
            )
        case "canceled":
            return ProviderResult(
                ProviderStatus.VOIDED,
                reference,
                amount,
                currency,
                amount_captured=received,
                message="The payment was canceled at Stripe.",
            )
        case "requires_action":
            return ProviderResult(
                ProviderStatus.REQUIRES_ACTION,
                reference,
                amount,
                currency,
                next_action=next_action(intent),
            )
        case "requires_payment_method" if intent.get("last_payment_error"):
            # A declined attempt (or a failed 3-D Secure) sends the intent back here.
            error = intent["last_payment_error"]
            code = decline_code(error)
            return ProviderResult(
                ProviderStatus.DECLINED,
                reference,
                amount,
                currency,
                decline_code=code,
                message=error.get("message") or f"The card was declined ({code}).",
            )
        case _:
            # processing, requires_confirmation, requires_payment_method without an error.
            return ProviderResult(ProviderStatus.PENDING, reference, amount, currency)


def is_placeholder(intent: Mapping[str, Any]) -> bool:
    return (intent.get("metadata") or {}).get(PLACEHOLDER_KEY) == "true"


def next_action(intent: Mapping[str, Any]) -> dict[str, Any]:
    """What the storefront must do: follow a redirect, or hand the intent's client secret
    to Stripe.js (`handleNextAction`) for `use_stripe_sdk`."""
    action = intent.get("next_action") or {}
    kind = action.get("type")
    if kind == "redirect_to_url":
        return {"type": "redirect_to_url", "redirect_url": action["redirect_to_url"]["url"]}
    return {"type": kind or "use_stripe_sdk", "client_secret": intent.get("client_secret")}


def decline_code(error: Mapping[str, Any]) -> str:
    return str(error.get("decline_code") or error.get("code") or "card_declined")


def capture_result(intent: Mapping[str, Any]) -> OperationResult:
    """The answer to a capture is the PaymentIntent. `amount` is what Stripe holds as
    received in all (one capture: this capture's amount)."""
    currency = _currency(intent.get("currency"))
    received = intent.get("amount_received")
    match intent.get("status"):
        case "succeeded":
            return OperationResult(OperationStatus.SUCCEEDED, intent.get("id"), received, currency)
        case "requires_capture" if received:
            # A multicapture that is not final: the rest stays capturable.
            return OperationResult(OperationStatus.SUCCEEDED, intent.get("id"), received, currency)
        case "processing":
            return OperationResult(OperationStatus.PENDING, intent.get("id"), received, currency)
        case status:
            return OperationResult(
                OperationStatus.FAILED,
                intent.get("id"),
                received,
                currency,
                failure_code=f"intent_{status}",
                message=f"Stripe did not capture: the payment is {status}.",
            )


def refund_result(refund: Mapping[str, Any]) -> OperationResult:
    reference = refund.get("id")
    amount = refund.get("amount")
    currency = _currency(refund.get("currency"))
    match refund.get("status"):
        case "succeeded":
            return OperationResult(OperationStatus.SUCCEEDED, reference, amount, currency)
        case "failed" | "canceled" as status:
            code = refund.get("failure_reason") or f"refund_{status}"
            return OperationResult(
                OperationStatus.FAILED,
                reference,
                amount,
                currency,
                failure_code=code,
                message=f"Stripe did not refund ({code}).",
            )
        case _:
            # pending, requires_action: the outcome arrives as a refund webhook.
            return OperationResult(OperationStatus.PENDING, reference, amount, currency)


def operation_failed(error: Mapping[str, Any]) -> OperationResult:
    """A capture or refund Stripe refused (a 4xx that is not a technical failure)."""
    code = str(error.get("code") or error.get("type") or "invalid_request")
    return OperationResult(
        OperationStatus.FAILED, failure_code=code, message=error.get("message") or code
    )


def _currency(value: Any) -> str | None:
    return str(value).upper() if value else None


def refunded_charge(charge: Mapping[str, Any]) -> ProviderResult:
    """A charge as `charge.refunded` sends it: captured, with how much is refunded."""
    return ProviderResult(
        ProviderStatus.CAPTURED,
        charge.get("payment_intent"),
        charge.get("amount"),
        _currency(charge.get("currency")),
        amount_captured=int(charge.get("amount_captured") or 0),
        amount_refunded=int(charge.get("amount_refunded") or 0),
    )
