"""A small pool of asyncpg connections, for the request path.

asyncpg's own pool does more per checkout than we need: each release spawns a shielded
task and a reset, and the proxies wrap every call. Cartwright keeps no session state on a
connection, so this pool only hands connections out and takes them back: a healthy
connection returns to the pool; one released after a cancellation, a timeout or a broken
link, or found closed or inside a transaction, is thrown away (a query cut off may still
be running on it) and replaced on demand.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from cartwright.kit import metrics

Connect = Callable[[], Coroutine[Any, Any, asyncpg.Connection]]


class PoolClosed(RuntimeError):
    pass


_UNSAFE = (asyncio.CancelledError, TimeoutError, OSError, asyncpg.InterfaceError)


class ConnectionPool:
    def __init__(self, connect: Connect, *, max_size: int, name: str = "main") -> None:
        self._connect = connect
        self.name = name
        self._max_size = max_size
        self._idle: deque[asyncpg.Connection] = deque()
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._size = 0  # connections open or being opened
        self._closed = False

    def stats(self) -> tuple[int, int, int]:
        """(in use, open or opening, most it may open), for the pool's gauges."""
        return self._size - len(self._idle), self._size, self._max_size

    async def open(self, min_size: int) -> None:
        for _ in range(min(min_size, self._max_size)):
            self._size += 1
            try:
                self._idle.append(await self._connect())
            except BaseException:
                self._size -= 1
                raise

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        connection = await self._take()
        try:
            yield connection
        except _UNSAFE as exc:
            # Cancelled mid-query, timed out or cut off: what the connection is doing is
            # unknown. (Errors the server reported, and our own errors raised between
            # statements, leave it usable; `_give_back` still checks it is idle.)
            del exc
            self._discard(connection)
            raise
        except BaseException:
            self._give_back(connection)
            raise
        self._give_back(connection)

    async def _take(self) -> asyncpg.Connection:
        if self._closed:
            raise PoolClosed("the connection pool is closed")
        while self._idle:
            connection = self._idle.pop()  # the most recently used: warm caches
            if not connection.is_closed():
                return connection
            self._size -= 1
        if self._size < self._max_size:
            return await self._open_one()
        waiter: asyncio.Future[asyncpg.Connection | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters.append(waiter)
        metrics.db_pool_waits.labels(self.name).inc()
        try:
            connection = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                self._give_back(waiter.result())  # handed over as we were cancelled
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        if connection is None:  # a slot was freed: open a connection in it
            return await self._open_one()
        return connection

    async def _open_one(self) -> asyncpg.Connection:
        self._size += 1
        try:
            return await self._connect()
        except BaseException:
            self._size -= 1
            self._wake_one()
            raise

    def _give_back(self, connection: asyncpg.Connection) -> None:
        if self._closed or connection.is_closed() or connection.is_in_transaction():
            self._discard(connection)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def _discard(self, connection: asyncpg.Connection) -> None:
        self._size -= 1
        connection.terminate()
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosed("the connection pool is closed"))
        while self._idle:
            connection = self._idle.pop()
            self._size -= 1
            try:
                await asyncio.wait_for(connection.close(), timeout=5)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                connection.terminate()
