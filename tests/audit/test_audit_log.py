"""The audit log's own guarantees: same transaction as the change, append-only, a hash
chain that `cartwright audit verify` walks and that names the first tampered entry."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from cartwright.audit import service as audit
from cartwright.kit import context
from cartwright.kit.db import Database, sqlite_path
from cartwright.migrations.runner import upgrade
from tests.conftest import ROOT, SERVER_ENV


@pytest.fixture(params=["pg_database", "sqlite_database"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    database = Database(request.getfixturevalue(request.param), pool_size=4)
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


async def _count(db: Database, request_id: str) -> int:
    async with db.connection() as conn:
        page = await audit.list_events(conn, limit=100, starting_after=None, request_id=request_id)
    return len(page["data"])


class _Boom(Exception):
    pass


async def test_an_entry_commits_or_rolls_back_with_its_transaction(db: Database) -> None:
    with context.act_as("cli") as info:
        with pytest.raises(_Boom):
            async with db.transaction() as conn:
                await audit.record(conn, "test.failed", "thing", "t_1", {"n": 1})
                raise _Boom()
        assert await _count(db, info.request_id) == 0
        async with db.transaction() as conn:
            await audit.record(conn, "test.done", "thing", "t_1", {"n": 2})
        assert await _count(db, info.request_id) == 1


async def test_nothing_is_recorded_for_a_storefront_or_without_an_actor(db: Database) -> None:
    with context.act_as("key_shop", context.ActorKind.PUBLISHABLE_KEY) as info:
        async with db.transaction() as conn:
            await audit.record(conn, "test.shop", "thing", "t_2", {})
        assert await _count(db, info.request_id) == 0
    info = context.begin()
    async with db.transaction() as conn:
        await audit.record(conn, "test.worker", "thing", "t_2", {})
    assert await _count(db, info.request_id) == 0


async def test_secrets_never_reach_an_entry(db: Database) -> None:
    with context.act_as("cli") as info:
        async with db.transaction() as conn:
            await audit.record(
                conn,
                "test.secret",
                "thing",
                "t_3",
                {"key": "sk_live_x", "nested": [{"key_hash": "abc", "token": "tok"}], "ok": 1},
            )
        async with db.connection() as conn:
            page = await audit.list_events(
                conn, limit=1, starting_after=None, request_id=info.request_id
            )
    assert page["data"][0]["changes"] == {
        "key": "[redacted]",
        "nested": [{"key_hash": "[redacted]", "token": "[redacted]"}],
        "ok": 1,
    }


async def test_concurrent_writers_extend_one_unbroken_chain(db: Database) -> None:
    async def append(i: int) -> None:
        with context.act_as("cli"):
            async with db.transaction() as conn:
                await audit.record(conn, "test.concurrent", "thing", f"c_{i}", {"i": i})

    await asyncio.gather(*(append(i) for i in range(20)))
    async with db.connection() as conn:
        result = await audit.verify(conn)
    assert result.ok, result
    assert result.checked >= 20


def test_postgresql_refuses_to_change_or_delete_entries(pg_database: str) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        count = conn.execute("SELECT count(*) FROM audit_events").fetchone()
        for statement in (
            "UPDATE audit_events SET action = 'forged'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone() == count


def test_sqlite_refuses_to_change_or_delete_entries(sqlite_database: str) -> None:
    conn = sqlite3.connect(sqlite_path(sqlite_database), timeout=10)
    try:
        for statement in ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
    finally:
        conn.close()


# ------------------------------------------------------------------- verify and tamper


def _verify_cli(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SERVER_ENV, "CARTWRIGHT_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "cartwright.cli", "audit", "verify"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _three_entries(url: str) -> list[str]:
    db = Database(url, pool_size=2)
    await db.connect()
    try:
        with context.act_as("cli"):
            for i in range(3):
                async with db.transaction() as conn:
                    await audit.record(conn, "test.tamper", "thing", f"t_{i}", {"i": i})
        async with db.connection() as conn:
            page = await audit.list_events(conn, limit=10, starting_after=None)
    finally:
        await db.close()
    return [e["id"] for e in reversed(page["data"])]


async def test_verify_names_the_first_tampered_entry_on_postgresql(own_pg_database: str) -> None:
    ids = await _three_entries(own_pg_database)
    intact = _verify_cli(own_pg_database)
    assert intact.returncode == 0, intact.stderr
    assert "3 entries" in intact.stdout

    # A superuser can switch the guard off; the chain still shows the edit.
    with psycopg.connect(own_pg_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update")
        conn.execute("UPDATE audit_events SET changes = '{\"i\": 99}' WHERE id = %s", (ids[1],))
        conn.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update")
    broken = _verify_cli(own_pg_database)
    assert broken.returncode == 1, broken.stdout
    assert ids[1] in broken.stderr and "seq 2" in broken.stderr

    # Removing the entry instead: the next one no longer follows its predecessor.
    with psycopg.connect(own_pg_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update")
        conn.execute("DELETE FROM audit_events WHERE id = %s", (ids[1],))
        conn.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update")
    removed = _verify_cli(own_pg_database)
    assert removed.returncode == 1
    assert ids[2] in removed.stderr and "missing" in removed.stderr


async def test_verify_names_the_first_tampered_entry_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tamper.db'}"
    upgrade(url)
    ids = await _three_entries(url)
    assert _verify_cli(url).returncode == 0
    conn = sqlite3.connect(sqlite_path(url))
    try:
        conn.execute("DROP TRIGGER audit_events_no_update")
        conn.execute("UPDATE audit_events SET target_id = 'forged' WHERE id = ?", (ids[0],))
        conn.commit()
    finally:
        conn.close()
    broken = _verify_cli(url)
    assert broken.returncode == 1
    assert ids[0] in broken.stderr and "seq 1" in broken.stderr


async def test_the_session_chain_holds(db: Database) -> None:
    """Everything the other tests recorded through the servers chains correctly."""
    async with db.connection() as conn:
        result = await audit.verify(conn)
    assert result.ok, result
