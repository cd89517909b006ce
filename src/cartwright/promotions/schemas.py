"""Promotion request bodies and answers (contract "Promotions", docs/promotions.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cartwright.kit.fields import CurrencyCode, Instant, Integer, ListPage, MoneyOut, text

# A code as shoppers type it: letters, digits, `-` and `_`; matched case-insensitively
# (stored upper-case).
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
Code = Annotated[str, StringConstraints(min_length=3, max_length=64, pattern=CODE_PATTERN)]
Prefix = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=CODE_PATTERN)]
Kind = Literal["percentage", "fixed_amount", "free_shipping", "buy_x_get_y"]
Stacking = Literal["exclusive", "stackable"]
_Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]+$")]
Names = Annotated[list[_Name], Field(min_length=1, max_length=1000)]
Amount = Annotated[Integer, Field(ge=1, le=10**15)]
Limit = Annotated[Integer, Field(ge=1, le=10**9)]
Priority = Annotated[Integer, Field(ge=-1_000_000, le=1_000_000)]
Units = Annotated[Integer, Field(ge=1, le=1000)]
# Bulk single-use codes per request.
MAX_CODES = 100_000


class PromotionIn(BaseModel):
    """`value`: a whole percent (1..100) for `percentage`, minor units of `currency` for
    `fixed_amount`, none for `free_shipping` and `buy_x_get_y` (which take `buy` and
    `get`). Without `code` the promotion applies by itself to every cart it fits."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, text(200)]
    code: Code | None = None
    kind: Kind
    value: Amount | None = None
    currency: CurrencyCode | None = None
    buy: Units | None = None
    get: Units | None = None
    min_subtotal: Amount | None = None
    skus: Names | None = None
    customer_groups: Names | None = None
    channels: Names | None = None
    stacking: Stacking
    priority: Priority = 0
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    usage_limit: Limit | None = None
    usage_limit_per_customer: Limit | None = None
    budget: Amount | None = None


class PromotionPatch(BaseModel):
    """Only the fields sent change; `kind`, `currency` and `code` never do. `null` clears a
    condition, a limit, the budget or a schedule bound; for `name`, `stacking`, `priority`
    and `value` it changes nothing."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, text(200)] | None = None
    value: Amount | None = None
    buy: Units | None = None
    get: Units | None = None
    min_subtotal: Amount | None = None
    skus: Names | None = None
    customer_groups: Names | None = None
    channels: Names | None = None
    stacking: Stacking | None = None
    priority: Priority | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    usage_limit: Limit | None = None
    usage_limit_per_customer: Limit | None = None
    budget: Amount | None = None


class CodesIn(BaseModel):
    """Single-use codes to generate: `count` of them, each `prefix` (if any) and 12
    random characters."""

    model_config = ConfigDict(extra="forbid")

    count: Annotated[Integer, Field(ge=1, le=MAX_CODES)]
    prefix: Prefix | None = None


class CartCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PromotionOut(BaseModel):
    id: str
    name: str
    code: str | None
    kind: Kind
    value: int | None
    currency: str | None
    buy: int | None
    get: int | None
    min_subtotal: MoneyOut | None
    skus: list[str] | None
    customer_groups: list[str] | None
    channels: list[str] | None
    stacking: Stacking
    priority: int
    starts_at: datetime | None
    ends_at: datetime | None
    usage_limit: int | None
    usage_limit_per_customer: int | None
    budget: MoneyOut | None
    uses: int
    granted: MoneyOut | None
    active: bool
    created_at: datetime
    updated_at: datetime


class PromotionPage(ListPage):
    data: list[PromotionOut]


class CodesOut(BaseModel):
    promotion_id: str
    count: int
    codes: list[str]


class CodeOut(BaseModel):
    code: str
    single_use: bool
    order_id: str | None  # the order that used a single-use code
    created_at: datetime


class CodePage(ListPage):
    data: list[CodeOut]
