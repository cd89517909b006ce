"""The tax and shipping providers the platform quotes with, chosen once at start-up.

Built-ins now (a country rate table, the shipping zones' configured rates); external
adapters (`providers.carrier.LiveRates`) implement the same protocols.
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
from cartwright.providers.tax import RateTableTax, TaxCalculator, TaxQuote


@dataclass(frozen=True, slots=True)
class Providers:
    tax: TaxCalculator
    shipping: ShippingRates


def builtin() -> Providers:
    return Providers(tax=RateTableTax(), shipping=TableRates(DEFAULT_ZONES))


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
    settings: Settings, client: httpx.AsyncClient, switch: Callable[[], bool] | None = None
) -> Providers:
    """Built-in tax; shipping priced by Shippo where configured, bounded by the kit's
    guard (`switch`: the `shipping.external` flag), the flat rates as the fallback."""
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
    return Providers(tax=RateTableTax(), shipping=LiveRates(zones, adapter, guard))


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
