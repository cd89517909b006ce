"""Field types shared by the modules' request schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)

from cartwright.kit.countries import COUNTRY_CODES, is_country
from cartwright.kit.money import CURRENCY_EXPONENTS, is_currency

# Text is taken as sent (no trimming: what the document allows is exactly what is kept), and
# never holds U+0000, which no PostgreSQL text column can store. Required text holds at least
# one character that is not blank. Character classes are spelled out, not `\s`: the
# validator (Rust's regex) and a client's regex engine must agree on every string.
_BLANK = " \\t\\n\\r\\x0b\\x0c"
NO_NUL = "^[^\\x00]*$"
NOT_BLANK = f"^[^\\x00]*[^\\x00{_BLANK}][^\\x00]*$"
_EMAIL_PART = "[^@\\x00-\\x20\\x7f]+"
EMAIL = f"^{_EMAIL_PART}@{_EMAIL_PART}\\.{_EMAIL_PART}$"


def text(max_length: int) -> StringConstraints:
    """Required text: 1 to `max_length` characters, not all blank (use in `Annotated`)."""
    return StringConstraints(max_length=max_length, pattern=NOT_BLANK)


def optional_text(max_length: int) -> StringConstraints:
    """Text that may be empty: at most `max_length` characters."""
    return StringConstraints(max_length=max_length, pattern=NO_NUL)


Email = Annotated[str, StringConstraints(max_length=320, pattern=EMAIL)]


def _integral(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A JSON integer: `3` and `3.0` are the same number in JSON (and in JSON Schema), so both are
# taken; `3.5`, `"3"` and `true` are not integers and are refused.
Integer = Annotated[StrictInt, BeforeValidator(_integral)]


def _known_currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError("must be a supported ISO 4217 currency code, e.g. EUR")
    return value


def _assigned_country(value: str) -> str:
    if not is_country(value):
        raise ValueError("must be an assigned ISO 3166-1 alpha-2 country code, e.g. DE")
    return value


# The document lists the accepted codes, so a client (or a fuzzer) knows them up front.
CurrencyCode = Annotated[
    str,
    AfterValidator(_known_currency),
    WithJsonSchema({"type": "string", "enum": sorted(CURRENCY_EXPONENTS)}),
]
CountryCode = Annotated[
    str,
    AfterValidator(_assigned_country),
    WithJsonSchema({"type": "string", "enum": sorted(COUNTRY_CODES)}),
]


class MoneyOut(BaseModel):
    """Money as every answer carries it: integer minor units and the currency."""

    amount: int
    currency: str


class ListPage(BaseModel):
    """The list convention: a page of `data`, and whether more follow."""

    has_more: bool


def _sensible_instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be between the years 1970 and 9999") from None
    if not 1970 <= utc.year <= 9998:
        raise ValueError("must be between the years 1970 and 9999")
    return utc


# An instant with its offset (a window's bound, a schedule's), stored in UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_sensible_instant)]
