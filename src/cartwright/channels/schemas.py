"""Channel and price list request bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
)

from cartwright.kit.fields import CurrencyCode, Instant, Integer, ListPage, text

# A channel's code: what keys, carts, orders and the `Cartwright-Channel` header name it by.
ChannelCode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]
_Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00\s]+$")]
Codes = Annotated[list[_Code], Field(max_length=100)]
Currencies = Annotated[list[CurrencyCode], Field(max_length=200)]
CaptureMethodIn = Literal["automatic", "manual"]
FraudFailureModeIn = Literal["open", "closed"]
GroupName = Annotated[str, text(64)]


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ChannelCode
    name: Annotated[str, text(200)]
    currencies: Currencies = []
    prices_include_tax: bool = False
    # Left out: the setting CARTWRIGHT_CAPTURE_METHOD.
    capture_method: CaptureMethodIn | None = None
    price_list_id: Annotated[str, text(64)] | None = None
    warehouses: Codes = []
    shipping_methods: Codes = []
    fraud_failure_mode: FraudFailureModeIn = "open"


class ChannelPatch(BaseModel):
    """Only the fields sent change; the code never does. `capture_method: null` makes the
    channel follow CARTWRIGHT_CAPTURE_METHOD again; `price_list_id: null` drops its list;
    `null` for any other field changes nothing."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, text(200)] | None = None
    currencies: Currencies | None = None
    prices_include_tax: bool | None = None
    capture_method: CaptureMethodIn | None = None
    price_list_id: Annotated[str, text(64)] | None = None
    warehouses: Codes | None = None
    shipping_methods: Codes | None = None
    fraud_failure_mode: FraudFailureModeIn | None = None


class ChannelOut(BaseModel):
    id: str
    code: str
    name: str
    currencies: list[str]
    prices_include_tax: bool
    capture_method: CaptureMethodIn
    price_list_id: str | None
    warehouses: list[str]
    shipping_methods: list[str]
    fraud_failure_mode: FraudFailureModeIn
    created_at: datetime
    updated_at: datetime


class ChannelPage(ListPage):
    data: list[ChannelOut]


# ---------------------------------------------------------------------------- price lists


class PriceListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, text(200)]
    channel: ChannelCode | None = None
    customer_group: GroupName | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    priority: Annotated[Integer, Field(ge=-1_000_000, le=1_000_000)] = 0


class PriceListPatch(BaseModel):
    """Only the fields sent change; `null` clears `channel`, `customer_group`, `starts_at`
    or `ends_at` and changes nothing for `name` and `priority`."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, text(200)] | None = None
    channel: ChannelCode | None = None
    customer_group: GroupName | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    priority: Annotated[Integer, Field(ge=-1_000_000, le=1_000_000)] | None = None


class PriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, text(100)]
    currency: CurrencyCode
    amount: Annotated[Integer, Field(ge=0, le=10**15)]
    min_quantity: Annotated[Integer, Field(ge=1, le=1_000_000)] = 1


class PricesIn(RootModel[Annotated[list[PriceIn], Field(min_length=1, max_length=1000)]]):
    """Prices to set (added, or replacing the one of the same SKU, currency and tier)."""


class PriceOut(BaseModel):
    sku: str
    currency: str
    amount: int
    min_quantity: int


class PriceListOut(BaseModel):
    id: str
    name: str
    channel: str | None
    customer_group: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    priority: int
    prices: list[PriceOut]
    created_at: datetime
    updated_at: datetime


class PriceListPage(ListPage):
    data: list[PriceListOut]
