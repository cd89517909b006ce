"""The payment state machine. Every change is a conditional UPDATE from an allowed state.

    pending ──► authorized ──► partially_captured ──► captured ──► partially_refunded ──► refunded
       │  ▲        │   │              │                  ▲   │                               ▲
       │  │        │   └──────────────┼──────────────────┘   └───────────────────────────────┘
       ▼  │        ▼                  └── void of the rest ──► captured
    unknown ─► requires_action     voided
       └──────────┴──────────► failed (declined, unreachable, abandoned)

`unknown` means the provider's answer was lost (a timeout, a crash): recovery asks the
provider by our reference, never guesses. Captured never exceeds authorized and refunded
never exceeds captured: the amount columns are guarded in the same UPDATE.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "pending"  # recorded; the provider is being asked
    REQUIRES_ACTION = "requires_action"  # the shopper must pass 3-D Secure or a redirect
    UNKNOWN = "unknown"  # the provider's answer was lost (timeout, crash)
    AUTHORIZED = "authorized"
    PARTIALLY_CAPTURED = "partially_captured"  # more may still be captured
    CAPTURED = "captured"  # capturing is over (all of it, or the rest was voided)
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"  # all that was captured went back
    VOIDED = "voided"  # the authorization was released before any capture
    FAILED = "failed"  # declined, unreachable or abandoned: nothing was charged


_AWAITED = frozenset(
    {
        PaymentStatus.REQUIRES_ACTION,
        PaymentStatus.UNKNOWN,
        PaymentStatus.AUTHORIZED,
        PaymentStatus.CAPTURED,
        PaymentStatus.FAILED,
        PaymentStatus.VOIDED,
    }
)

TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: _AWAITED,
    PaymentStatus.UNKNOWN: _AWAITED - {PaymentStatus.UNKNOWN},
    PaymentStatus.REQUIRES_ACTION: _AWAITED - {PaymentStatus.REQUIRES_ACTION},
    PaymentStatus.AUTHORIZED: frozenset(
        {PaymentStatus.PARTIALLY_CAPTURED, PaymentStatus.CAPTURED, PaymentStatus.VOIDED}
    ),
    PaymentStatus.PARTIALLY_CAPTURED: frozenset(
        {PaymentStatus.PARTIALLY_CAPTURED, PaymentStatus.CAPTURED}
    ),
    PaymentStatus.CAPTURED: frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}),
    PaymentStatus.PARTIALLY_REFUNDED: frozenset(
        {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
    ),
    PaymentStatus.REFUNDED: frozenset(),
    PaymentStatus.VOIDED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
}


def sources_of(target: PaymentStatus) -> list[str]:
    """The states a payment may move to `target` from."""
    return sorted(s.value for s, targets in TRANSITIONS.items() if target in targets)


def allows(source: PaymentStatus, target: PaymentStatus) -> bool:
    return target in TRANSITIONS[source]


# How the order shows a payment's state (the contract's `payment_status`): the same names,
# with a lost answer shown as still pending.
ORDER_PAYMENT_STATUS: dict[PaymentStatus, str] = {
    s: ("pending" if s is PaymentStatus.UNKNOWN else s.value) for s in PaymentStatus
}

# Whether the order is paid for (placed), still awaited, or never will be.
SUCCEEDED = frozenset(
    {
        PaymentStatus.AUTHORIZED,
        PaymentStatus.PARTIALLY_CAPTURED,
        PaymentStatus.CAPTURED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
    }
)
AWAITING = frozenset({PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.UNKNOWN})
FAILED = frozenset({PaymentStatus.FAILED, PaymentStatus.VOIDED})
# Capturable: the authorization still holds an amount not yet captured.
CAPTURABLE = frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.PARTIALLY_CAPTURED})
REFUNDABLE = frozenset({PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED})
