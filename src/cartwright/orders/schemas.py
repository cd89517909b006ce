"""What order answers look like (the document's schemas; `service.present` builds them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

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
    tax: MoneyOut


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
    dispute: OrderDispute | None
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


class RefundIn(BaseModel):
    amount: Annotated[Integer, Field(ge=1, le=10**12)] | None = None
    reason: Annotated[str, optional_text(500)] | None = None


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


class RefundList(BaseModel):
    data: list[RefundOut]
