"""The order's state machine: its three statuses and which actions each allows.

    status              open ──► completed            (fully fulfilled and paid for)
                          └────► canceled             (nothing fulfilled; money given back)
    fulfillment_status  unfulfilled ──► partially_fulfilled ──► fulfilled
    payment_status      the payment's (`payments.state`), as the order shows it

Every route that changes an order asks `require(action, order)` first; whatever the table
below does not allow is 409 `invalid_state` with the order's current statuses in the
problem. The writes that follow are still guarded (a concurrent change is caught there).
An order whose cancellation has begun (`canceling`) allows nothing but finishing it; one
held for fraud review (`risk_review` pending) is neither fulfilled nor captured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cartwright.kit.errors import InvalidState


class OrderStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELED = "canceled"


class FulfillmentStatus(StrEnum):
    UNFULFILLED = "unfulfilled"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"


class OrderPaymentStatus(StrEnum):
    """The payment's state as the order shows it (`payments.state.ORDER_PAYMENT_STATUS`;
    tests/orders/test_state.py checks they are the same names)."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    PARTIALLY_CAPTURED = "partially_captured"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    FAILED = "failed"


class Action(StrEnum):
    FULFIL = "fulfil"
    CANCEL = "cancel"
    EDIT = "edit"
    RETURN = "return"
    REFUND = "refund"
    CAPTURE = "capture"


@dataclass(frozen=True, slots=True)
class Allowed:
    status: frozenset[str]
    fulfillment: frozenset[str]
    payment: frozenset[str]


_F = FulfillmentStatus
_ANY_FULFILMENT = frozenset(_F)
_PAID = frozenset({"authorized", "partially_captured", "captured", "partially_refunded"})
_CAPTURED = frozenset({"captured", "partially_refunded"})

TRANSITIONS: dict[Action, Allowed] = {
    Action.FULFIL: Allowed(
        frozenset({OrderStatus.OPEN}),
        frozenset({_F.UNFULFILLED, _F.PARTIALLY_FULFILLED}),
        _PAID,
    ),
    Action.CANCEL: Allowed(
        frozenset({OrderStatus.OPEN}), frozenset({_F.UNFULFILLED}), _PAID | {"refunded"}
    ),
    # Lowering a line before anything ships: the payment is authorized (the usable amount
    # is lowered) or captured in full and not refunded yet (the difference is refunded).
    Action.EDIT: Allowed(
        frozenset({OrderStatus.OPEN}),
        frozenset({_F.UNFULFILLED}),
        frozenset({"authorized", "captured"}),
    ),
    Action.RETURN: Allowed(
        frozenset({OrderStatus.OPEN, OrderStatus.COMPLETED}),
        frozenset({_F.PARTIALLY_FULFILLED, _F.FULFILLED}),
        _CAPTURED,
    ),
    Action.REFUND: Allowed(
        frozenset({OrderStatus.OPEN, OrderStatus.COMPLETED}), _ANY_FULFILMENT, _CAPTURED
    ),
    Action.CAPTURE: Allowed(
        frozenset({OrderStatus.OPEN}),
        _ANY_FULFILMENT,
        frozenset({"authorized", "partially_captured"}),
    ),
}

# Paid for, as `completed` requires (with every unit fulfilled).
COMPLETES = frozenset({"captured", "partially_refunded", "refunded"})


def statuses(order: Mapping[str, Any]) -> dict[str, Any]:
    """The problem's members (`order_status`: a problem's own `status` is the HTTP one)."""
    return {
        "order_status": order["status"],
        "fulfillment_status": order["fulfillment_status"],
        "payment_status": order["payment_status"],
        "canceling": bool(order.get("canceling")),
    }


# An order held for fraud review (ADR 0024) is neither shipped nor captured until the
# review is approved; it may be canceled (that is what rejecting it does).
HELD_IN_REVIEW = frozenset({Action.FULFIL, Action.CAPTURE})


def in_review(order: Mapping[str, Any]) -> bool:
    return order.get("risk_review") == "pending"


def allows(action: Action, order: Mapping[str, Any]) -> bool:
    rule = TRANSITIONS[action]
    if order.get("canceling") and action is not Action.CANCEL:
        return False
    if in_review(order) and action in HELD_IN_REVIEW:
        return False
    return (
        order["status"] in rule.status
        and order["fulfillment_status"] in rule.fulfillment
        and order["payment_status"] in rule.payment
    )


def require(action: Action, order: Mapping[str, Any], detail: str | None = None) -> None:
    """409 `invalid_state` (with the current statuses) unless the order allows `action`."""
    if allows(action, order):
        return
    now = statuses(order)
    if detail is None and in_review(order) and action in HELD_IN_REVIEW:
        detail = (
            f"An order held for fraud review cannot {action.value}; approve its review"
            " first (POST /v1/orders/{id}/risk/approve)."
        )
    raise InvalidState(
        detail
        or (
            f"An order that is {now['order_status']}, {now['fulfillment_status']} and"
            f" {now['payment_status']}{' (being canceled)' if now['canceling'] else ''}"
            f" cannot {action.value}."
        ),
        extensions=now,
    )


def is_complete(fulfillment_status: str, payment_status: str) -> bool:
    return fulfillment_status == _F.FULFILLED and payment_status in COMPLETES


def fulfillment_of(quantities: list[tuple[int, int]]) -> FulfillmentStatus:
    """From each line's (quantity, quantity_fulfilled)."""
    done = sum(f for _, f in quantities)
    if done == 0:
        return _F.UNFULFILLED
    if all(f >= q for q, f in quantities):
        return _F.FULFILLED
    return _F.PARTIALLY_FULFILLED
