"""Which warehouses ship what (inventory/allocation.py), and the process's warehouse cache."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cartwright.inventory.allocation import Hold, plan
from cartwright.inventory.locations import StockLocations
from tests.fakes.clock import FakeClock

WAREHOUSES = ["wh_a", "wh_b", "wh_c"]


def test_whole_from_the_first_warehouse_that_has_it_all() -> None:
    available = {("wh_a", "S"): 2, ("wh_b", "S"): 5, ("wh_c", "S"): 9}
    assert plan([("S", 2)], WAREHOUSES, available) == [Hold("S", "wh_a", 2)]
    assert plan([("S", 4)], WAREHOUSES, available) == [Hold("S", "wh_b", 4)]
    assert plan([("S", 9)], WAREHOUSES, available) == [Hold("S", "wh_c", 9)]


def test_split_in_priority_order_when_none_has_it_all() -> None:
    available = {("wh_a", "S"): 2, ("wh_b", "S"): 0, ("wh_c", "S"): 3}
    assert plan([("S", 4)], WAREHOUSES, available) == [Hold("S", "wh_a", 2), Hold("S", "wh_c", 2)]


def test_short_everywhere_is_planned_whole_in_the_first_so_its_guard_fails() -> None:
    available = {("wh_a", "S"): 1, ("wh_b", "S"): 1}
    assert plan([("S", 3)], WAREHOUSES, available) == [Hold("S", "wh_a", 3)]


@given(
    wanted=st.dictionaries(
        st.sampled_from(["S1", "S2", "S3"]), st.integers(1, 20), min_size=1, max_size=3
    ),
    stock=st.dictionaries(
        st.tuples(st.sampled_from(WAREHOUSES), st.sampled_from(["S1", "S2", "S3"])),
        st.integers(-2, 15),
    ),
)
def test_a_plan_holds_exactly_what_is_wanted_and_never_more_than_was_read(
    wanted: dict[str, int], stock: dict[tuple[str, str], int]
) -> None:
    holds = plan(sorted(wanted.items()), WAREHOUSES, stock)
    for sku, quantity in wanted.items():
        mine = [h for h in holds if h.sku == sku]
        assert sum(h.quantity for h in mine) == quantity
        assert all(h.quantity > 0 for h in mine)
        assert len({h.warehouse_id for h in mine}) == len(mine)  # one write per (wh, sku)
        there = {w: max(stock.get((w, sku), 0), 0) for w in WAREHOUSES}
        if sum(there.values()) >= quantity:
            assert all(h.quantity <= there[h.warehouse_id] for h in mine)
            whole = [w for w in WAREHOUSES if there[w] >= quantity]
            if whole:
                assert mine == [Hold(sku, whole[0], quantity)]
    assert holds == sorted(holds)


class _Conn:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.reads = 0

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        self.reads += 1
        return self.rows


def _row(wid: str, priority: int, countries: str) -> dict[str, Any]:
    return {"id": wid, "name": wid, "code": None, "priority": priority, "countries": countries}


def test_warehouses_are_read_once_per_ttl_and_serve_their_countries() -> None:
    clock = FakeClock()
    locations = StockLocations(5.0, now=clock)
    conn = _Conn([_row("wh_a", 10, "FR,NL"), _row("wh_default", 100, "")])

    async def serving(country: str | None) -> list[str]:
        return [w.id for w in await locations.serving(conn, country)]  # type: ignore[arg-type]

    assert asyncio.run(serving("FR")) == ["wh_a", "wh_default"]
    assert asyncio.run(serving("DE")) == ["wh_default"]
    assert conn.reads == 1
    clock.advance(5.1)
    conn.rows = [_row("wh_default", 100, "")]
    assert asyncio.run(serving("FR")) == ["wh_default"]
    assert conn.reads == 2
    locations.forget()
    asyncio.run(serving("FR"))
    assert conn.reads == 3
