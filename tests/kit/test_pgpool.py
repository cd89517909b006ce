"""The request-path connection pool, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from cartwright.kit.db import asyncpg_dsn
from cartwright.kit.pgpool import ConnectionPool, PoolClosed


@pytest.fixture
async def pool(pg_database: str) -> AsyncIterator[ConnectionPool]:
    dsn = asyncpg_dsn(pg_database)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn)

    pool = ConnectionPool(connect, max_size=3)
    await pool.open(min_size=1)
    yield pool
    await pool.close()


async def test_never_more_connections_than_max_size(pool: ConnectionPool) -> None:
    in_use, most = 0, 0

    async def use() -> None:
        nonlocal in_use, most
        async with pool.acquire() as connection:
            in_use += 1
            most = max(most, in_use)
            await connection.fetchval("SELECT pg_sleep(0.02)")
            in_use -= 1

    await asyncio.gather(*(use() for _ in range(20)))
    assert most == 3
    async with pool.acquire() as connection:  # and all of them came back
        backends = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            " AND application_name = ''"
        )
    assert backends <= 2


async def test_a_connection_cancelled_mid_query_is_replaced(pool: ConnectionPool) -> None:
    async def slow() -> None:
        async with pool.acquire() as connection:
            await connection.fetchval("SELECT pg_sleep(5)")

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The pool still serves all its slots, each on a connection that answers.
    results = await asyncio.gather(*(_select_one(pool) for _ in range(6)))
    assert results == [1] * 6


async def test_a_connection_is_reused_after_a_server_error(pool: ConnectionPool) -> None:
    async with pool.acquire() as connection:
        first_pid = await connection.fetchval("SELECT pg_backend_pid()")
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with pool.acquire() as connection:
            await connection.fetchval("SELECT 1 / 0")
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT pg_backend_pid()") == first_pid


async def test_a_connection_left_in_a_transaction_is_not_reused(pool: ConnectionPool) -> None:
    async with pool.acquire() as connection:
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        await connection.execute("BEGIN")
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT pg_backend_pid()") != pid
        assert not connection.is_in_transaction()


async def test_a_cancelled_waiter_does_not_lose_a_slot(pool: ConnectionPool) -> None:
    holders = [pool.acquire() for _ in range(3)]
    connections = [await h.__aenter__() for h in holders]
    waiter = asyncio.create_task(_select_one(pool))
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    for holder in holders:
        await holder.__aexit__(None, None, None)
    assert len(connections) == 3
    assert await asyncio.gather(*(_select_one(pool) for _ in range(3))) == [1, 1, 1]


async def test_closed_pool_refuses(pool: ConnectionPool) -> None:
    await pool.close()
    with pytest.raises(PoolClosed):
        async with pool.acquire():
            pass


async def _select_one(pool: ConnectionPool) -> int:
    async with pool.acquire() as connection:
        return int(await connection.fetchval("SELECT 1"))
