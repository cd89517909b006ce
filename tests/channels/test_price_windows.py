"""A sale starts and ends on its own, to the instant, however long the process keeps the
price lists it read (fake clocks: the wall clock for windows, the monotonic one for the
cache), on both databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from cartwright.channels import pricing
from cartwright.channels import service as channels
from cartwright.kit import clock
from cartwright.kit.db import Database
from tests.fakes.clock import FakeClock

START = datetime(2031, 3, 1, 9, tzinfo=UTC)
END = START + timedelta(hours=2)


@pytest.fixture(params=["pg_database", "sqlite_database"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    database = Database(request.getfixturevalue(request.param), pool_size=4)
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


async def test_a_sale_starts_and_ends_on_its_own(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sku = f"SALE-{uuid.uuid4().hex[:10].upper()}"
    async with db.transaction() as conn:
        sale = await channels.create_price_list(
            conn,
            {
                "name": "Spring sale",
                "channel": None,
                "customer_group": None,
                "starts_at": START,
                "ends_at": END,
                "priority": 0,
            },
        )
        await channels.set_prices(conn, sale["id"], [(sku, "EUR", 750, 1)])
    ticks = FakeClock()
    book = pricing.PriceLists(ttl_s=3600, now=ticks)  # the cache never expires here
    wall = [START - timedelta(seconds=1)]
    monkeypatch.setattr(clock, "utcnow", lambda: wall[0])

    async def price() -> tuple[int | None, pricing.PriceSource]:
        async with db.connection() as conn:
            lists = await book.lists(conn)
            found = await book.prices(conn, [sku], "EUR")
        context = pricing.Context("default", None, clock.utcnow())
        return pricing.resolve(1000, 1, lists, found.get(sku, ()), context)

    assert await price() == (1000, pricing.BASE)  # read and cached before the sale
    wall[0] = START
    amount, source = await price()
    assert amount == 750 and source.price_list_id == sale["id"]
    wall[0] = END - timedelta(microseconds=1)
    assert (await price())[0] == 750
    wall[0] = END
    assert await price() == (1000, pricing.BASE)
    ticks.advance(10)  # nothing was read again meanwhile: the cache served every answer
    async with db.transaction() as conn:
        await channels.set_prices(conn, sale["id"], [(sku, "EUR", 1, 1)])
    wall[0] = START + timedelta(minutes=1)
    assert (await price())[0] == 750  # still the cached definition (TTL not over)
    ticks.advance(3600)
    assert (await price())[0] == 1  # the edit, once the TTL is over
