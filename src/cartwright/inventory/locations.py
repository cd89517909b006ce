"""Stock locations as a process sees them: the warehouses, cached for a few seconds.

Checkout asks on every attempt which warehouses serve the shipping country. With one
warehouse (the default) it needs nothing more: the hold is planned without reading the
stock, and the checkout batch is what it was before locations existed. A warehouse created
in another process is seen here within `ttl_s` (meanwhile checkouts here do not take from
it: they may refuse stock only it holds, never sell what is not there).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cartwright.inventory import repository
from cartwright.kit.db import Conn, Row


@dataclass(frozen=True, slots=True)
class Warehouse:
    id: str
    name: str
    code: str | None
    priority: int
    countries: tuple[str, ...]  # empty: every country

    def serves(self, country: str | None) -> bool:
        return not self.countries or country is None or country in self.countries

    @classmethod
    def of(cls, row: Row) -> Warehouse:
        countries = tuple(c for c in (row["countries"] or "").split(",") if c)
        return cls(row["id"], row["name"], row["code"], int(row["priority"]), countries)


class StockLocations:
    def __init__(self, ttl_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._now = now
        self._cached: tuple[float, list[Warehouse]] | None = None

    async def all(self, conn: Conn) -> list[Warehouse]:
        """Every warehouse, in the order they are tried (priority, then id)."""
        now = self._now()
        if self._cached is not None and self._cached[0] > now:
            return self._cached[1]
        found = [Warehouse.of(r) for r in await repository.all_warehouses(conn)]
        if self._ttl_s > 0:
            self._cached = (now + self._ttl_s, found)
        return found

    async def serving(
        self, conn: Conn, country: str | None, warehouses: Sequence[str] = ()
    ) -> Sequence[Warehouse]:
        """The warehouses serving `country`, by priority; given `warehouses` (codes: a
        channel's stock locations), only those among them."""
        return [
            w
            for w in await self.all(conn)
            if w.serves(country) and (not warehouses or w.code in warehouses)
        ]

    def forget(self) -> None:
        """Read them again next time (this process created or changed one)."""
        self._cached = None
