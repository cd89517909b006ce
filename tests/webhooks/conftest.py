from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cartwright.kit import clock
from cartwright.kit.db import Database
from tests.conftest import new_sqlite
from tests.fakes.clock import FakeClock
from tests.webhooks.support import Receiver, Rig


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The platform's wall clock (`kit.clock.utcnow`), moved by the test."""
    fake = FakeClock(start=float(int(time.time())))
    monkeypatch.setattr(clock, "utcnow", lambda: datetime.fromtimestamp(fake.now, UTC))
    return fake


@pytest.fixture(params=["postgres", "sqlite"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database of the test's own (the session's servers run senders of their own)."""
    if request.param == "postgres":
        url = request.getfixturevalue("own_pg_database")
    else:
        url = new_sqlite(request.getfixturevalue("sqlite_template"), tmp_path / "webhooks.db")
    database = Database(url, pool_size=8)
    await database.connect()
    yield database
    await database.close()


@pytest.fixture
async def rig(db: Database, fake_clock: FakeClock) -> AsyncIterator[Rig]:
    made = Rig(db, fake_clock)
    yield made
    for sender in made.senders:
        await sender.close()


@pytest.fixture
async def receiver(fake_clock: FakeClock) -> AsyncIterator[Receiver]:
    made = await Receiver(clock=fake_clock).start()
    yield made
    await made.stop()
