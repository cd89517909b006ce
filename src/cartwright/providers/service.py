"""The tax and shipping providers the platform quotes with, chosen once at start-up.

Built-ins: tax rate tables per jurisdiction and the shipping zones' configured rates.
External ones, each behind the kit's bounded call with its kill switch and its fallback:
Stripe Tax when CARTWRIGHT_TAX_PROVIDER=stripe_tax (ADR 0025, fallback: the tables, the
order flagged `tax_estimated`) and Shippo's live rates when CARTWRIGHT_SHIPPING_CARRIER=
shippo (ADR 0026, fallback: the zone's flat rates, the order flagged `shipping_fallback`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import httpx

from cartwright.kit.external import CallPolicy, ExternalCall
from cartwright.kit.settings import Settings
from cartwright.providers.carrier import LiveRates, ShippoRates
from cartwright.providers.shipping import (
    DEFAULT_ZONES,
    Destination,
    QuotedMethod,
    Shipment,
    ShippingRates,
    Source,
    TableRates,
    Zone,
    find,
    offered,
)
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

Switch = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class Providers:
    tax: TaxCalculator
    shipping: ShippingRates


def builtin(
    tax: TaxCalculator | None = None,
    *,
    origin_country: str | None = None,
    shipping: ShippingRates | None = None,
) -> Providers:
    """The built-in providers; `tax` or `shipping` replaces one (e.g. an external chain)."""
    return Providers(
        tax=tax or RateTableTax(origin_country=origin_country),
        shipping=shipping or TableRates(DEFAULT_ZONES),
    )


def with_carrier_services(zones: Sequence[Zone], services: Mapping[str, str]) -> tuple[Zone, ...]:
    """The zones with each method named in `services` priced by that carrier service."""
    return tuple(
        replace(
            zone,
            methods=tuple(
                replace(m, carrier_service=services[m.code]) if m.code in services else m
                for m in zone.methods
            ),
        )
        for zone in zones
    )


def shippo(
    settings: Settings, client: httpx.AsyncClient, switch: Switch | None = None
) -> LiveRates:
    """Shipping priced by Shippo where configured, bounded by the kit's guard (`switch`:
    the `shipping.external` flag), the zones' flat rates as the fallback."""
    assert settings.shippo_api_token is not None  # checked by `shipping_problems`
    guard = ExternalCall(
        "shipping",
        "shippo",
        CallPolicy(timeout_s=settings.shipping_carrier_timeout_s),
        switch=switch,
    )
    adapter = ShippoRates(
        client,
        token=settings.shippo_api_token.get_secret_value(),
        origin=settings.shipping_origin_address(),
        base_url=settings.shippo_base_url,
    )
    zones = with_carrier_services(DEFAULT_ZONES, settings.shipping_services())
    return LiveRates(zones, adapter, guard)


def from_settings(
    settings: Settings,
    *,
    tax_switch: Switch | None = None,
    shipping_switch: Switch | None = None,
) -> tuple[Providers, list[httpx.AsyncClient]]:
    """The providers the settings choose, and the HTTP clients to close at stop. The
    switches are the kill switches of the external calls (flags `tax.external`,
    `shipping.external`)."""
    clients: list[httpx.AsyncClient] = []
    tables = RateTableTax(
        overrides_from(settings.tax_rates), origin_country=settings.tax_origin_country
    )
    tax: TaxCalculator = tables
    if settings.tax_provider != "builtin" and settings.tax_stripe_api_key is not None:
        tax_client = httpx.AsyncClient(timeout=settings.tax_timeout_s)
        clients.append(tax_client)
        guard = ExternalCall(
            "tax", "stripe_tax", CallPolicy(timeout_s=settings.tax_timeout_s), switch=tax_switch
        )
        adapter = StripeTax(
            tax_client, settings.tax_stripe_api_key.get_secret_value(), settings.tax_stripe_url
        )
        tax = ExternalTax(adapter, guard, tables)
    shipping: ShippingRates | None = None
    if settings.shipping_carrier == "shippo":
        carrier_client = httpx.AsyncClient()
        clients.append(carrier_client)
        shipping = shippo(settings, carrier_client, shipping_switch)
    return builtin(tax, shipping=shipping), clients


__all__ = [
    "EU_VAT_PREFIXES",
    "Destination",
    "Providers",
    "QuotedMethod",
    "Shipment",
    "Source",
    "TaxClass",
    "TaxLine",
    "TaxQuote",
    "TaxRequest",
    "builtin",
    "eu_vat_country",
    "find",
    "from_settings",
    "normalize_tax_id",
    "offered",
    "shippo",
]
