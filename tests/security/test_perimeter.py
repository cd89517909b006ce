"""The perimeter through real servers: the client's address behind trusted proxies,
bodies refused while they stream, bounds on one anonymous shopper, CORS and the security
headers."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from cartwright.migrations.runner import upgrade
from tests.api.support import assert_problem, create_key
from tests.conftest import ADMIN_KEY, Server, start_server, start_worker
from tests.factories import checkout, create_product, ready_cart, stock_of, unique_sku


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
            "CARTWRIGHT_HSTS": "true",
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


@pytest.fixture(scope="module")
def edge(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """PostgreSQL behind a trusted proxy, with small bounds: 4 KiB bodies, 2 checkouts
    awaiting payment per address, one allowed browser origin."""
    tmp = tmp_path_factory.mktemp("edge")
    server = start_server(
        pg_database,
        tmp / "server.log",
        no_worker=True,
        extra_env={
            "CARTWRIGHT_TRUSTED_PROXIES": "127.0.0.1",
            "CARTWRIGHT_MAX_BODY_BYTES": "4096",
            "CARTWRIGHT_OPEN_CHECKOUTS_PER_ADDRESS": "2",
            "CARTWRIGHT_CORS_ORIGINS": "https://shop.example, http://localhost:3000",
        },
    )
    yield server
    server.stop()


def _cart_body(size: int) -> bytes:
    """A cart body of exactly `size` bytes (padded with spaces, still valid JSON)."""
    body = b'{"currency": "EUR"}'
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def test_a_declared_length_over_the_limit_is_413_before_anything_is_read(
    edge: Server,
) -> None:
    key = await _publishable_key(edge)
    async with _client(edge, key) as shop:
        refused = await shop.post(
            "/v1/carts", content=_cart_body(4097), headers={"Content-Type": "application/json"}
        )
        body = assert_problem(refused, 413, "payload_too_large")
        assert "4096 bytes" in body["detail"]
        assert refused.headers["request-id"] == body["request_id"]
    # Even without a key: the body is refused before anything else looks at the request.
    async with _client(edge, None) as anyone:
        assert_problem(
            await anyone.post("/v1/carts", content=_cart_body(50_000)), 413, "payload_too_large"
        )
    async with _client(edge, key) as shop:
        fits = await shop.post(
            "/v1/carts", content=_cart_body(4096), headers={"Content-Type": "application/json"}
        )
        assert fits.status_code == 201, fits.text


async def test_a_chunked_body_is_refused_once_it_crosses_the_limit(edge: Server) -> None:
    key = await _publishable_key(edge)

    async def chunks(total: int) -> AsyncIterator[bytes]:
        body = _cart_body(total)
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    async with _client(edge, key) as shop:
        refused = await shop.post(
            "/v1/carts", content=chunks(20_000), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in refused.request.headers
        assert refused.request.headers["transfer-encoding"] == "chunked"
        assert_problem(refused, 413, "payload_too_large")

        # A chunked body within the limit is read as usual.
        fits = await shop.post(
            "/v1/carts", content=chunks(3000), headers={"Content-Type": "application/json"}
        )
        assert fits.status_code == 201, fits.text
        assert fits.json()["currency"] == "EUR"


async def test_a_cart_holds_at_most_100_lines_and_a_refused_line_changes_nothing(
    edge: Server,
) -> None:
    key = await _publishable_key(edge)
    async with _client(edge, ADMIN_KEY) as admin:
        skus = [unique_sku("LINE") for _ in range(101)]
        for sku in skus:
            await create_product(admin, sku=sku, price=100, stock=None)
    async with _client(edge, key) as shop:
        cart_id = (await shop.post("/v1/carts", json={"currency": "EUR"})).json()["id"]
        for sku in skus[:100]:
            added = await shop.post(f"/v1/carts/{cart_id}/lines", json={"sku": sku, "quantity": 1})
            assert added.status_code == 200, added.text
        refused = await shop.post(
            f"/v1/carts/{cart_id}/lines", json={"sku": skus[100], "quantity": 1}
        )
        body = assert_problem(refused, 409, "cart_line_limit")
        assert "100 lines" in body["detail"]
        cart = (await shop.get(f"/v1/carts/{cart_id}")).json()
        assert len(cart["lines"]) == 100
        assert skus[100] not in {line["sku"] for line in cart["lines"]}
        # A SKU the cart holds still merges into its line.
        more = await shop.post(f"/v1/carts/{cart_id}/lines", json={"sku": skus[0], "quantity": 2})
        assert more.status_code == 200, more.text
        assert len(more.json()["lines"]) == 100
        assert {line["sku"]: line["quantity"] for line in more.json()["lines"]}[skus[0]] == 3


async def test_one_address_may_leave_only_so_many_checkouts_awaiting_payment(
    edge: Server,
) -> None:
    key = await _publishable_key(edge)
    async with _client(edge, ADMIN_KEY) as admin:
        sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    shopper, neighbour = _v6(), _v6()
    async with _client(edge, key, shopper) as shop:
        # A paid checkout holds nothing unpaid: it does not count.
        paid = await checkout(shop, (await ready_cart(shop, [(sku, 1)]))["id"])
        assert paid.status_code == 201, paid.text
        for _ in range(2):
            held = await checkout(
                shop, (await ready_cart(shop, [(sku, 1)]))["id"], token="tok_3ds_required"
            )
            assert held.status_code == 202, held.text
        cart = await ready_cart(shop, [(sku, 1)])
        async with _client(edge, ADMIN_KEY) as admin:
            before = await stock_of(admin, sku)
            refused = await checkout(shop, cart["id"], token="tok_3ds_required")
            body = assert_problem(refused, 429, "rate_limited")
            assert "awaiting payment" in body["detail"]
            assert int(refused.headers["retry-after"]) >= 1
            assert await stock_of(admin, sku) == before  # nothing reserved
        assert (await shop.get(f"/v1/carts/{cart['id']}")).json()["status"] == "open"
    async with _client(edge, key, neighbour) as shop:
        other = await checkout(
            shop, (await ready_cart(shop, [(sku, 1)]))["id"], token="tok_3ds_required"
        )
        assert other.status_code == 202, other.text
    # Back offices (secret keys) are not bounded per address.
    async with _client(edge, ADMIN_KEY, shopper) as admin:
        cart = await ready_cart(admin, [(sku, 1)])
        assert (await checkout(admin, cart["id"], token="tok_3ds_required")).status_code == 202


def _pg_execute(database_url: str, sql: str, *args: object) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql, args)


async def test_the_worker_purges_abandoned_carts_but_never_one_a_checkout_froze(
    edge: Server, tmp_path: Path
) -> None:
    key = await _publishable_key(edge)
    async with _client(edge, ADMIN_KEY) as admin:
        sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    async with _client(edge, key) as shop:
        abandoned = (await ready_cart(shop, [(sku, 1)]))["id"]
        empty = (await shop.post("/v1/carts", json={"currency": "EUR"})).json()["id"]
        recent = (await ready_cart(shop, [(sku, 1)]))["id"]
        ordered = (await ready_cart(shop, [(sku, 1)]))["id"]
        assert (await checkout(shop, ordered)).status_code == 201
        declined = (await ready_cart(shop, [(sku, 1)]))["id"]
        assert (await checkout(shop, declined, token="tok_declined")).status_code == 402
        assert (await shop.get(f"/v1/carts/{declined}")).json()["status"] == "open"
        old = [abandoned, empty, ordered, declined]
        _pg_execute(
            edge.database_url,
            "UPDATE carts SET updated_at = now() - interval '31 days' WHERE id = ANY(%s)",
            old,
        )
        worker = start_worker(edge.database_url, tmp_path / "worker.log")
        try:
            deadline = time.monotonic() + 30
            while (await shop.get(f"/v1/carts/{abandoned}")).status_code != 404:
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
                await asyncio.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(timeout=15)
        assert (await shop.get(f"/v1/carts/{empty}")).status_code == 404
        for kept in (recent, ordered, declined):
            response = await shop.get(f"/v1/carts/{kept}")
            assert response.status_code == 200, (kept, response.text)
    with psycopg.connect(edge.database_url) as conn:
        lines = conn.execute("SELECT count(*) FROM cart_lines WHERE cart_id = %s", (abandoned,))
        assert lines.fetchone() == (0,)


ORIGIN = "https://shop.example"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def _has_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers)


async def test_a_preflight_from_an_allowed_origin_names_what_it_may_send_and_read(
    edge: Server,
) -> None:
    async with _client(edge, None) as browser:
        preflight = await browser.options(
            "/v1/carts",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        allowed = preflight.headers["access-control-allow-headers"].lower()
        for header in (
            "authorization",
            "content-type",
            "idempotency-key",
            "cartwright-order-token",
            "cartwright-customer-token",
        ):
            assert header in allowed
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in preflight.headers
        _has_security_headers(preflight)

    key = await _publishable_key(edge)
    async with _client(edge, key) as shop:
        answer = await shop.post("/v1/carts", json={"currency": "EUR"}, headers={"Origin": ORIGIN})
        assert answer.status_code == 201, answer.text
        assert answer.headers["access-control-allow-origin"] == ORIGIN
        exposed = answer.headers["access-control-expose-headers"].lower()
        for header in (
            "request-id",
            "ratelimit",
            "ratelimit-policy",
            "retry-after",
            "idempotent-replayed",
        ):
            assert header in exposed


async def test_a_preflight_from_another_origin_is_refused_and_gets_no_cors_headers(
    edge: Server, server: Server
) -> None:
    async with _client(edge, None) as browser:
        refused = await browser.options(
            "/v1/carts",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        body = assert_problem(refused, 400, "bad_request")
        assert "origin" in body["detail"]
        assert "access-control-allow-origin" not in refused.headers
        _has_security_headers(refused)
        plain = await browser.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in plain.headers
    # A server with no CARTWRIGHT_CORS_ORIGINS answers no browser origin at all.
    async with _client(server, None) as browser:
        nothing = await browser.options(
            "/v1/carts", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert not any(h.startswith("access-control-") for h in nothing.headers), nothing.headers


async def test_every_answer_carries_the_security_headers_even_a_404(server: Server) -> None:
    async with _client(server, None) as anyone:
        missing = await anyone.get("/no/such/route")
        assert_problem(missing, 404, "not_found")
        _has_security_headers(missing)
        assert "strict-transport-security" not in missing.headers  # not in development
        assert "cache-control" not in missing.headers  # no credential was sent
        health = await anyone.get("/healthz")
        _has_security_headers(health)
        docs = await anyone.get("/docs")
        assert docs.status_code == 200
        csp = docs.headers["content-security-policy"]
        assert "https://cdn.jsdelivr.net" in csp and "frame-ancestors 'none'" in csp
        assert docs.headers["x-frame-options"] == "DENY"
    async with _client(server, ADMIN_KEY) as admin:
        for answer in (
            await admin.get("/v1/products"),
            await admin.get("/v1/orders/ord_missing"),
            await admin.post("/v1/products", content=b"{"),
        ):
            _has_security_headers(answer)
            assert answer.headers["cache-control"] == "no-store", answer.headers
    async with _client(server, "sk_wrong") as nobody:
        unauthenticated = await nobody.get("/v1/products")
        assert_problem(unauthenticated, 401, "unauthenticated")
        assert unauthenticated.headers["cache-control"] == "no-store"
        _has_security_headers(unauthenticated)


async def test_strict_transport_security_when_configured(proxied: Server) -> None:
    async with _client(proxied, None) as anyone:
        answer = await anyone.get("/v1/nothing-here")
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    _has_security_headers(answer)
