"""Test fixtures: a PostgreSQL database of this run's own, and real servers.

Every run creates `cw_test_<random>` on the local PostgreSQL, builds it with the migrations,
and drops it at the end, so runs never see each other's data. API tests talk HTTP to real
`cartwright serve` processes (two API workers on PostgreSQL, one on SQLite), started once
per session with short payment timeouts so the unknown-result paths run in seconds.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from cartwright.migrations.runner import upgrade

PG_ADMIN = os.environ.get("CARTWRIGHT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ADMIN_KEY = "sk_test_admin_" + secrets.token_hex(8)
SECRET_KEY = secrets.token_urlsafe(40)
ROOT = Path(__file__).resolve().parent.parent

# Short timings: a timed-out payment is resolved by the worker within a few seconds.
SERVER_ENV = {
    "CARTWRIGHT_ADMIN_KEY": ADMIN_KEY,
    "CARTWRIGHT_SECRET_KEY": SECRET_KEY,
    "CARTWRIGHT_PSP_TIMEOUT_S": "1.0",
    "CARTWRIGHT_PSP_MAX_ATTEMPTS": "2",
    "CARTWRIGHT_SANDBOX_SLOW_RESPONSE_S": "1.5",
    # Longer than the longest provider call (2 attempts of 1 s and the backoff between).
    "CARTWRIGHT_PAYMENT_RECOVERY_AFTER_S": "2.5",
    "CARTWRIGHT_WORKER_POLL_INTERVAL_S": "0.5",
    "CARTWRIGHT_REQUIRES_ACTION_EXPIRY_S": "600",
    "CARTWRIGHT_LOG_LEVEL": "warning",
    # Every test's shopper comes from 127.0.0.1: the session's servers must not bound them
    # as one (tests/security/test_perimeter.py tests the bound).
    "CARTWRIGHT_OPEN_CHECKOUTS_PER_ADDRESS": "100000",
    # The sandbox fails payment by payment (tok_timeout, tok_processing_error), never as a
    # whole: the session's servers must not open its breaker and refuse every later test's
    # checkouts (tests/payments test the breakers, on servers and gateways of their own).
    "CARTWRIGHT_PSP_BREAKER_THRESHOLD": "1000",
    "CARTWRIGHT_PSP_BREAKER_WINDOW": "1000",
    # Warehouses a test creates take part in the next checkout of either server's
    # processes at once (tests/inventory/test_locations.py).
    "CARTWRIGHT_WAREHOUSE_CACHE_TTL_S": "0",
    # Likewise channels and price lists: a test sees its own change on every server process.
    "CARTWRIGHT_CHANNEL_CACHE_TTL_S": "0",
    "CARTWRIGHT_PROMOTION_CACHE_TTL_S": "0",
}


def _pg_url(dbname: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + dbname


@contextlib.contextmanager
def _migrated_database(template: str | None = None) -> Iterator[str]:
    """A database of its own, built by the migrations, or copied from `template` (the name
    of a migrated database nobody is connected to), which is the same and quicker."""
    name = "cw_test_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if template is None:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = _pg_url(name)
    try:
        if template is None:
            upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with _migrated_database() as url:
        yield url


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """The name of a migrated database that no one connects to: `own_pg_database` copies it."""
    with _migrated_database() as url:
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def own_pg_database(pg_template: str) -> Iterator[str]:
    """A database of this test's own: for servers whose workers must not share their work
    with the session's servers (whose settings differ)."""
    with _migrated_database(template=pg_template) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'cartwright.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that no one opens: `new_sqlite` copies it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def new_sqlite(template: Path, path: Path) -> str:
    """The URL of a database of its own at `path`: a copy of the migrated `template`."""
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        """kill -9 every process of the server, as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    database_url: str,
    log_path: Path,
    *,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    no_worker: bool = False,
    port: int | None = None,
) -> Server:
    """`port`: one chosen beforehand (`free_port`), for peers that must know it first."""
    port = port or free_port()
    env = {**os.environ, **SERVER_ENV, "CARTWRIGHT_DATABASE_URL": database_url, **(extra_env or {})}
    args = [
        sys.executable,
        "-m",
        "cartwright.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    if no_worker:
        args.append("--no-worker")
    log = log_path.open("wb")
    # A session of its own, so a test can kill -9 the whole server (all its workers).
    process = subprocess.Popen(
        args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )
    server = Server(f"http://127.0.0.1:{port}", database_url, process, log_path)
    deadline = time.monotonic() + 90  # generous: a loaded CI machine starts slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(server.base_url + "/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not become ready:\n{log_path.read_text()}")


def start_worker(
    database_url: str, log_path: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A standalone `cartwright worker` (payment recovery) on `database_url`."""
    env = {**os.environ, **SERVER_ENV, "CARTWRIGHT_DATABASE_URL": database_url, **(extra_env or {})}
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "cartwright.cli", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )


@pytest.fixture(scope="session")
def pg_server(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(pg_database, tmp_path_factory.mktemp("logs") / "pg-server.log", workers=2)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_server(
    sqlite_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    server = start_server(sqlite_database, tmp_path_factory.mktemp("logs") / "sqlite-server.log")
    yield server
    server.stop()


@pytest.fixture(params=["postgres", "sqlite"])
def server(request: pytest.FixtureRequest) -> Server:
    """Each test using it runs once per database."""
    return request.getfixturevalue("pg_server" if request.param == "postgres" else "sqlite_server")


def _client(base_url: str, key: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=30,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
    )


@pytest.fixture
async def admin(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client with the admin secret key, on each database in turn."""
    async with _client(server.base_url, ADMIN_KEY) as client:
        yield client


@pytest.fixture
async def pg_admin(pg_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(pg_server.base_url, ADMIN_KEY) as client:
        yield client


@pytest.fixture
async def anonymous(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(server.base_url, None) as client:
        yield client


@pytest.fixture
async def storefront(server: Server, admin: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a fresh publishable key."""
    created = await admin.post("/v1/api-keys", json={"type": "publishable", "name": "test shop"})
    assert created.status_code == 201, created.text
    async with _client(server.base_url, created.json()["key"]) as client:
        yield client
