from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, StringConstraints, field_validator

from cartwright.kit.fields import CurrencyCode

Sku = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class MoneyIn(BaseModel):
    amount: Annotated[StrictInt, Field(ge=0, le=10**12)]
    currency: CurrencyCode


class VariantIn(BaseModel):
    sku: Sku
    title: Title | None = None
    weight_grams: Annotated[StrictInt, Field(ge=0, le=10**9)] | None = None
    prices: Annotated[list[MoneyIn], Field(min_length=1, max_length=50)]

    @field_validator("prices")
    @classmethod
    def one_price_per_currency(cls, value: list[MoneyIn]) -> list[MoneyIn]:
        if len({p.currency for p in value}) != len(value):
            raise ValueError("each currency may appear once")
        return value


class ProductIn(BaseModel):
    title: Title
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    variants: Annotated[list[VariantIn], Field(min_length=1, max_length=100)]

    @field_validator("variants")
    @classmethod
    def unique_skus(cls, value: list[VariantIn]) -> list[VariantIn]:
        if len({v.sku for v in value}) != len(value):
            raise ValueError("each SKU may appear once")
        return value
