"""Database access: one small port over two drivers.

Services get a `Conn` and write SQL with `$1`-style parameters. On PostgreSQL it runs on an
asyncpg pool (prepared statements cached per connection); on SQLite the same text runs on
one aiosqlite connection with `?1`-style parameters. The checkout path issues a handful of
statements per request, and at that size the driver, not an ORM, is where the time goes
(see docs/adr/0002-driver-level-sql.md). The schema itself is defined with SQLAlchemy in
each module's `models.py` and created by Alembic.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiosqlite
import asyncpg

from cartwright.kit import telemetry
from cartwright.kit.pgpool import ConnectionPool

Row = Mapping[str, Any]


class UniqueViolation(Exception):
    """An INSERT or UPDATE hit a unique constraint; the transaction is unusable after it."""


class Dialect(StrEnum):
    POSTGRES = "postgresql"
    SQLITE = "sqlite"


class Deadlock(Exception):
    """The database aborted the statement to break a deadlock; nothing of it applied and
    running it again is safe."""


class GuardFailed(Exception):
    """A guarded statement of a batch did not change exactly one row; nothing of the batch
    was applied (PostgreSQL aborts the statement; on SQLite the caller's transaction rolls
    back)."""


@dataclass(frozen=True, slots=True)
class Stmt:
    """One write for `Conn.batch` (INSERT, UPDATE or DELETE, no RETURNING), optionally a
    guard that must change exactly one row."""

    sql: str
    args: tuple[Any, ...]
    guard: bool = False


def stmt(sql: str, *args: Any) -> Stmt:
    return Stmt(sql, args)


def guarded(statement: Stmt) -> Stmt:
    """`statement`, required to change exactly one row (a state machine's guard)."""
    return Stmt(statement.sql, statement.args, guard=True)


class Conn(Protocol):
    dialect: Dialect

    async def batch(self, statements: Sequence[Stmt]) -> list[int]:
        """Run independent statements, as one round trip where the database allows;
        returns each write's row count. They must not depend on each
        other's effects. Raises `GuardFailed` if a guard did not change exactly one row."""
        ...

    async def atomic_batch(self, statements: Sequence[Stmt]) -> list[int]:
        """`batch`, all or nothing, on a connection outside a transaction."""
        ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...
    async def execute(self, sql: str, *args: Any) -> int: ...
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


def dialect_of(url: str) -> Dialect:
    scheme = urlsplit(url).scheme.split("+", 1)[0]
    if scheme in ("postgresql", "postgres"):
        return Dialect.POSTGRES
    if scheme == "sqlite":
        return Dialect.SQLITE
    raise ValueError(f"unsupported database url scheme: {scheme!r}")


def sqlite_path(url: str) -> str:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return path or ":memory:"


def asyncpg_dsn(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def sqlalchemy_url(url: str) -> str:
    """The URL Alembic uses: psycopg for PostgreSQL, the stdlib driver for SQLite."""
    if dialect_of(url) is Dialect.POSTGRES:
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


# ---------------------------------------------------------------------------- PostgreSQL


def _rowcount(status: str) -> int:
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PgConn:
    __slots__ = ("_c",)
    dialect = Dialect.POSTGRES

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._c = connection

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            return await self._c.fetch(sql, *args)  # type: ignore[no-any-return]
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(exc.constraint_name) from exc

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        try:
            return await self._c.fetchrow(sql, *args)  # type: ignore[no-any-return]
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(exc.constraint_name) from exc

    async def fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await self._c.fetchval(sql, *args)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(exc.constraint_name) from exc

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            return _rowcount(await self._c.execute(sql, *args))
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(exc.constraint_name) from exc

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self._c.executemany(sql, rows)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(exc.constraint_name) from exc

    async def batch(self, statements: Sequence[Stmt]) -> list[int]:
        with telemetry.span("db.batch", _batch_attributes(self.dialect, statements)):
            if len(statements) == 1 and not statements[0].guard:
                return [await self.execute(statements[0].sql, *statements[0].args)]
            sql = _combined(tuple((s.sql, len(s.args), s.guard) for s in statements))
            try:
                row = await self.fetchrow(sql, *(a for s in statements for a in s.args))
            except asyncpg.DivisionByZeroError:
                raise GuardFailed() from None
            except asyncpg.DeadlockDetectedError:
                raise Deadlock() from None
            assert row is not None
            return [int(v) for v in row.values()]

    async def atomic_batch(self, statements: Sequence[Stmt]) -> list[int]:
        # One statement is its own transaction (for a single plain write, too).
        return await self.batch(statements)


def _batch_attributes(dialect: Dialect, statements: Sequence[Stmt]) -> dict[str, str | int] | None:
    """What a batch's span says: the database, how many statements, and their verbs and
    tables (the SQL text up to its first parameter or value list, never a value)."""
    if not telemetry.recording():
        return None
    return {
        "db.system": "postgresql" if dialect is Dialect.POSTGRES else "sqlite",
        "db.statement_count": len(statements),
        "db.operation": ", ".join(_operation(s.sql) for s in statements),
    }


@lru_cache(maxsize=512)
def _operation(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper() if words else ""
    for keyword in ("INTO", "UPDATE", "FROM"):
        if keyword in (w.upper() for w in words[:6]):
            index = [w.upper() for w in words].index(keyword)
            if index + 1 < len(words):
                return f"{verb} {words[index + 1].split('(')[0]}"
    return verb


def _renumbered(sql: str, offset: int) -> str:
    return _PARAM.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


@lru_cache(maxsize=256)
def _combined(shape: tuple[tuple[str, int, bool], ...]) -> str:
    """Several writes as one statement: each a data-modifying CTE (all run once, to
    completion, against one snapshot), and a SELECT of their row counts. A
    guard divides by zero when its count is not 1, which aborts the whole statement.
    One round trip, one parse, one implicit transaction."""
    parts, columns, offset = [], [], 0
    for i, (sql, arg_count, guard) in enumerate(shape):
        parts.append(f"w{i} AS ({_renumbered(sql, offset)} RETURNING 1)")
        offset += arg_count
        count = f"(SELECT count(*) FROM w{i})"
        columns.append(f"1 / ({count} = 1)::int AS c{i}" if guard else f"{count} AS c{i}")
    return f"WITH {', '.join(parts)} SELECT {', '.join(columns)}"


# -------------------------------------------------------------------------------- SQLite

_PARAM = re.compile(r"\$(\d+)")


@lru_cache(maxsize=1024)
def _to_sqlite(sql: str) -> str:
    return _PARAM.sub(r"?\1", sql)


def _adapt_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _convert_datetime(raw: bytes) -> datetime:
    parsed = datetime.fromisoformat(raw.decode())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


sqlite3.register_adapter(datetime, _adapt_datetime)
sqlite3.register_converter("DATETIME", _convert_datetime)
sqlite3.register_converter("TIMESTAMP", _convert_datetime)


class SqliteConn:
    __slots__ = ("_c",)
    dialect = Dialect.SQLITE

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._c = connection

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            async with self._c.execute(_to_sqlite(sql), args) as cursor:
                return list(await cursor.fetchall())  # type: ignore[arg-type]  # sqlite3.Row
        except sqlite3.IntegrityError as exc:
            raise _integrity(exc) from exc

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]  # type: ignore[index]

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            async with self._c.execute(_to_sqlite(sql), args) as cursor:
                if cursor.description is not None:  # RETURNING: drain it so the statement ends
                    await cursor.fetchall()
                return cursor.rowcount
        except sqlite3.IntegrityError as exc:
            raise _integrity(exc) from exc

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self._c.executemany(_to_sqlite(sql), rows)
        except sqlite3.IntegrityError as exc:
            raise _integrity(exc) from exc

    async def atomic_batch(self, statements: Sequence[Stmt]) -> list[int]:
        await self._c.execute("BEGIN IMMEDIATE")
        try:
            results = await self.batch(statements)
        except BaseException:
            await self._c.execute("ROLLBACK")
            raise
        await self._c.execute("COMMIT")
        return results

    async def batch(self, statements: Sequence[Stmt]) -> list[int]:
        with telemetry.span("db.batch", _batch_attributes(self.dialect, statements)):
            results = []
            for s in statements:
                count = await self.execute(s.sql, *s.args)
                if s.guard and count != 1:
                    raise GuardFailed()
                results.append(count)
            return results


def _sha256_hex(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def _integrity(exc: sqlite3.IntegrityError) -> Exception:
    message = str(exc)
    if message.startswith("UNIQUE constraint failed"):
        return UniqueViolation(message.split(":", 1)[-1].strip())
    return exc


# ------------------------------------------------------------------------------ Database


class Database:
    """Owns the connections of one process. `transaction()` is the unit of work."""

    def __init__(
        self, url: str, *, pool_size: int = 10, durable_commits: bool = True, name: str = "main"
    ) -> None:
        self.url = url
        self.name = name
        self.dialect = dialect_of(url)
        self._pool_size = pool_size
        # False only for the sandbox provider's own books: a commit returns before its WAL
        # is flushed (a PostgreSQL crash may lose the last moment of them; a process crash
        # loses nothing). Cartwright's own data is always committed durably.
        self._durable_commits = durable_commits
        self._pool: ConnectionPool | None = None
        self._sqlite: aiosqlite.Connection | None = None
        self._sqlite_lock = asyncio.Lock()

    async def connect(self) -> None:
        if self.dialect is Dialect.POSTGRES:
            settings = {
                "application_name": "cartwright",
                # A statement that runs this long is a bug or an overload: cancel it
                # (QueryCanceledError, answered 503) rather than hold the connection.
                "statement_timeout": "30000",
                # Our statements look rows up by key: a generic plan, made once per
                # connection, is as good as a custom one and saves planning the
                # multi-statement batches on every execution.
                "plan_cache_mode": "force_generic_plan",
                "synchronous_commit": "on" if self._durable_commits else "off",
            }
            dsn = asyncpg_dsn(self.url)

            async def connect() -> asyncpg.Connection:
                return await asyncpg.connect(dsn, server_settings=settings)

            pool = ConnectionPool(connect, max_size=self._pool_size, name=self.name)
            await pool.open(min_size=min(2, self._pool_size))
            self._pool = pool
        else:
            conn = await aiosqlite.connect(
                sqlite_path(self.url), isolation_level=None, detect_types=sqlite3.PARSE_DECLTYPES
            )
            conn.row_factory = sqlite3.Row
            # PostgreSQL has sha256(); SQLite gets it here (the audit log's hash chain).
            await conn.create_function("sha256_hex", 1, _sha256_hex, deterministic=True)
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA busy_timeout=10000",
                "PRAGMA foreign_keys=ON",
            ):
                await conn.execute(pragma)
            self._sqlite = conn

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._sqlite is not None:
            await self._sqlite.close()
            self._sqlite = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        if self._pool is not None:
            async with self._pool.acquire() as connection, connection.transaction():
                yield PgConn(connection)
            return
        assert self._sqlite is not None, "Database.connect() was not called"
        async with self._sqlite_lock:
            # IMMEDIATE takes the write lock up front: two processes on one file then wait
            # for each other (busy_timeout) instead of failing half-way through.
            await self._sqlite.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteConn(self._sqlite)
            except BaseException:
                await self._sqlite.execute("ROLLBACK")
                raise
            await self._sqlite.execute("COMMIT")

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """A connection in autocommit mode, for reads and single-statement writes."""
        if self._pool is not None:
            async with self._pool.acquire() as connection:
                yield PgConn(connection)
            return
        assert self._sqlite is not None, "Database.connect() was not called"
        async with self._sqlite_lock:
            yield SqliteConn(self._sqlite)

    async def atomic_batch(self, statements: Sequence[Stmt]) -> list[int]:
        """Run a batch atomically: on PostgreSQL as one statement, which is its own
        transaction (no BEGIN/COMMIT round trips); on SQLite inside a transaction."""
        async with self.connection() as conn:
            return await conn.atomic_batch(statements)

    def pool_stats(self) -> tuple[int, int, int] | None:
        """(in use, open, max) of the PostgreSQL pool; None on SQLite or before connect."""
        return self._pool.stats() if self._pool is not None else None

    async def ping(self) -> bool:
        try:
            async with self.connection() as conn:
                return bool(await conn.fetchval("SELECT 1") == 1)
        except (TimeoutError, OSError, asyncpg.PostgresError, sqlite3.Error):
            return False


def insert_rows_stmt(table_and_columns: str, rows: Sequence[Sequence[Any]]) -> Stmt:
    """`INSERT INTO <table_and_columns> VALUES (...), (...)` for all `rows` at once."""
    width = len(rows[0])
    values = ", ".join(f"({placeholders(i * width + 1, width)})" for i in range(len(rows)))
    return Stmt(
        f"INSERT INTO {table_and_columns} VALUES {values}",
        tuple(value for row in rows for value in row),
    )


class Where:
    """The conditions of a query and their parameters, numbered `$1, $2, ...` as they are
    added (both dialects take that form)."""

    def __init__(self) -> None:
        self.args: list[object] = []
        self._clauses: list[str] = []

    def param(self, value: object) -> str:
        """A parameter for the query; its placeholder."""
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, condition: str, value: object) -> None:
        """`condition` with `{}` where the value's placeholder goes, e.g. `"id < {}"`."""
        self._clauses.append(condition.format(self.param(value)))

    def sql(self) -> str:
        return f" WHERE {' AND '.join(self._clauses)}" if self._clauses else ""


def placeholders(start: int, count: int) -> str:
    """`$start, $start+1, ...`: for IN lists, portable across both dialects."""
    return ", ".join(f"${i}" for i in range(start, start + count))
