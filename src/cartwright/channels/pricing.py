"""Which price a cart line pays: a price list's, or the variant's base price, and why.

Resolution for a line (SKU, quantity, currency, channel, customer group, now), a pure
function (`resolve`): among the price lists valid now (`starts_at <= now < ends_at`, either
bound open) that match the channel (or name none) and the customer group (or name none),
and that hold a price for the SKU in the currency at a tier the quantity reaches, the most
specific wins (group and channel > group > channel > neither), then the highest priority,
then the smallest id (so the answer never depends on the order lists are read in); within
it, the largest tier `min_quantity <= quantity`. No such price: the base price. A channel's
own `price_list_id` matches that channel as a list naming it would.

Validity is judged on every call with the current time, never cached: a cached list or
price is only its definition, so a sale starts and ends on its own, to the instant, on
every process (the cache's TTL only bounds how late an edit is seen).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cartwright.channels import repository
from cartwright.kit.db import Conn, Row


class PriceKind(StrEnum):
    BASE = "base"
    PRICE_LIST = "price_list"


@dataclass(frozen=True, slots=True)
class PriceList:
    id: str
    name: str
    channel: str | None
    customer_group: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    priority: int

    def valid_at(self, now: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= now) and (
            self.ends_at is None or now < self.ends_at
        )

    def specificity(self, channel_list_id: str | None) -> int:
        """3: group and channel, 2: group, 1: channel, 0: neither."""
        by_channel = self.channel is not None or self.id == channel_list_id
        return 2 * (self.customer_group is not None) + by_channel

    def matches(self, channel: str, group: str | None, channel_list_id: str | None) -> bool:
        channel_ok = self.channel is None or self.channel == channel or self.id == channel_list_id
        return channel_ok and (self.customer_group is None or self.customer_group == group)

    @classmethod
    def of(cls, row: Row) -> PriceList:
        return cls(
            row["id"],
            row["name"],
            row["channel"],
            row["customer_group"],
            row["starts_at"],
            row["ends_at"],
            int(row["priority"]),
        )


@dataclass(frozen=True, slots=True)
class ListPrice:
    price_list_id: str
    sku: str
    currency: str
    amount: int
    min_quantity: int


@dataclass(frozen=True, slots=True)
class Context:
    """Who and when a cart is priced for."""

    channel: str
    customer_group: str | None
    now: datetime
    channel_list_id: str | None = None  # the channel's own price list


@dataclass(frozen=True, slots=True)
class PriceSource:
    kind: PriceKind
    reason: str
    price_list_id: str | None = None
    name: str | None = None
    min_quantity: int | None = None

    def present(self) -> dict[str, Any]:
        if self.kind is PriceKind.BASE:
            return {"kind": self.kind.value, "reason": self.reason}
        return {
            "kind": self.kind.value,
            "price_list_id": self.price_list_id,
            "name": self.name,
            "min_quantity": self.min_quantity,
            "reason": self.reason,
        }


BASE_REASON = "no price list valid now has a price for this SKU, currency and quantity"
BASE = PriceSource(PriceKind.BASE, BASE_REASON)


def _why(found: PriceList, price: ListPrice, context: Context) -> str:
    scope = []
    if found.customer_group is not None:
        scope.append(f"customer group {found.customer_group!r}")
    if found.channel is not None or found.id == context.channel_list_id:
        scope.append(f"channel {context.channel!r}")
    whom = " and ".join(scope) if scope else "every channel and customer"
    window = ""
    if found.ends_at is not None:
        window = f", until {found.ends_at.isoformat()}"
    tier = f"from {price.min_quantity} units" if price.min_quantity > 1 else "any quantity"
    return (
        f"price list {found.name!r} (for {whom}, priority {found.priority}{window};"
        f" {tier}) is the most specific valid now"
    )


def resolve(
    base: int | None,
    quantity: int,
    lists: Iterable[PriceList],
    prices: Iterable[ListPrice],
    context: Context,
) -> tuple[int | None, PriceSource]:
    """The unit price of a line and where it comes from. `prices` are the SKU's prices in
    the cart's currency, of any list; `lists` the lists they may belong to."""
    by_id = {pl.id: pl for pl in lists}
    reached = [p for p in prices if p.min_quantity <= quantity]
    candidates = {
        found.id: found
        for found in (by_id.get(p.price_list_id) for p in reached)
        if found is not None
        and found.valid_at(context.now)
        and found.matches(context.channel, context.customer_group, context.channel_list_id)
    }
    if not candidates:
        return base, BASE
    winner = min(
        candidates.values(),
        key=lambda pl: (-pl.specificity(context.channel_list_id), -pl.priority, pl.id),
    )
    tier = max((p for p in reached if p.price_list_id == winner.id), key=lambda p: p.min_quantity)
    return tier.amount, PriceSource(
        PriceKind.PRICE_LIST,
        _why(winner, tier, context),
        price_list_id=winner.id,
        name=winner.name,
        min_quantity=tier.min_quantity,
    )


class PriceLists:
    """The price lists and their prices, read through a short per-process cache.

    The lists themselves (few) are read once per `ttl_s`; with none, pricing a cart reads
    nothing more than it did before price lists existed. Prices are read per (SKU,
    currency) and kept `ttl_s` too. Validity is never cached (see the module's docstring).
    """

    MAX_ENTRIES = 50_000

    def __init__(self, ttl_s: float = 5.0, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._now = now
        self._lists: tuple[float, tuple[PriceList, ...]] | None = None
        self._prices: dict[tuple[str, str], tuple[float, tuple[ListPrice, ...]]] = {}

    async def lists(self, conn: Conn) -> tuple[PriceList, ...]:
        now = self._now()
        if self._lists is not None and self._lists[0] > now:
            return self._lists[1]
        found = tuple(PriceList.of(r) for r in await repository.all_price_lists(conn))
        if self.ttl_s > 0:
            self._lists = (now + self.ttl_s, found)
        return found

    async def prices(
        self, conn: Conn, skus: Sequence[str], currency: str
    ) -> dict[str, tuple[ListPrice, ...]]:
        """Every list's prices of `skus` in `currency` (no query when no list exists)."""
        if not await self.lists(conn):
            return {}
        now = self._now()
        found: dict[str, tuple[ListPrice, ...]] = {}
        missing = []
        for sku in dict.fromkeys(skus):
            entry = self._prices.get((sku, currency))
            if entry is not None and entry[0] > now:
                found[sku] = entry[1]
            else:
                missing.append(sku)
        if missing:
            fetched: dict[str, list[ListPrice]] = {sku: [] for sku in missing}
            for row in await repository.list_prices_of(conn, missing, currency):
                fetched[row["sku"]].append(
                    ListPrice(
                        row["price_list_id"],
                        row["sku"],
                        row["currency"],
                        int(row["amount"]),
                        int(row["min_quantity"]),
                    )
                )
            if self.ttl_s > 0 and len(self._prices) > self.MAX_ENTRIES:
                self._prices.clear()
            for sku, rows in fetched.items():
                if self.ttl_s > 0:
                    self._prices[(sku, currency)] = (now + self.ttl_s, tuple(rows))
                found[sku] = tuple(rows)
        return found

    def forget(self) -> None:
        """Read everything again next time (this process changed a list or its prices)."""
        self._lists = None
        self._prices.clear()
