"""The tax and shipping providers the platform quotes with, chosen once at start-up.

Built-ins now (a country rate table, the shipping zones' configured rates); external
adapters (`providers.carrier.LiveRates`) implement the same protocols.
"""

from __future__ import annotations

from dataclasses import dataclass

from cartwright.providers.shipping import (
    DEFAULT_ZONES,
    Destination,
    QuotedMethod,
    Shipment,
    ShippingRates,
    Source,
    TableRates,
    find,
    offered,
)
from cartwright.providers.tax import RateTableTax, TaxCalculator, TaxQuote


@dataclass(frozen=True, slots=True)
class Providers:
    tax: TaxCalculator
    shipping: ShippingRates


def builtin() -> Providers:
    return Providers(tax=RateTableTax(), shipping=TableRates(DEFAULT_ZONES))


__all__ = [
    "Destination",
    "Providers",
    "QuotedMethod",
    "Shipment",
    "Source",
    "TaxQuote",
    "builtin",
    "find",
    "offered",
]
