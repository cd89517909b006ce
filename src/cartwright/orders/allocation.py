"""How an order's amounts are split across its lines and their units (pure functions).

Order-level amounts (discount, shipping, the tax not carried by a line, e.g. the tax on
shipping) are split across the lines by weight (the lines' goods) with `kit.money.allocate`:
largest remainder, ties to the earlier line, so the parts sum to the amount exactly.

Within a line, units are taken in order: units `[before, before + count)` of a line of
`quantity` units get `part(x, quantity, before + count) - part(x, quantity, before)` of each
of its amounts `x`, where `part(x, n, k) = x * k // n`. The shares telescope, so whatever
sequence of partial refunds (or fulfilments, or captures) takes a line's units, they sum to
the line's amounts exactly, and all lines' to the order's total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cartwright.kit.money import allocate


@dataclass(frozen=True, slots=True)
class Breakdown:
    goods: int = 0
    discount: int = 0
    shipping: int = 0
    tax: int = 0

    @property
    def total(self) -> int:
        return self.goods - self.discount + self.shipping + self.tax

    def __add__(self, other: Breakdown) -> Breakdown:
        return Breakdown(
            self.goods + other.goods,
            self.discount + other.discount,
            self.shipping + other.shipping,
            self.tax + other.tax,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "goods": self.goods,
            "discount": self.discount,
            "shipping": self.shipping,
            "tax": self.tax,
        }


def split(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` over `weights` (largest remainder, ties by position); sums to `amount`."""
    return allocate(amount, weights)


def lines_of_order(
    lines: Sequence[tuple[int, int]],
    *,
    discount: int,
    shipping: int,
    tax: int,
    line_discounts: Sequence[int] | None = None,
) -> list[Breakdown]:
    """Each line's part of the order, from its (goods, tax) and the order's discount,
    shipping and tax: the parts sum to the order's total exactly. `line_discounts`: the
    lines' own shares of the discount (promotions allocate theirs when the cart is priced),
    used as they are when they add up to `discount`."""
    if not lines:
        return []
    weights = [goods for goods, _ in lines]
    if line_discounts is not None and sum(line_discounts) == discount:
        discounts = list(line_discounts)
    else:
        discounts = split(discount, weights)
    shippings = split(shipping, weights)
    extra_tax = split(tax - sum(t for _, t in lines), weights)
    return [
        Breakdown(goods, d, s, line_tax + t)
        for (goods, line_tax), d, s, t in zip(lines, discounts, shippings, extra_tax, strict=True)
    ]


def _part(amount: int, quantity: int, units: int) -> int:
    return amount * units // quantity


def units(line: Breakdown, quantity: int, before: int, count: int) -> Breakdown:
    """The share of units `[before, before + count)` of a line of `quantity` units."""
    if not 0 <= before <= before + count <= quantity:
        raise ValueError(f"units {before}+{count} out of a line of {quantity}")

    def share(x: int) -> int:
        return _part(x, quantity, before + count) - _part(x, quantity, before)

    return Breakdown(share(line.goods), share(line.discount), share(line.shipping), share(line.tax))
