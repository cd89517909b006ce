from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from cartwright.kit.fields import CurrencyCode, Integer, ListPage, MoneyOut, optional_text, text

Sku = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")
]
Title = Annotated[str, text(500)]


class MoneyIn(BaseModel):
    amount: Annotated[Integer, Field(ge=0, le=10**12)]
    currency: CurrencyCode


TaxClassName = Literal["standard", "reduced", "zero", "exempt"]


class VariantIn(BaseModel):
    sku: Sku
    title: Title | None = None
    weight_grams: Annotated[Integer, Field(ge=0, le=10**9)] | None = None
    # The product tax class its lines are taxed at (ADR 0025).
    tax_class: TaxClassName = "standard"
    prices: Annotated[list[MoneyIn], Field(min_length=1, max_length=50)]

    @field_validator("prices")
    @classmethod
    def one_price_per_currency(cls, value: list[MoneyIn]) -> list[MoneyIn]:
        if len({p.currency for p in value}) != len(value):
            raise ValueError("each currency may appear once")
        return value


class ProductIn(BaseModel):
    title: Title
    description: Annotated[str, optional_text(20_000)] | None = None
    variants: Annotated[list[VariantIn], Field(min_length=1, max_length=100)]

    @field_validator("variants")
    @classmethod
    def unique_skus(cls, value: list[VariantIn]) -> list[VariantIn]:
        if len({v.sku for v in value}) != len(value):
            raise ValueError("each SKU may appear once")
        return value


class VariantOut(BaseModel):
    id: str
    sku: str
    title: str | None
    weight_grams: int | None
    tax_class: TaxClassName
    prices: list[MoneyOut]


class ProductOut(BaseModel):
    id: str
    title: str
    description: str | None
    variants: list[VariantOut]
    created_at: datetime
    updated_at: datetime


class ProductPage(ListPage):
    data: list[ProductOut]
