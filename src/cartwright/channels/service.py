"""Channels: where carts are made and orders placed, and what each one sells with.

A channel has its currencies, whether its prices include tax, its capture policy, its price
list, its warehouses, its shipping methods and what checkout does when the fraud service
cannot answer. Empty lists mean "all". The `default` channel (made by the migration) keeps
the behaviour the platform had before channels: every currency, the configured capture
method, every warehouse and shipping method.

Every cart change and checkout reads its channel, so a process keeps the channels it read
for a few seconds (`CARTWRIGHT_CHANNEL_CACHE_TTL_S`), as `catalog.PriceBook` does prices:
`lookup` costs no query on the hot path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from cartwright.audit import service as audit
from cartwright.channels import repository
from cartwright.channels.errors import ChannelCodeTaken, ChannelNotFound
from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Row, UniqueViolation

DEFAULT_CHANNEL = "default"


class CaptureMethod(StrEnum):
    AUTOMATIC = "automatic"  # captured at checkout
    MANUAL = "manual"  # authorized at checkout, captured as it is fulfilled


class FraudFailureMode(StrEnum):
    OPEN = "open"  # the fraud service cannot answer: checkout goes on
    CLOSED = "closed"  # the fraud service cannot answer: checkout refuses


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    code: str
    name: str
    currencies: tuple[str, ...]  # empty: every currency
    prices_include_tax: bool
    capture_method: CaptureMethod  # the channel's own, or the configured default
    price_list_id: str | None
    warehouses: tuple[str, ...]  # warehouse codes; empty: all, by their own priority
    shipping_methods: tuple[str, ...]  # method codes; empty: all
    fraud_failure_mode: FraudFailureMode
    created_at: datetime
    updated_at: datetime
    # Whether `capture_method` is the channel's own (False: CARTWRIGHT_CAPTURE_METHOD).
    own_capture_method: bool = True

    def sells(self, currency: str) -> bool:
        return not self.currencies or currency in self.currencies

    def offers_shipping(self, method_code: str) -> bool:
        return not self.shipping_methods or method_code in self.shipping_methods

    def uses_warehouse(self, code: str | None) -> bool:
        return not self.warehouses or (code is not None and code in self.warehouses)


def _list(value: Any) -> tuple[str, ...]:
    values = orjson.loads(value) if isinstance(value, str | bytes) else value
    return tuple(values or ())


def _channel(row: Row, default_capture: CaptureMethod) -> Channel:
    own = row["capture_method"]
    return Channel(
        id=row["id"],
        code=row["code"],
        name=row["name"],
        currencies=_list(row["currencies"]),
        prices_include_tax=bool(row["prices_include_tax"]),
        capture_method=CaptureMethod(own) if own else default_capture,
        price_list_id=row["price_list_id"],
        warehouses=_list(row["warehouses"]),
        shipping_methods=_list(row["shipping_methods"]),
        fraud_failure_mode=FraudFailureMode(row["fraud_failure_mode"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        own_capture_method=bool(own),
    )


class ChannelBook:
    """Channels by code, read through a short per-process cache (unknown codes too, so a
    wrong header costs no query per request either)."""

    MAX_ENTRIES = 10_000

    def __init__(
        self,
        ttl_s: float = 5.0,
        default_capture: CaptureMethod = CaptureMethod.AUTOMATIC,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.default_capture = default_capture
        self._now = now
        self._entries: dict[str, tuple[float, Channel | None]] = {}

    async def find(self, conn: Conn, code: str) -> Channel | None:
        now = self._now()
        entry = self._entries.get(code)
        if entry is not None and entry[0] > now:
            return entry[1]
        row = await repository.find_by_code(conn, code)
        found = None if row is None else _channel(row, self.default_capture)
        if self.ttl_s > 0:
            if len(self._entries) > self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[code] = (now + self.ttl_s, found)
        return found

    def forget(self) -> None:
        self._entries.clear()


# This process's channels. The composition root configures it from the settings; tests
# that run the platform in-process may `forget()` it.
book = ChannelBook()


def configure(*, ttl_s: float, default_capture: str) -> None:
    """Set the cache's TTL and the capture method of channels without one of their own."""
    book.ttl_s = ttl_s
    book.default_capture = CaptureMethod(default_capture)
    book.forget()


def forget() -> None:
    book.forget()


async def find(conn: Conn, code: str) -> Channel | None:
    """The channel with this code, None if there is none (cached, see `ChannelBook`)."""
    return await book.find(conn, code)


async def lookup(conn: Conn, code: str) -> Channel:
    """The channel with this code (cached); `ChannelNotFound` (404) if there is none."""
    found = await book.find(conn, code)
    if found is None:
        raise ChannelNotFound(f"No channel {code!r}.")
    return found


# ------------------------------------------------------------------------------ admin API


def present(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "code": channel.code,
        "name": channel.name,
        "currencies": list(channel.currencies),
        "prices_include_tax": channel.prices_include_tax,
        "capture_method": channel.capture_method.value,
        "price_list_id": channel.price_list_id,
        "warehouses": list(channel.warehouses),
        "shipping_methods": list(channel.shipping_methods),
        "fraud_failure_mode": channel.fraud_failure_mode.value,
        "created_at": clock.isoformat(channel.created_at),
        "updated_at": clock.isoformat(channel.updated_at),
    }


def _audited(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("id", "created_at", "updated_at")}


async def create_channel(conn: Conn, fields: dict[str, Any]) -> dict[str, Any]:
    """A new channel; `fields` holds `code` and `name` and any of the settings (those left
    out: the defaults). A code in use is 409 `channel_code_taken`."""
    values: dict[str, Any] = {
        "currencies": [],
        "warehouses": [],
        "shipping_methods": [],
        "prices_include_tax": False,
        "fraud_failure_mode": FraudFailureMode.OPEN.value,
        **fields,
        "id": ids.new_id("chn"),
    }
    if await repository.find_by_code(conn, values["code"]) is not None:
        raise ChannelCodeTaken(f"A channel has the code {values['code']!r} already.")
    try:
        row = await repository.insert_channel(conn, values, clock.utcnow())
    except UniqueViolation:  # a concurrent request took the code after our check
        raise ChannelCodeTaken(f"A channel has the code {values['code']!r} already.") from None
    body = present(_channel(row, book.default_capture))
    await audit.record(conn, "channel.created", "channel", row["id"], _audited(body))
    book.forget()
    return body


async def get_channel(conn: Conn, channel_id: str) -> dict[str, Any]:
    row = await repository.get_channel(conn, channel_id)
    if row is None:
        raise ChannelNotFound(f"No channel {channel_id}.")
    return present(_channel(row, book.default_capture))


async def list_channels(conn: Conn, *, limit: int, starting_after: str | None) -> dict[str, Any]:
    rows = await repository.list_channels(conn, limit=limit + 1, starting_after=starting_after)
    return {
        "data": [present(_channel(r, book.default_capture)) for r in rows[:limit]],
        "has_more": len(rows) > limit,
    }


async def update_channel(conn: Conn, channel_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Change the fields given (the code stays); audited with what changed."""
    before = await repository.get_channel(conn, channel_id)
    if before is None:
        raise ChannelNotFound(f"No channel {channel_id}.")
    row = await repository.update_channel(conn, channel_id, fields, clock.utcnow())
    assert row is not None
    body = present(_channel(row, book.default_capture))
    old = present(_channel(before, book.default_capture))
    changed = {k: body[k] for k in _audited(body) if body[k] != old[k]}
    await audit.record(conn, "channel.updated", "channel", channel_id, changed)
    book.forget()
    return body
