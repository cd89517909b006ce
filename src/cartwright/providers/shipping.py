"""Built-in shipping: flat-rate methods that ship to every country.

Prices are given in major units and turned into each currency's minor units, so every
supported currency has a price. An external rate provider implements `ShippingRates` later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cartwright.kit.money import CURRENCY_EXPONENTS


@dataclass(frozen=True, slots=True)
class ShippingMethod:
    code: str
    title: str
    price_major: int

    def price(self, currency: str) -> int:
        exponent: int = CURRENCY_EXPONENTS[currency]
        return int(self.price_major * 10**exponent)


class ShippingRates(Protocol):
    def methods(self, country: str | None) -> list[ShippingMethod]: ...
    def find(self, code: str, country: str | None) -> ShippingMethod | None: ...


FLAT_METHODS = (
    ShippingMethod("standard", "Standard shipping", 5),
    ShippingMethod("express", "Express shipping", 15),
)


class FlatRates:
    def __init__(self, methods: tuple[ShippingMethod, ...] = FLAT_METHODS) -> None:
        self._methods = {m.code: m for m in methods}

    def methods(self, country: str | None) -> list[ShippingMethod]:
        return list(self._methods.values())

    def find(self, code: str, country: str | None) -> ShippingMethod | None:
        return self._methods.get(code)
