"""Live carrier rates: a `CarrierRates` adapter asked through the kit's bounded call.

`LiveRates` offers the zone's configured methods; a method with a `carrier_service` is
priced by the carrier's rate for that service level when the carrier answers in time.
When it cannot (timeout, error, open breaker, the `shipping.external` switch off), every
method keeps its configured price, marked `Source.FALLBACK`, and the fallback is counted
(`cartwright_provider_fallbacks_total{kind="shipping",fallback="flat_rates"}`).

`ShippoRates` is written from Shippo's public API reference: `POST /shipments/` with
`address_from`, `address_to`, `parcels` and `async: false` answers the shipment with its
`rates`, each with `amount` (a decimal string), `currency`, `provider` and
`servicelevel.token`; the header is `Authorization: ShippoToken <token>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import httpx

from cartwright.kit.external import ExternalCall, ProviderError, Unavailable
from cartwright.kit.money import CURRENCY_EXPONENTS
from cartwright.providers.shipping import (
    Method,
    QuotedMethod,
    Shipment,
    Source,
    Zone,
    table_quotes,
    zone_for,
)

FALLBACK = "flat_rates"


class CarrierRates(Protocol):
    async def rates(self, shipment: Shipment) -> dict[str, int]:
        """The carrier's price per service level, in the shipment's currency's minor
        units; raises `ProviderError` for an answer it cannot use."""
        ...


def to_minor(amount: str, currency: str) -> int:
    """A decimal string in major units as an exact count of minor units."""
    exponent = CURRENCY_EXPONENTS[currency]
    try:
        value = Decimal(amount) * (Decimal(10) ** exponent)
    except InvalidOperation:
        raise ProviderError(f"malformed amount {amount!r}") from None
    if not value.is_finite() or value != value.to_integral_value() or value < 0:
        raise ProviderError(f"amount {amount!r} is not a whole number of {currency} minor units")
    return int(value)


class ShippoRates:
    """Shippo's rates for one parcel from the shop's address to the shopper's."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        token: str,
        origin: Mapping[str, str],
        base_url: str = "https://api.goshippo.com",
    ) -> None:
        self._client = client
        self._token = token
        self._origin = dict(origin)
        self._base_url = base_url.rstrip("/")

    def __repr__(self) -> str:  # never the token
        return f"ShippoRates(base_url={self._base_url!r})"

    def request_body(self, shipment: Shipment) -> dict[str, Any]:
        to = shipment.to
        address_to = {"country": to.country or ""}
        if to.region:
            address_to["state"] = to.region
        if to.postcode:
            address_to["zip"] = to.postcode
        return {
            "address_from": self._origin,
            "address_to": address_to,
            "parcels": [
                {
                    "length": "30",
                    "width": "20",
                    "height": "10",
                    "distance_unit": "cm",
                    "weight": str(max(shipment.weight_grams, 1)),
                    "mass_unit": "g",
                }
            ],
            "async": False,
        }

    async def rates(self, shipment: Shipment) -> dict[str, int]:
        response = await self._client.post(
            f"{self._base_url}/shipments/",
            json=self.request_body(shipment),
            headers={"Authorization": f"ShippoToken {self._token}"},
        )
        if response.status_code >= 300:
            raise ProviderError(f"Shippo answered {response.status_code}")
        try:
            body = response.json()
            rates = body["rates"]
        except (ValueError, KeyError, TypeError):
            raise ProviderError("Shippo's answer has no rates") from None
        if not isinstance(rates, list):
            raise ProviderError("Shippo's rates are not a list")
        prices: dict[str, int] = {}
        for rate in rates:
            try:
                token = rate["servicelevel"]["token"]
                currency = rate["currency"]
                amount = rate["amount"]
            except (KeyError, TypeError):
                raise ProviderError("a Shippo rate lacks its service level or amount") from None
            if currency != shipment.currency:  # never converted
                continue
            price = to_minor(str(amount), currency)
            if token not in prices or price < prices[token]:
                prices[token] = price
        return prices


class LiveRates:
    """The zone's methods, priced by the carrier where it answers, else by the table."""

    def __init__(self, zones: Sequence[Zone], carrier: CarrierRates, guard: ExternalCall) -> None:
        self.zones = tuple(zones)
        self._carrier = carrier
        self.guard = guard

    async def methods(self, shipment: Shipment) -> list[QuotedMethod]:
        table = table_quotes(self.zones, shipment)
        zone = zone_for(self.zones, shipment.to)
        if zone is None or not table:
            return table
        services: dict[str, Method] = {m.code: m for m in zone.methods if m.carrier_service}
        if not any(q.code in services for q in table):
            return table
        try:
            live = await self.guard.call(lambda: self._carrier.rates(shipment))
        except Unavailable:
            self.guard.fallback(FALLBACK)
            return [QuotedMethod(q.code, q.title, q.price, Source.FALLBACK) for q in table]
        quoted = []
        for q in table:
            method = services.get(q.code)
            if method is None:
                quoted.append(q)
            elif method.carrier_service in live:
                price = 0 if q.price == 0 else live[method.carrier_service or ""]
                quoted.append(QuotedMethod(q.code, q.title, price, Source.CARRIER))
            # the carrier does not offer that service for this shipment: not offered
        return quoted
