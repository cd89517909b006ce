"""Field types shared by the modules' request schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from cartwright.kit.money import is_currency


def _known_currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError("must be a supported ISO 4217 currency code, e.g. EUR")
    return value


CurrencyCode = Annotated[str, AfterValidator(_known_currency)]
