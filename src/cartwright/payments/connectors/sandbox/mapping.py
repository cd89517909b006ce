"""The sandbox's wire format to our `ProviderResult`, status by status."""

from __future__ import annotations

from typing import Any

from cartwright.payments.connector import ProviderResult, ProviderStatus


def to_result(body: dict[str, Any] | None) -> ProviderResult:
    if body is None:
        return ProviderResult(ProviderStatus.NOT_FOUND)
    reference = body.get("id")
    match body.get("status"):
        case "authorized":
            return ProviderResult(ProviderStatus.AUTHORIZED, reference)
        case "captured":
            return ProviderResult(
                ProviderStatus.CAPTURED, reference, amount_captured=int(body["amount_captured"])
            )
        case "declined":
            code = body.get("decline_code") or "card_declined"
            return ProviderResult(
                ProviderStatus.DECLINED,
                reference,
                decline_code=code,
                message=f"The card was declined ({code}).",
            )
        case "canceled":
            return ProviderResult(
                ProviderStatus.VOIDED,
                reference,
                message="The payment was canceled at the provider.",
            )
        case "requires_action":
            return ProviderResult(
                ProviderStatus.REQUIRES_ACTION, reference, next_action=body.get("next_action")
            )
        case _:
            return ProviderResult(ProviderStatus.PENDING, reference)
