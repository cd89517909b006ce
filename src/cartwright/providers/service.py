"""The tax and shipping providers the platform quotes with, chosen once at start-up.

Built-ins now (a country rate table, flat shipping methods); external adapters implement
the same protocols and are chosen here by configuration later.
"""

from __future__ import annotations

from dataclasses import dataclass

from cartwright.providers.shipping import FlatRates, ShippingMethod, ShippingRates
from cartwright.providers.tax import RateTableTax, TaxCalculator, TaxQuote


@dataclass(frozen=True, slots=True)
class Providers:
    tax: TaxCalculator
    shipping: ShippingRates


def builtin() -> Providers:
    return Providers(tax=RateTableTax(), shipping=FlatRates())


__all__ = ["Providers", "ShippingMethod", "TaxQuote", "builtin"]
