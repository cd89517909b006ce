from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, StringConstraints, field_validator

from cartwright.catalog.schemas import Sku
from cartwright.kit.countries import is_country
from cartwright.kit.fields import CurrencyCode

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


def _text(max_length: int) -> type[str]:
    return Annotated[  # type: ignore[return-value]
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)
    ]


class AddressIn(BaseModel):
    name: _text(200)  # type: ignore[valid-type]
    line1: _text(200)  # type: ignore[valid-type]
    line2: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    city: _text(100)  # type: ignore[valid-type]
    postal_code: _text(20)  # type: ignore[valid-type]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None

    @field_validator("country")
    @classmethod
    def assigned_country(cls, value: str) -> str:
        if not is_country(value):
            raise ValueError("must be an assigned ISO 3166-1 alpha-2 country code, e.g. DE")
        return value


class CartIn(BaseModel):
    currency: CurrencyCode
    email: Email | None = None


# The most units one cart line holds, however they were added.
MAX_LINE_QUANTITY = 10_000


class LineIn(BaseModel):
    sku: Sku
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_LINE_QUANTITY)]


class LineUpdate(BaseModel):
    quantity: Annotated[StrictInt, Field(ge=0, le=MAX_LINE_QUANTITY)]


class CartUpdate(BaseModel):
    """Only the fields sent change; `null` clears a field."""

    email: Email | None = None
    shipping_address: AddressIn | None = None
    billing_address: AddressIn | None = None
    shipping_method: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
