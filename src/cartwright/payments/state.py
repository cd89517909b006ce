"""The payment state machine. Every change is a conditional UPDATE from an allowed state."""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    PROCESSING = "processing"  # the provider is being asked
    REQUIRES_ACTION = "requires_action"  # the shopper must pass 3-D Secure
    UNKNOWN = "unknown"  # the provider's answer was lost (timeout, crash)
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    DECLINED = "declined"
    FAILED = "failed"  # the provider could not be reached; nothing was charged
    CANCELED = "canceled"  # abandoned 3-D Secure, or voided


TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PROCESSING: frozenset(
        {
            PaymentStatus.REQUIRES_ACTION,
            PaymentStatus.UNKNOWN,
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
            PaymentStatus.DECLINED,
            PaymentStatus.FAILED,
        }
    ),
    PaymentStatus.UNKNOWN: frozenset(
        {
            PaymentStatus.CANCELED,
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
            PaymentStatus.DECLINED,
            PaymentStatus.FAILED,
            PaymentStatus.REQUIRES_ACTION,
        }
    ),
    PaymentStatus.REQUIRES_ACTION: frozenset(
        {
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
            PaymentStatus.DECLINED,
            PaymentStatus.CANCELED,
        }
    ),
    PaymentStatus.AUTHORIZED: frozenset({PaymentStatus.CAPTURED, PaymentStatus.CANCELED}),
    PaymentStatus.CAPTURED: frozenset(),
    PaymentStatus.DECLINED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELED: frozenset(),
}


def sources_of(target: PaymentStatus) -> list[str]:
    """The states a payment may move to `target` from."""
    return sorted(s.value for s, targets in TRANSITIONS.items() if target in targets)


# How the order shows a payment's state (the contract's `payment_status`).
ORDER_PAYMENT_STATUS: dict[PaymentStatus, str] = {
    PaymentStatus.PROCESSING: "pending",
    PaymentStatus.UNKNOWN: "pending",
    PaymentStatus.REQUIRES_ACTION: "requires_action",
    PaymentStatus.AUTHORIZED: "authorized",
    PaymentStatus.CAPTURED: "captured",
    PaymentStatus.DECLINED: "failed",
    PaymentStatus.FAILED: "failed",
    PaymentStatus.CANCELED: "voided",
}

SUCCEEDED = frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED})
AWAITING = frozenset({PaymentStatus.REQUIRES_ACTION, PaymentStatus.UNKNOWN})
FAILED = frozenset({PaymentStatus.DECLINED, PaymentStatus.FAILED, PaymentStatus.CANCELED})
