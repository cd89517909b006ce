"""Rate limits through real servers: per publishable key and client address, per secret
key when configured, counted in memory or in Redis (shared by every process), failing open
when Redis is unreachable, validated at start-up."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cartwright.migrations.runner import upgrade
from tests.api.support import assert_problem, create_key
from tests.conftest import ADMIN_KEY, ROOT, SERVER_ENV, Server, start_server

REDIS_URL = os.environ.get("CARTWRIGHT_TEST_REDIS", "redis://127.0.0.1:6379/0")
POLICY = re.compile(r'^"(?P<name>[a-z-]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')
STATE = re.compile(r'^"(?P<name>[a-z-]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


def _sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """SQLite, counted in memory: 5 requests a minute per publishable key and address,
    secret keys unlimited (the default)."""
    tmp = tmp_path_factory.mktemp("limited")
    server = start_server(
        _sqlite(tmp),
        tmp / "server.log",
        extra_env={"CARTWRIGHT_RATE_LIMIT_PUBLISHABLE": "5/minute"},
    )
    yield server
    server.stop()


def _client(server: Server, key: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30)


def _state(response: httpx.Response) -> tuple[str, int, int]:
    match = STATE.match(response.headers["ratelimit"])
    assert match, response.headers["ratelimit"]
    return match["name"], int(match["r"]), int(match["t"])


async def _publishable_key(server: Server) -> str:
    async with _client(server, ADMIN_KEY) as admin:
        return str((await create_key(admin, "publishable"))["key"])


async def test_a_publishable_key_is_limited_with_ratelimit_headers_and_a_429(
    limited_server: Server,
) -> None:
    key = await _publishable_key(limited_server)
    async with _client(limited_server, key) as shop:
        remaining = []
        for _ in range(5):
            response = await shop.get("/v1/products")
            assert response.status_code == 200, response.text
            policy = POLICY.match(response.headers["ratelimit-policy"])
            assert policy and policy["name"] == "publishable", response.headers
            assert (policy["q"], policy["w"]) == ("5", "60")
            name, left, reset = _state(response)
            assert name == "publishable" and 1 <= reset <= 60
            remaining.append(left)
        assert remaining == [4, 3, 2, 1, 0]

        refused = await shop.get("/v1/products")
        body = assert_problem(refused, 429, "rate_limited")
        assert "5 per 60 s" in body["detail"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert _state(refused)[1] == 0
        assert refused.headers["ratelimit-policy"].startswith('"publishable"')
        assert refused.headers["request-id"] == body["request_id"]

        # Refused before the body is read: a malformed body still gets the 429.
        bad = await shop.post("/v1/carts", content=b"{not json", headers={"Content-Type": "x"})
        assert_problem(bad, 429, "rate_limited")

    # Another key from the same address has its own budget.
    async with _client(limited_server, await _publishable_key(limited_server)) as other:
        assert (await other.get("/v1/products")).status_code == 200


async def test_authentication_comes_before_the_limit_and_secret_keys_are_not_limited(
    limited_server: Server,
) -> None:
    async with _client(limited_server, "pk_not_a_key") as nobody:
        for _ in range(8):
            assert_problem(await nobody.get("/v1/products"), 401, "unauthenticated")
    async with _client(limited_server, ADMIN_KEY) as admin:
        for _ in range(12):
            response = await admin.get("/v1/products")
            assert response.status_code == 200, response.text
            assert "ratelimit" not in response.headers


async def test_secret_keys_are_limited_per_key_when_configured(tmp_path: Path) -> None:
    server = start_server(
        _sqlite(tmp_path),
        tmp_path / "server.log",
        extra_env={"CARTWRIGHT_RATE_LIMIT_SECRET": "3/hour"},
    )
    try:
        async with _client(server, ADMIN_KEY) as admin:
            statuses = [(await admin.get("/v1/products")).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
            refused = await admin.get("/v1/events")
            assert_problem(refused, 429, "rate_limited")
            assert refused.headers["ratelimit-policy"] == '"secret";q=3;w=3600'
    finally:
        server.stop()


def _redis_up() -> None:
    """The suite starts Redis (bin/test); a run outside it starts it here the same way."""
    ping = subprocess.run(["redis-cli", "-u", REDIS_URL, "ping"], capture_output=True, text=True)
    assert ping.stdout.strip() == "PONG", "Redis is not running (bin/test starts it)"


async def test_limits_in_redis_hold_across_two_processes(pg_database: str, tmp_path: Path) -> None:
    _redis_up()
    server = start_server(
        pg_database,
        tmp_path / "server.log",
        workers=2,
        no_worker=True,
        extra_env={
            "CARTWRIGHT_REDIS_URL": REDIS_URL,
            "CARTWRIGHT_RATE_LIMIT_PUBLISHABLE": "10/minute",
        },
    )
    try:
        key = await _publishable_key(server)
        statuses = []
        for _ in range(30):
            # A new connection per request, so both processes take their share.
            async with _client(server, key) as shop:
                response = await shop.get("/v1/products")
            statuses.append(response.status_code)
        assert statuses.count(200) == 10, statuses
        assert statuses.count(429) == 20, statuses
        assert statuses[:10] == [200] * 10
        async with _client(server, None) as anyone:
            metrics = (await anyone.get("/metrics")).text
        assert re.search(r'cartwright_rate_limited_total\{limit="publishable"\} 20\.0', metrics)
    finally:
        server.stop()


async def test_an_unreachable_redis_fails_open(tmp_path: Path) -> None:
    server = start_server(
        _sqlite(tmp_path),
        tmp_path / "server.log",
        extra_env={
            "CARTWRIGHT_REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens there
            "CARTWRIGHT_RATE_LIMIT_PUBLISHABLE": "2/minute",
        },
    )
    try:
        key = await _publishable_key(server)
        async with _client(server, key) as shop:
            answers = await asyncio.gather(*(shop.get("/v1/products") for _ in range(6)))
        assert [r.status_code for r in answers] == [200] * 6
        assert all("ratelimit" not in r.headers for r in answers)
        async with _client(server, None) as anyone:
            metrics = (await anyone.get("/metrics")).text
        failures = re.search(r"^cartwright_rate_limiter_failures_total (\S+)$", metrics, re.M)
        assert failures and float(failures.group(1)) >= 6, metrics
        log = (tmp_path / "server.log").read_text()
        assert "rate limiter backend failed" in log
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CARTWRIGHT_RATE_LIMIT_PUBLISHABLE", "lots"),
        ("CARTWRIGHT_RATE_LIMIT_PUBLISHABLE", "0/second"),
        ("CARTWRIGHT_RATE_LIMIT_SECRET", "10/fortnight"),
        ("CARTWRIGHT_TRUSTED_PROXIES", "10.0.0.0/8,not-an-ip"),
    ],
)
def test_a_bad_limit_setting_stops_the_server_at_start(
    tmp_path: Path, variable: str, value: str
) -> None:
    env = {
        **os.environ,
        **SERVER_ENV,
        "CARTWRIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        variable: value,
    }
    result = subprocess.run(
        [sys.executable, "-m", "cartwright.cli", "serve", "--port", "1"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "invalid configuration" in result.stderr and variable in result.stderr
