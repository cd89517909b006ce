"""The perimeter through real servers: the client's address behind trusted proxies,
bodies refused while they stream, bounds on one anonymous shopper, CORS and the security
headers."""

from __future__ import annotations

import ipaddress
import json
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from cartwright.migrations.runner import upgrade
from tests.api.support import create_key
from tests.conftest import ADMIN_KEY, Server, start_server


def _v6() -> str:
    """A fresh documentation address (RFC 3849), so each test has budgets of its own."""
    return str(ipaddress.ip_address(f"2001:db8:{secrets.token_hex(2)}::{secrets.token_hex(2)}"))


def _client(server: Server, key: str | None, address: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if address is not None:
        headers["X-Forwarded-For"] = f"203.0.113.66, {address}"  # the left one is the client's lie
    return httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30)


async def _publishable_key(server: Server) -> str:
    async with _client(server, ADMIN_KEY) as admin:
        return str((await create_key(admin, "publishable"))["key"])


def _logged_clients(server: Server, request_id: str) -> list[str | None]:
    """The `client` of the request's log line (written just after the answer is sent)."""
    deadline = time.monotonic() + 10
    while True:
        clients = []
        for line in server.log_path.read_text().splitlines():
            if request_id in line and line.startswith("{"):
                entry = json.loads(line)
                if entry.get("event") == "request" and entry.get("request_id") == request_id:
                    clients.append(entry.get("client"))
        if clients or time.monotonic() > deadline:
            return clients
        time.sleep(0.05)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """SQLite behind a trusted proxy (127.0.0.1), 3 requests a minute per key and address."""
    tmp = tmp_path_factory.mktemp("proxied")
    url = f"sqlite:///{tmp / 'proxied.db'}"
    upgrade(url)
    server = start_server(
        url,
        tmp / "server.log",
        extra_env={
            "CARTWRIGHT_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
            "CARTWRIGHT_RATE_LIMIT_PUBLISHABLE": "3/minute",
            "CARTWRIGHT_LOG_LEVEL": "info",
        },
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """SQLite with no trusted proxy, 3 requests a minute per key and address."""
    tmp = tmp_path_factory.mktemp("direct")
    url = f"sqlite:///{tmp / 'direct.db'}"
    upgrade(url)
    server = start_server(
        url,
        tmp / "server.log",
        extra_env={"CARTWRIGHT_RATE_LIMIT_PUBLISHABLE": "3/minute", "CARTWRIGHT_LOG_LEVEL": "info"},
    )
    yield server
    server.stop()


async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(
    proxied: Server,
) -> None:
    key = await _publishable_key(proxied)
    first, second = _v6(), _v6()
    async with _client(proxied, key, first) as shop:
        answers = [await shop.get("/v1/products") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert _logged_clients(proxied, answers[0].headers["request-id"]) == [first]
    # Another shopper behind the same proxy has a budget of their own.
    async with _client(proxied, key, second) as shop:
        other = await shop.get("/v1/products")
    assert other.status_code == 200, other.text
    assert _logged_clients(proxied, other.headers["request-id"]) == [second]


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(direct: Server) -> None:
    key = await _publishable_key(direct)
    statuses = []
    for _ in range(5):
        async with _client(direct, key, _v6()) as shop:  # a new made-up address each time
            response = await shop.get("/v1/products")
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    assert _logged_clients(direct, response.headers["request-id"]) == ["127.0.0.1"]


async def test_garbage_in_forwarded_for_is_ignored_safely(proxied: Server) -> None:
    key = await _publishable_key(proxied)
    real = _v6()
    headers = {"Authorization": f"Bearer {key}"}
    for junk in (",", "unknown", "not-an-ip, ;; , 999.1.1.1", "%00", "a" * 2000):
        async with httpx.AsyncClient(base_url=proxied.base_url, timeout=30) as client:
            response = await client.get(
                "/v1/catalog/does-not-exist",
                headers={**headers, "X-Forwarded-For": f"{real}, {junk}"},
            )
        assert response.status_code in (404, 429), response.text
        assert _logged_clients(proxied, response.headers["request-id"]) == [real]
