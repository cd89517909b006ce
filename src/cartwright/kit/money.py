"""Money in integer minor units with an ISO 4217 currency. No floats anywhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Currencies the platform accepts, with their minor-unit exponent (ISO 4217).
CURRENCY_EXPONENTS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "JPY": 0,
    "KRW": 0,
    "HUF": 2,
    "BHD": 3,
}


def is_currency(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


class CurrencyMismatch(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} != {other.currency}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def as_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero; exact for any int sizes."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return sign * q


def apply_rate_bp(amount: int, basis_points: int) -> int:
    """`amount` × rate, the rate in basis points (1900 = 19 %), rounded half up."""
    return round_half_up_div(amount * basis_points, 10_000)


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` across `weights` proportionally; the parts sum to `total` exactly.

    Largest-remainder method; ties go to the earlier weight, so the result is deterministic.
    """
    if not weights:
        raise ValueError("allocate needs at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        parts = [0] * len(weights)
        parts[0] = total
        return parts
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    floors = [magnitude * w // weight_sum for w in weights]
    remainders = [magnitude * w % weight_sum for w in weights]
    leftover = magnitude - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    return [sign * p for p in floors]
