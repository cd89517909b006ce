"""The order's state machine: the table decides, and a refusal names the statuses."""

from __future__ import annotations

import pytest

from cartwright.kit.errors import InvalidState
from cartwright.orders.state import (
    TRANSITIONS,
    Action,
    FulfillmentStatus,
    OrderPaymentStatus,
    OrderStatus,
    allows,
    fulfillment_of,
    is_complete,
    require,
)
from cartwright.payments.state import ORDER_PAYMENT_STATUS


def order(
    status: str = "open",
    fulfillment: str = "unfulfilled",
    payment: str = "captured",
    canceling: bool = False,
) -> dict[str, object]:
    return {
        "status": status,
        "fulfillment_status": fulfillment,
        "payment_status": payment,
        "canceling": canceling,
    }


def test_the_payment_status_mirrors_the_payments_module() -> None:
    assert {s.value for s in OrderPaymentStatus} == set(ORDER_PAYMENT_STATUS.values())


def test_every_action_has_a_rule_over_known_statuses() -> None:
    assert set(TRANSITIONS) == set(Action)
    for rule in TRANSITIONS.values():
        assert rule.status <= {s.value for s in OrderStatus}
        assert rule.fulfillment <= {s.value for s in FulfillmentStatus}
        assert rule.payment <= {s.value for s in OrderPaymentStatus}


@pytest.mark.parametrize(
    ("action", "state", "allowed"),
    [
        (Action.FULFIL, order(), True),
        (Action.FULFIL, order(payment="pending"), False),
        (Action.FULFIL, order(status="canceled"), False),
        (Action.FULFIL, order(fulfillment="fulfilled"), False),
        (Action.CANCEL, order(fulfillment="partially_fulfilled"), False),
        (Action.CANCEL, order(payment="authorized"), True),
        (Action.CANCEL, order(status="completed"), False),
        (Action.EDIT, order(payment="partially_captured"), False),
        (Action.EDIT, order(payment="authorized"), True),
        (Action.RETURN, order(status="completed", fulfillment="fulfilled"), True),
        (Action.RETURN, order(), False),
        (Action.REFUND, order(status="completed", fulfillment="fulfilled"), True),
        (Action.REFUND, order(payment="authorized"), False),
        (Action.CAPTURE, order(payment="authorized"), True),
        (Action.CAPTURE, order(payment="captured"), False),
        (Action.FULFIL, order(canceling=True), False),
        (Action.CANCEL, order(canceling=True), True),
    ],
)
def test_the_table(action: Action, state: dict[str, object], allowed: bool) -> None:
    assert allows(action, state) is allowed


def test_a_refusal_carries_the_current_statuses() -> None:
    with pytest.raises(InvalidState) as refused:
        require(Action.CANCEL, order(status="completed", fulfillment="fulfilled"))
    assert refused.value.extensions == {
        "order_status": "completed",
        "fulfillment_status": "fulfilled",
        "payment_status": "captured",
        "canceling": False,
    }


def test_fulfilment_and_completion() -> None:
    assert fulfillment_of([(2, 0), (1, 0)]) is FulfillmentStatus.UNFULFILLED
    assert fulfillment_of([(2, 1), (1, 0)]) is FulfillmentStatus.PARTIALLY_FULFILLED
    assert fulfillment_of([(2, 2), (1, 1)]) is FulfillmentStatus.FULFILLED
    assert is_complete("fulfilled", "refunded") and not is_complete("fulfilled", "authorized")


def test_an_order_held_for_fraud_review_is_neither_fulfilled_nor_captured() -> None:
    held = {
        "status": "open",
        "fulfillment_status": "unfulfilled",
        "payment_status": "authorized",
        "risk_review": "pending",
    }
    assert not allows(Action.FULFIL, held) and not allows(Action.CAPTURE, held)
    assert allows(Action.CANCEL, held)  # rejecting the review cancels it
    with pytest.raises(InvalidState, match="fraud review"):
        require(Action.FULFIL, held)
    for review in ("approved", "rejected", None):
        assert allows(Action.FULFIL, {**held, "risk_review": review})
        assert allows(Action.CAPTURE, {**held, "risk_review": review})
