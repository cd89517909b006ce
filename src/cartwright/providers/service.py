"""The tax and shipping providers the platform quotes with, chosen once at start-up.

Built-ins (tax rate tables per jurisdiction, flat shipping methods) and, for tax, Stripe
Tax behind the kit's bounded call when CARTWRIGHT_TAX_PROVIDER=stripe_tax (ADR 0025).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from cartwright.kit.external import CallPolicy, ExternalCall
from cartwright.kit.settings import Settings
from cartwright.providers.shipping import FlatRates, ShippingMethod, ShippingRates
from cartwright.providers.stripe_tax import ExternalTax, StripeTax
from cartwright.providers.tax import (
    EU_VAT_PREFIXES,
    RateTableTax,
    TaxCalculator,
    TaxClass,
    TaxLine,
    TaxQuote,
    TaxRequest,
    eu_vat_country,
    normalize_tax_id,
    overrides_from,
)


@dataclass(frozen=True, slots=True)
class Providers:
    tax: TaxCalculator
    shipping: ShippingRates


def from_settings(
    settings: Settings, *, switch: Callable[[], bool] | None = None
) -> tuple[Providers, httpx.AsyncClient | None]:
    """The providers the settings choose, and the HTTP client to close at stop (if any).
    `switch` is the kill switch of the external tax call (flag `tax.external`)."""
    tables = RateTableTax(
        overrides_from(settings.tax_rates), origin_country=settings.tax_origin_country
    )
    if settings.tax_provider == "builtin" or settings.tax_stripe_api_key is None:
        return builtin(tables), None
    client = httpx.AsyncClient(timeout=settings.tax_timeout_s)
    guard = ExternalCall(
        "tax", "stripe_tax", CallPolicy(timeout_s=settings.tax_timeout_s), switch=switch
    )
    adapter = StripeTax(
        client, settings.tax_stripe_api_key.get_secret_value(), settings.tax_stripe_url
    )
    return builtin(ExternalTax(adapter, guard, tables)), client


def builtin(tax: TaxCalculator | None = None, *, origin_country: str | None = None) -> Providers:
    """The built-in providers; `tax` replaces the tables (e.g. an external chain)."""
    return Providers(tax=tax or RateTableTax(origin_country=origin_country), shipping=FlatRates())


__all__ = [
    "EU_VAT_PREFIXES",
    "Providers",
    "ShippingMethod",
    "TaxClass",
    "TaxLine",
    "TaxQuote",
    "TaxRequest",
    "builtin",
    "from_settings",
    "eu_vat_country",
    "normalize_tax_id",
]
