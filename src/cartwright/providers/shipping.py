"""Shipping: zones, their methods and each method's rates in each currency's minor units.

A shipment (destination, weight, value, currency) is matched to the most specific zone
that covers it (a postcode pattern or range beats a region, a region beats a country, a
country beats the world zone; ties go to the zone listed first). The zone's methods that
have a rate in the cart's currency are offered, each priced by its rate:

- `flat`: one price;
- `weight`: the first tier whose `up_to` (grams, inclusive) holds the shipment's weight;
  a shipment heavier than the last bounded tier is not offered that method;
- `value`: the first tier whose `up_to` (minor units, inclusive) holds the goods' value;
- a `free_from` threshold (minor units): goods worth at least that ship for 0.

Prices are explicit per currency (JPY 800, EUR 590, BHD 2500): nothing is converted.
The built-in zones (`DEFAULT_ZONES`) keep the contract "a `standard` method exists for
every country" when nothing else is configured. A carrier's live rates (`carrier.py`)
go through the same protocol, `ShippingRates`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Protocol

from cartwright.kit.money import CURRENCY_EXPONENTS


class RateKind(StrEnum):
    FLAT = "flat"
    WEIGHT = "weight"
    VALUE = "value"


class Source(StrEnum):
    """Where a quoted price came from."""

    TABLE = "table"  # the configured rates
    CARRIER = "carrier"  # a carrier's live rate
    FALLBACK = "fallback"  # the configured rates, because the carrier could not answer


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: int | None  # inclusive bound (grams or minor units); None: no bound
    price: int


@dataclass(frozen=True, slots=True)
class Rate:
    """One method's price in one currency, in that currency's minor units."""

    kind: RateKind = RateKind.FLAT
    price: int = 0  # the flat price
    tiers: tuple[Tier, ...] = ()
    free_from: int | None = None

    def __post_init__(self) -> None:
        if self.price < 0 or any(t.price < 0 for t in self.tiers):
            raise ValueError("a shipping price is never negative")
        if self.kind is not RateKind.FLAT and not self.tiers:
            raise ValueError("a tiered rate needs at least one tier")
        bounds = [t.up_to for t in self.tiers]
        if None in bounds[:-1]:
            raise ValueError("only the last tier may be unbounded")
        bounded = [b for b in bounds if b is not None]
        if bounded != sorted(set(bounded)) or any(b < 0 for b in bounded):
            raise ValueError("tier bounds must be increasing and not negative")
        if self.free_from is not None and self.free_from < 0:
            raise ValueError("a free-shipping threshold is never negative")

    def tier_index(self, measure: int) -> int | None:
        """The tier that holds `measure`, or None beyond the last bounded tier."""
        for i, tier in enumerate(self.tiers):
            if tier.up_to is None or measure <= tier.up_to:
                return i
        return None

    def quote(self, weight_grams: int, value: int) -> int | None:
        """The price for a shipment, or None when this rate does not take it."""
        if self.kind is RateKind.FLAT:
            price = self.price
        else:
            index = self.tier_index(weight_grams if self.kind is RateKind.WEIGHT else value)
            if index is None:
                return None
            price = self.tiers[index].price
        if self.free_from is not None and value >= self.free_from:
            return 0
        return price


@dataclass(frozen=True, slots=True)
class Method:
    code: str
    title: str
    rates: Mapping[str, Rate]  # by currency
    carrier_service: str | None = None  # the carrier's service level for live rates


class Specificity(IntEnum):
    WORLD = 0
    COUNTRY = 1
    REGION = 2
    POSTCODE = 3


@dataclass(frozen=True, slots=True)
class Destination:
    country: str | None
    region: str | None = None
    postcode: str | None = None


def _norm_postcode(postcode: str) -> str:
    return re.sub(r"[\s-]", "", postcode).upper()


def postcode_matches(pattern: str, postcode: str) -> bool:
    """`75*` (prefix), `10115` (exact) or `10000..19999` (an inclusive range of postcodes
    of the same length, compared as digits; spaces and dashes ignored, case-insensitive)."""
    code = _norm_postcode(postcode)
    if ".." in pattern:
        low, high = (_norm_postcode(p) for p in pattern.split("..", 1))
        if not (low.isdigit() and high.isdigit() and code.isdigit()):
            return False
        return len(code) == len(low) == len(high) and low <= code <= high
    pat = _norm_postcode(pattern)
    if pat.endswith("*"):
        return code.startswith(pat[:-1])
    return code == pat


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    name: str
    methods: tuple[Method, ...]
    countries: frozenset[str] = frozenset()  # empty: every country (a world zone)
    regions: frozenset[str] = frozenset()  # subdivision codes within those countries
    postcodes: tuple[str, ...] = ()  # patterns (see `postcode_matches`)

    def match(self, to: Destination) -> Specificity | None:
        """How specifically this zone covers `to`, or None when it does not."""
        if not self.countries:
            return Specificity.WORLD if not (self.regions or self.postcodes) else None
        if to.country is None or to.country.upper() not in self.countries:
            return None
        if self.postcodes:
            if to.postcode and any(postcode_matches(p, to.postcode) for p in self.postcodes):
                return Specificity.POSTCODE
            return None
        if self.regions:
            if to.region and to.region.upper() in self.regions:
                return Specificity.REGION
            return None
        return Specificity.COUNTRY


def zone_for(zones: Sequence[Zone], to: Destination) -> Zone | None:
    best: tuple[int, Zone] | None = None
    for zone in zones:
        level = zone.match(to)
        if level is not None and (best is None or level > best[0]):
            best = (level, zone)
    return None if best is None else best[1]


@dataclass(frozen=True, slots=True)
class Shipment:
    """What a cart ships: where to, how heavy, how much the goods are worth."""

    to: Destination
    currency: str
    weight_grams: int = 0
    value: int = 0  # the goods' subtotal, in the currency's minor units


@dataclass(frozen=True, slots=True)
class QuotedMethod:
    code: str
    title: str
    price: int  # minor units of the shipment's currency
    source: Source = Source.TABLE

    @property
    def estimated(self) -> bool:
        """True when a carrier was asked and its rate could not be had."""
        return self.source is Source.FALLBACK


class ShippingRates(Protocol):
    async def methods(self, shipment: Shipment) -> list[QuotedMethod]: ...


def table_quotes(zones: Sequence[Zone], shipment: Shipment) -> list[QuotedMethod]:
    """The configured methods and prices for a shipment: pure, no I/O."""
    zone = zone_for(zones, shipment.to)
    if zone is None:
        return []
    quoted = []
    for method in zone.methods:
        rate = method.rates.get(shipment.currency)
        if rate is None:
            continue
        price = rate.quote(shipment.weight_grams, shipment.value)
        if price is not None:
            quoted.append(QuotedMethod(method.code, method.title, price))
    return quoted


def offered(methods: Sequence[QuotedMethod], allowed: Collection[str] = ()) -> list[QuotedMethod]:
    """The methods a channel allows (`allowed` empty: all of them)."""
    return [m for m in methods if not allowed or m.code in allowed]


async def find(
    rates: ShippingRates, code: str, shipment: Shipment, allowed: Collection[str] = ()
) -> QuotedMethod | None:
    for method in offered(await rates.methods(shipment), allowed):
        if method.code == code:
            return method
    return None


class TableRates:
    """The configured zones' rates, no carrier asked."""

    def __init__(self, zones: Sequence[Zone]) -> None:
        self.zones = tuple(zones)

    async def methods(self, shipment: Shipment) -> list[QuotedMethod]:
        return table_quotes(self.zones, shipment)


def _flat(prices: Mapping[str, int]) -> dict[str, Rate]:
    missing = set(CURRENCY_EXPONENTS) - set(prices)
    if missing:
        raise ValueError(f"no default shipping price for {sorted(missing)}")
    return {currency: Rate(RateKind.FLAT, price) for currency, price in prices.items()}


# The built-in world zone's prices, chosen in each currency (minor units), not converted.
STANDARD_PRICES: dict[str, int] = {
    "EUR": 500,
    "USD": 500,
    "GBP": 450,
    "CHF": 500,
    "SEK": 5900,
    "NOK": 5900,
    "DKK": 3900,
    "PLN": 2500,
    "CZK": 12900,
    "CAD": 700,
    "AUD": 800,
    "NZD": 900,
    "JPY": 800,
    "KRW": 7000,
    "HUF": 199000,
    "BHD": 2500,
}
EXPRESS_PRICES: dict[str, int] = {
    "EUR": 1500,
    "USD": 1500,
    "GBP": 1300,
    "CHF": 1500,
    "SEK": 16900,
    "NOK": 16900,
    "DKK": 11900,
    "PLN": 6900,
    "CZK": 36900,
    "CAD": 2000,
    "AUD": 2200,
    "NZD": 2500,
    "JPY": 2400,
    "KRW": 20000,
    "HUF": 599000,
    "BHD": 7000,
}

DEFAULT_ZONES: tuple[Zone, ...] = (
    Zone(
        id="world",
        name="World",
        methods=(
            Method("standard", "Standard shipping", _flat(STANDARD_PRICES)),
            Method("express", "Express shipping", _flat(EXPRESS_PRICES)),
        ),
    ),
)
