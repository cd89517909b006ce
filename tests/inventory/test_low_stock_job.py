"""The worker's low-stock pass, called directly on a database of this module's own (the
session's servers' workers must not take its passes, nor it theirs), on both databases;
and migration 0013's opening movements."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cartwright.events import service as events
from cartwright.inventory import service as inventory
from cartwright.kit import clock
from cartwright.kit.db import Database
from cartwright.migrations.runner import upgrade
from tests.conftest import _migrated_database
from tests.factories import unique_sku


@pytest.fixture(scope="module", params=["postgres", "sqlite"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "postgres":
        with _migrated_database() as url:
            yield url
        return
    url = f"sqlite:///{tmp_path_factory.mktemp('low-stock') / 'cartwright.db'}"
    upgrade(url)
    yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=8)
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


async def _low_events(db: Database, sku: str) -> list[dict[str, object]]:
    async with db.connection() as conn:
        return [e for e in await events.about(conn, [sku]) if e["type"] == "inventory.low"]


async def _stocked(db: Database, on_hand: int, threshold: int | None) -> str:
    sku = unique_sku("LOW")
    async with db.transaction() as conn:
        await inventory.set_on_hand(conn, sku, on_hand)
        if threshold is not None:
            await inventory.set_low_stock_threshold(conn, sku, threshold)
    return sku


async def _adjust(db: Database, sku: str, delta: int) -> None:
    async with db.transaction() as conn:
        await inventory.adjust(conn, sku, delta, inventory.MovementReason.CORRECTION)


async def test_passes_at_once_fire_once_and_re_arm(db: Database) -> None:
    sku = await _stocked(db, 10, threshold=4)
    await _adjust(db, sku, -7)

    fired = await asyncio.gather(
        *(inventory.watch_low_stock(db, default_threshold=None) for _ in range(5))
    )
    assert sum(fired) >= 1
    assert len(await _low_events(db, sku)) == 1
    await inventory.watch_low_stock(db, default_threshold=None)
    assert len(await _low_events(db, sku)) == 1

    await _adjust(db, sku, 10)  # available 13 > 4: re-armed by the next pass
    await inventory.watch_low_stock(db, default_threshold=None)
    async with db.connection() as conn:
        assert (await inventory.get_stock(conn, sku))["low_stock"] is False
    await _adjust(db, sku, -9)  # 4: at the threshold
    await asyncio.gather(*(inventory.watch_low_stock(db, default_threshold=None) for _ in range(3)))
    low = await _low_events(db, sku)
    assert len(low) == 2
    assert low[1]["data"]["available"] == 4  # type: ignore[index]


async def test_the_default_threshold_watches_skus_without_their_own(db: Database) -> None:
    unwatched = await _stocked(db, 1, threshold=None)
    await inventory.watch_low_stock(db, default_threshold=None)
    assert await _low_events(db, unwatched) == []  # no threshold anywhere: not watched

    own = await _stocked(db, 3, threshold=1)  # its own threshold wins over the default
    await _adjust(db, unwatched, 1)
    await inventory.watch_low_stock(db, default_threshold=5)
    assert len(await _low_events(db, unwatched)) == 1
    assert await _low_events(db, own) == []
    await inventory.watch_low_stock(db, default_threshold=5)
    assert len(await _low_events(db, unwatched)) == 1


async def test_a_pass_held_by_another_worker_does_nothing(db: Database) -> None:
    sku = await _stocked(db, 5, threshold=4)
    await _adjust(db, sku, -2)
    async with db.transaction() as conn:  # another worker's pass is running
        await conn.execute(
            "UPDATE inventory_cursors SET leased_until = $1 WHERE name = $2",
            clock.utcnow() + inventory.LOW_STOCK_LEASE,
            inventory.LOW_STOCK_JOB,
        )
    assert await inventory.watch_low_stock(db, default_threshold=None) == 0
    assert await _low_events(db, sku) == []
    async with db.transaction() as conn:  # its lease ran out (it crashed)
        await conn.execute(
            "UPDATE inventory_cursors SET leased_until = $1 WHERE name = $2",
            clock.utcnow() - inventory.LOW_STOCK_LEASE,
            inventory.LOW_STOCK_JOB,
        )
    assert await inventory.watch_low_stock(db, default_threshold=None) == 1


def test_migration_journals_the_levels_that_existed(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0012")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO stock_levels (warehouse_id, sku, on_hand, reserved, updated_at)"
            " VALUES ('wh_default', 'OLD-1', 9, 2, '2026-01-01T00:00:00+00:00')"
        )
    upgrade(url)
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT id, warehouse_id, sku, delta_on_hand, delta_reserved, reason"
            " FROM inventory_movements"
        ).fetchall()
    assert len(rows) == 1
    assert rows[0][0].startswith("im_")
    assert rows[0][1:] == ("wh_default", "OLD-1", 9, 2, "opening")
