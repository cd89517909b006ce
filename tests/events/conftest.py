"""A `Database` on the session's PostgreSQL and SQLite databases, for the feed and the relay."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cartwright.kit.db import Database


@pytest.fixture
async def pg_db(pg_database: str) -> AsyncIterator[Database]:
    db = Database(pg_database, pool_size=12, name="events-test")
    await db.connect()
    yield db
    await db.close()


@pytest.fixture
async def sqlite_db(sqlite_database: str) -> AsyncIterator[Database]:
    db = Database(sqlite_database)
    await db.connect()
    yield db
    await db.close()


@pytest.fixture(params=["postgres", "sqlite"])
async def any_db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    url: str = request.getfixturevalue(
        "pg_database" if request.param == "postgres" else "sqlite_database"
    )
    db = Database(url, pool_size=12, name="events-test")
    await db.connect()
    yield db
    await db.close()
