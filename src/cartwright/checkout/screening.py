"""The checkout's fraud screening, between commit 1 and the provider call (ADR 0024).

It runs once the stock is held and the payment recorded, with no transaction open, so a
slow external fraud service holds no database connection (its guard bounds it anyway).
Its verdict goes on the order (the snapshot carries it to commit 2):

- accept: the provider is called as usual;
- review: the provider only authorizes (never captures, whatever the channel's policy);
  the verdict is written into the checkout's snapshot first, so that recovery, should
  this process die before commit 2, places the order in review too. That write is the
  review path's only extra round trip;
- reject: the provider is not called; commit 2 takes it as a decline (`risk_rejected`):
  402 `payment_declined`, the payment failed, the stock released, the cart payable again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import assert_never

from cartwright.checkout import repository
from cartwright.kit import telemetry
from cartwright.orders.service import NewOrder
from cartwright.payments.connector import ProviderResult, ProviderStatus
from cartwright.platform import Platform
from cartwright.risk import service as risk

REJECTED = ProviderResult(
    ProviderStatus.DECLINED,
    decline_code="risk_rejected",
    message="The payment was declined by fraud screening; nothing was charged.",
)


@dataclass(frozen=True, slots=True)
class Screened:
    order: NewOrder  # with its verdict
    hold_capture: bool  # review: authorize only
    refusal: ProviderResult | None  # reject: commit 2's result, no provider call


def _country(address: dict[str, object] | None) -> str | None:
    value = None if address is None else address.get("country")
    return value if isinstance(value, str) else None


async def screen(
    p: Platform,
    checkout_id: str,
    order: NewOrder,
    token: str,
    *,
    failure_mode: risk.FailureMode,
) -> Screened:
    """`failure_mode`: the channel's `fraud_failure_mode` (what to do when the external
    fraud service cannot answer)."""
    with telemetry.span("checkout.screening", {"checkout.id": checkout_id}):
        verdict = await p.screener().screen(
            p.db,
            risk.ScreenedCheckout(
                order_id=order.order_id,
                customer_id=order.customer_id,
                email=order.email,
                amount=order.total,
                currency=order.currency,
                billing_country=_country(order.billing_address),
                shipping_country=_country(order.shipping_address),
                token=token,
            ),
            failure_mode=failure_mode,
        )
    screened = replace(order, risk=verdict.as_json())
    match verdict.decision:
        case risk.Decision.ACCEPT:
            return Screened(screened, hold_capture=False, refusal=None)
        case risk.Decision.REVIEW:
            async with p.db.transaction() as conn:
                await repository.set_snapshot(conn, checkout_id, screened.to_json())
            return Screened(screened, hold_capture=True, refusal=None)
        case risk.Decision.REJECT:
            return Screened(screened, hold_capture=False, refusal=REJECTED)
        case _:
            assert_never(verdict.decision)
