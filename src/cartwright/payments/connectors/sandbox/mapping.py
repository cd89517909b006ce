"""The sandbox's wire format to our types, status by status; anything not named is
PENDING (never guessed into a success or a failure)."""

from __future__ import annotations

from typing import Any

from cartwright.payments.connector import (
    OperationResult,
    OperationStatus,
    ProviderResult,
    ProviderStatus,
)

_STATUSES = {
    "authorized": ProviderStatus.AUTHORIZED,
    "captured": ProviderStatus.CAPTURED,
    "declined": ProviderStatus.DECLINED,
    "voided": ProviderStatus.VOIDED,
    "requires_action": ProviderStatus.REQUIRES_ACTION,
}


def to_result(body: dict[str, Any] | None) -> ProviderResult:
    """A payment object (None: the sandbox has none)."""
    if body is None:
        return ProviderResult(ProviderStatus.NOT_FOUND)
    status = _STATUSES.get(body.get("status", ""), ProviderStatus.PENDING)
    message = None
    decline_code = None
    if status is ProviderStatus.DECLINED:
        decline_code = body.get("decline_code") or "card_declined"
        message = f"The card was declined ({decline_code})."
    elif status is ProviderStatus.VOIDED:
        message = "The payment was canceled at the provider."
    return ProviderResult(
        status,
        body.get("id"),
        amount=body.get("amount"),
        currency=body.get("currency"),
        amount_captured=int(body.get("amount_captured") or 0),
        amount_refunded=int(body.get("amount_refunded") or 0),
        decline_code=decline_code,
        message=message,
        next_action=body.get("next_action") if status is ProviderStatus.REQUIRES_ACTION else None,
    )


def to_operation(body: dict[str, Any]) -> OperationResult:
    """A capture or refund object."""
    status = (
        OperationStatus.SUCCEEDED if body.get("status") == "succeeded" else OperationStatus.PENDING
    )
    return OperationResult(
        status, body.get("id"), amount=body.get("amount"), currency=body.get("currency")
    )


def to_refusal(body: dict[str, Any]) -> OperationResult:
    """A capture or refund the sandbox refused (an error object): nothing moved."""
    error = body.get("error") or {}
    return OperationResult(
        OperationStatus.FAILED,
        failure_code=error.get("code") or "refused",
        message=error.get("message"),
    )
