from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from cartwright.catalog.schemas import Sku
from cartwright.kit.fields import (
    CountryCode,
    CurrencyCode,
    Email,
    Integer,
    MoneyOut,
    optional_text,
    text,
)
from cartwright.providers.service import EU_VAT_PREFIXES, eu_vat_country, normalize_tax_id


class CartStatus(StrEnum):
    OPEN = "open"
    CHECKING_OUT = "checking_out"
    COMPLETED = "completed"


class AddressIn(BaseModel):
    name: Annotated[str, text(200)]
    line1: Annotated[str, text(200)]
    line2: Annotated[str, optional_text(200)] | None = None
    city: Annotated[str, text(100)]
    postal_code: Annotated[str, text(20)]
    country: CountryCode
    region: Annotated[str, optional_text(100)] | None = None


class CartIn(BaseModel):
    currency: CurrencyCode
    email: Email | None = None


# The most units one cart line holds, however they were added.
MAX_LINE_QUANTITY = 10_000


class LineIn(BaseModel):
    sku: Sku
    quantity: Annotated[Integer, Field(ge=1, le=MAX_LINE_QUANTITY)]


class LineUpdate(BaseModel):
    quantity: Annotated[Integer, Field(ge=0, le=MAX_LINE_QUANTITY)]


class CartUpdate(BaseModel):
    """Only the fields sent change; `null` clears a field."""

    email: Email | None = None
    shipping_address: AddressIn | None = None
    billing_address: AddressIn | None = None
    shipping_method: Annotated[str, text(64)] | None = None
    # A business customer's tax id; an EU VAT number is checked for its format.
    tax_id: Annotated[str, text(32)] | None = None

    @field_validator("tax_id")
    @classmethod
    def _tax_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        number = normalize_tax_id(value)
        if number[:2] in EU_VAT_PREFIXES and eu_vat_country(number) is None:
            raise ValueError("not a well-formed EU VAT number")
        return number


class AddressOut(BaseModel):
    name: str
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    country: str
    region: str | None = None


class PriceSourceOut(BaseModel):
    """Which price a line pays and why: a price list's (with its tier) or the base price."""

    kind: Literal["base", "price_list"]
    price_list_id: str | None = None
    name: str | None = None
    min_quantity: int | None = None
    reason: str


class LineDiscountOut(BaseModel):
    promotion_id: str
    amount: MoneyOut


class CartPromotionOut(BaseModel):
    id: str
    name: str
    code: str | None  # the code that brought it (None: automatic)
    amount: MoneyOut


class ConsideredPromotionOut(BaseModel):
    """A promotion the cart was priced against, and why it did or did not apply
    (docs/promotions.md lists the reasons)."""

    id: str
    name: str
    code: str | None
    reason: str


class CartLineOut(BaseModel):
    id: str
    sku: str
    variant_id: str | None
    title: str
    quantity: int
    unit_price: MoneyOut | None
    price_source: PriceSourceOut
    total: MoneyOut | None
    # The line's share of the discount (its part of a shipping discount included), and of
    # each promotion applied.
    discount: MoneyOut | None
    discounts: list[LineDiscountOut]
    tax: MoneyOut | None


class CartTotals(BaseModel):
    subtotal: MoneyOut | None
    discount: MoneyOut | None
    shipping: MoneyOut | None
    tax: MoneyOut | None
    total: MoneyOut | None


class CartTax(BaseModel):
    tax_id: str | None
    exempt_reason: str | None  # reverse_charge
    estimated: bool  # the tax provider did not answer: the built-in rates were used
    prices_include_tax: bool


class CartOut(BaseModel):
    id: str
    status: CartStatus
    currency: str
    email: str | None
    lines: list[CartLineOut]
    shipping_address: AddressOut | None
    billing_address: AddressOut | None
    shipping_method: str | None
    totals: CartTotals
    tax: CartTax
    promotion_codes: list[str]
    promotions: list[CartPromotionOut]  # their amounts add up to `totals.discount`
    promotions_considered: list[ConsideredPromotionOut]
    order_id: str | None
    customer_id: str | None
    channel: str
    created_at: datetime
    updated_at: datetime


class ShippingMethodOut(BaseModel):
    code: str
    title: str
    price: MoneyOut


class ShippingMethods(BaseModel):
    data: list[ShippingMethodOut]
