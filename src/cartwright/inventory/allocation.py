"""Which warehouses ship what: the plan of a cart's holds (ADR 0016).

Pure: given the warehouses that serve the shipping country, in the order they are tried,
and the units available in each as last read, each SKU is held whole in the first of them
that has all of it (fewest splits), else split across them in that order. The plan is only
a proposal: every hold is a guarded conditional write, so stock that went meanwhile fails
its guard and nothing of the checkout applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Hold:
    """`quantity` units of `sku` to hold in `warehouse_id`."""

    sku: str
    warehouse_id: str
    quantity: int


def plan(
    wanted: Sequence[tuple[str, int]],
    warehouse_ids: Sequence[str],
    available: Mapping[tuple[str, str], int],
) -> list[Hold]:
    """Holds for each (sku, quantity) of `wanted` (each SKU once), from `warehouse_ids`
    in that order; `available[(warehouse_id, sku)]` is what was read. A SKU short in all
    of them together is planned whole in the first warehouse (its guard then fails and the
    caller finds it short)."""
    holds: list[Hold] = []
    for sku, quantity in wanted:
        stock = [(w, max(available.get((w, sku), 0), 0)) for w in warehouse_ids]
        whole = next((w for w, units in stock if units >= quantity), None)
        if whole is not None:
            holds.append(Hold(sku, whole, quantity))
            continue
        if not warehouse_ids or sum(units for _, units in stock) < quantity:
            holds.append(Hold(sku, warehouse_ids[0] if warehouse_ids else "", quantity))
            continue
        remaining = quantity
        for w, units in stock:
            if remaining == 0:
                break
            if units > 0:
                part = min(units, remaining)
                holds.append(Hold(sku, w, part))
                remaining -= part
    return sorted(holds)
