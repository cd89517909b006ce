"""What order answers look like (the document's schemas; `service.present` builds them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from cartwright.kit.fields import Integer, ListPage, MoneyOut, optional_text


class OrderLineOut(BaseModel):
    id: str
    sku: str
    variant_id: str | None
    title: str
    quantity: int
    quantity_fulfilled: int
    unit_price: MoneyOut
    total: MoneyOut
    discount: MoneyOut  # the line's share of the order's discount (refunds return it)
    tax: MoneyOut


class OrderPromotion(BaseModel):
    id: str
    name: str
    code: str | None
    amount: MoneyOut


class OrderTotals(BaseModel):
    subtotal: MoneyOut
    discount: MoneyOut
    shipping: MoneyOut
    tax: MoneyOut
    total: MoneyOut


class OrderAddress(BaseModel):
    name: str
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    country: str
    region: str | None = None


class OrderDispute(BaseModel):
    id: str
    status: str
    amount: MoneyOut
    reason: str | None


class OrderTax(BaseModel):
    tax_id: str | None
    exempt_reason: str | None  # reverse_charge
    estimated: bool  # the tax provider did not answer: the built-in rates were used


class RiskReasonOut(BaseModel):
    code: str
    points: int
    detail: str


class OrderRisk(BaseModel):
    """The fraud screening's verdict (ADR 0024)."""

    score: int
    decision: Literal["accept", "review", "reject"]
    reasons: list[RiskReasonOut]
    # Set when the external fraud service could not answer: `fail_open` (built-in rules
    # only) or `fail_closed` (sent to review).
    fraud_fallback: Literal["fail_open", "fail_closed"] | None = None
    # Where a review is: pending (authorized, not captured, not fulfilled), approved,
    # rejected; None when the order was not sent to review.
    review: Literal["pending", "approved", "rejected"] | None


class OrderOut(BaseModel):
    id: str
    number: int
    status: str
    payment_status: str
    fulfillment_status: str
    currency: str
    email: str | None
    lines: list[OrderLineOut]
    shipping_address: OrderAddress | None
    billing_address: OrderAddress | None
    shipping_method: str | None
    totals: OrderTotals
    amount_captured: MoneyOut
    amount_refunded: MoneyOut
    next_action: dict[str, Any] | None
    cart_id: str | None
    customer_id: str | None
    channel: str
    dispute: OrderDispute | None
    tax: OrderTax
    risk: OrderRisk | None
    promotions: list[OrderPromotion]  # what the order got at checkout
    shipping_fallback: bool  # the shipping price is the zone's flat rate (carrier down)
    created_at: datetime
    updated_at: datetime


class PlacedOrderOut(OrderOut):
    """A checkout's answer: the order, and the token that lets the storefront read it."""

    access_token: str


class OrderPage(ListPage):
    data: list[OrderOut]


class CaptureIn(BaseModel):
    """`amount` in minor units (default: all that is left); `final`: no capture follows,
    so the provider releases the rest."""

    amount: Annotated[Integer, Field(ge=1, le=10**12)] | None = None
    final: bool = False


class LineQuantityIn(BaseModel):
    line_id: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[Integer, Field(ge=1, le=1_000_000)]


_LINES = Field(min_length=1, max_length=100)


class RefundIn(BaseModel):
    """An `amount`, or `lines` whose units are refunded at their allocated value (not
    both); neither: all that is left."""

    amount: Annotated[Integer, Field(ge=1, le=10**12)] | None = None
    lines: Annotated[list[LineQuantityIn], _LINES] | None = None
    reason: Annotated[str, optional_text(500)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> RefundIn:
        if self.amount is not None and self.lines is not None:
            raise ValueError("give either amount or lines, not both")
        return self


class FulfillmentIn(BaseModel):
    lines: Annotated[list[LineQuantityIn], _LINES]
    tracking_number: Annotated[str, optional_text(200)] | None = None
    carrier: Annotated[str, optional_text(100)] | None = None


class FulfillmentLineOut(BaseModel):
    line_id: str
    quantity: int


class FulfillmentOut(BaseModel):
    id: str
    order_id: str
    lines: list[FulfillmentLineOut]
    tracking_number: str | None
    carrier: str | None
    created_at: datetime


class FulfillmentList(BaseModel):
    data: list[FulfillmentOut]


class LineEditIn(BaseModel):
    """A lower quantity (0 removes the line); a higher one is 409."""

    quantity: Annotated[Integer, Field(ge=0, le=1_000_000)]


class ReturnIn(BaseModel):
    lines: Annotated[list[LineQuantityIn], _LINES]
    reason: Annotated[str, optional_text(500)] | None = None


class ReceivedLineIn(BaseModel):
    line_id: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[Integer, Field(ge=0, le=1_000_000)]
    restock: bool


class ReceiveIn(BaseModel):
    lines: Annotated[list[ReceivedLineIn], _LINES]


class ReceivedLineOut(BaseModel):
    line_id: str
    quantity: int
    restock: bool


class ReturnOut(BaseModel):
    id: str
    object: str
    order_id: str
    status: str
    lines: list[FulfillmentLineOut]
    received: list[ReceivedLineOut] | None
    reason: str | None
    refund_id: str | None
    created_at: datetime
    updated_at: datetime


class RefundOut(BaseModel):
    id: str
    object: str
    order_id: str
    payment_id: str
    status: str
    amount: MoneyOut
    reason: str | None
    failure_code: str | None
    created_at: datetime
    # What the refund gives back, when it was made by lines (or by an edit or a return).
    breakdown: dict[str, MoneyOut] | None = None


class RefundList(BaseModel):
    data: list[RefundOut]


class RefundedReturnOut(ReturnOut):
    refund: RefundOut | None
