"""Built-in tax: one standard rate per destination country, applied to tax-exclusive prices.

Rates are in basis points (1900 = 19 %). Each line and the shipping charge are taxed and
rounded half up on their own, so the tax of a line never depends on other lines.
An external tax provider implements the same `TaxCalculator` protocol later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cartwright.kit.money import apply_rate_bp

STANDARD_RATES_BP: dict[str, int] = {
    "AT": 2000,
    "BE": 2100,
    "BG": 2000,
    "CY": 1900,
    "CZ": 2100,
    "DE": 1900,
    "DK": 2500,
    "EE": 2200,
    "ES": 2100,
    "FI": 2550,
    "FR": 2000,
    "GR": 2400,
    "HR": 2500,
    "HU": 2700,
    "IE": 2300,
    "IT": 2200,
    "LT": 2100,
    "LU": 1700,
    "LV": 2100,
    "MT": 1800,
    "NL": 2100,
    "PL": 2300,
    "PT": 2300,
    "RO": 1900,
    "SE": 2500,
    "SI": 2200,
    "SK": 2300,
    "GB": 2000,
    "CH": 810,
    "NO": 2500,
    "IS": 2400,
    "AU": 1000,
    "NZ": 1500,
    "JP": 1000,
    "CA": 500,
    "US": 0,
}


@dataclass(frozen=True, slots=True)
class TaxQuote:
    line_taxes: list[int]
    shipping_tax: int

    @property
    def total(self) -> int:
        return sum(self.line_taxes) + self.shipping_tax


class TaxCalculator(Protocol):
    def quote(
        self, country: str | None, line_amounts: Sequence[int], shipping: int
    ) -> TaxQuote: ...


class RateTableTax:
    def __init__(self, rates_bp: dict[str, int] | None = None) -> None:
        self._rates = STANDARD_RATES_BP if rates_bp is None else rates_bp

    def rate_bp(self, country: str | None) -> int:
        return self._rates.get(country or "", 0)

    def quote(self, country: str | None, line_amounts: Sequence[int], shipping: int) -> TaxQuote:
        rate = self.rate_bp(country)
        return TaxQuote(
            [apply_rate_bp(a, rate) for a in line_amounts], apply_rate_bp(shipping, rate)
        )
