"""The `checkout` kill switch across processes: two servers on one PostgreSQL database (and a
SQLite server alone). Switched off through one, both answer 503 `checkout_disabled` with
Retry-After within 5 seconds; while off a checkout touches nothing (no stock held, no order,
no payment, the cart still open and editable, no idempotency answer stored: the same key
runs normally later); back on through the other, both check out again within 5 seconds.

These servers have databases of their own: switching checkout off on the session's servers
would refuse the other tests' checkouts."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from cartwright.migrations.runner import upgrade
from tests.api.support import assert_problem
from tests.conftest import ADMIN_KEY, Server, _migrated_database, start_server
from tests.factories import ADDRESS, create_product, ready_cart, stock_of

PROPAGATION_S = 5.0  # the contract: a change reaches every process within 5 seconds


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    logs = tmp_path_factory.mktemp("kill-switch")
    with _migrated_database() as url:
        first = start_server(url, logs / "first.log")
        try:
            second = start_server(url, logs / "second.log", no_worker=True)
        except BaseException:
            first.stop()
            raise
        try:
            yield first, second
        finally:
            second.stop()
            first.stop()


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    logs = tmp_path_factory.mktemp("kill-switch-sqlite")
    url = f"sqlite:///{logs / 'flags.db'}"
    upgrade(url)
    server = start_server(url, logs / "server.log")
    yield server
    server.stop()


def _client(server: Server, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


@pytest.fixture
def servers(request: pytest.FixtureRequest) -> list[Server]:
    """The processes under test: two on PostgreSQL, or one on SQLite."""
    if request.param == "postgres":
        return list(request.getfixturevalue("pair"))
    return [request.getfixturevalue("alone")]


@pytest.fixture
async def admins(servers: list[Server]) -> AsyncIterator[list[httpx.AsyncClient]]:
    clients = [_client(s, ADMIN_KEY) for s in servers]
    try:
        yield clients
    finally:
        # Whatever happened, checkout is on again for the next test.
        await clients[0].put("/v1/flags/checkout", json={"enabled": True})
        for c in clients:
            await c.aclose()


async def _probe(storefront: httpx.AsyncClient, empty_cart: str) -> httpx.Response:
    """A checkout that can change nothing either way: on, an empty cart is 409
    `cart_not_ready`; off, 503 `checkout_disabled`."""
    return await storefront.post(
        f"/v1/carts/{empty_cart}/checkout",
        json={"payment": {"method": "card", "token": "tok_visa"}},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )


async def _until_every_process(
    storefronts: list[httpx.AsyncClient], empty_cart: str, status: int, since: float
) -> float:
    """Seconds from `since` until each process answered the probe with `status` (polled;
    fails at the contract's deadline). A server of several processes is probed until every
    answer of a round agrees."""
    deadline = since + PROPAGATION_S
    while True:
        answers = [(await _probe(s, empty_cart)).status_code for s in storefronts]
        if all(a == status for a in answers):
            return time.monotonic() - since
        assert time.monotonic() < deadline, f"still {answers} {PROPAGATION_S} s after the change"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("servers", ["postgres", "sqlite"], indirect=True)
async def test_checkout_off_everywhere_touches_nothing_and_back_on_works(
    servers: list[Server], admins: list[httpx.AsyncClient]
) -> None:
    first = admins[0]
    last = admins[-1]
    made = await first.post("/v1/api-keys", json={"type": "publishable", "name": "kill switch"})
    assert made.status_code == 201, made.text
    pk = made.json()["key"]
    storefronts = [_client(s, pk) for s in servers]
    try:
        product = await create_product(first, stock=5)
        sku = product["variants"][0]["sku"]
        cart = await ready_cart(storefronts[-1], [(sku, 2)])
        empty = (await storefronts[0].post("/v1/carts", json={"currency": "EUR"})).json()["id"]
        stock_before = await stock_of(first, sku)
        orders_before = (await first.get("/v1/orders", params={"limit": 100})).json()["data"]

        # Off through the first process: every process refuses within 5 s.
        switched = time.monotonic()
        off = await first.put("/v1/flags/checkout", json={"enabled": False})
        assert off.status_code == 200 and off.json()["enabled"] is False, off.text
        await _until_every_process(storefronts, empty, 503, switched)

        key = uuid.uuid4().hex
        for storefront in storefronts:
            refused = await storefront.post(
                f"/v1/carts/{cart['id']}/checkout",
                json={"payment": {"method": "card", "token": "tok_visa"}},
                headers={"Idempotency-Key": key},
            )
            assert_problem(refused, 503, "checkout_disabled")
            assert int(refused.headers["Retry-After"]) > 0
            assert "Idempotent-Replayed" not in refused.headers

        # Nothing was touched: no stock held, no order, the cart open and still editable.
        assert await stock_of(first, sku) == stock_before
        orders = (await first.get("/v1/orders", params={"limit": 100})).json()["data"]
        assert [o["id"] for o in orders] == [o["id"] for o in orders_before]
        still = await storefronts[0].get(f"/v1/carts/{cart['id']}")
        assert still.status_code == 200 and still.json()["status"] == "open", still.text
        line = still.json()["lines"][0]["id"]
        changed = await storefronts[0].patch(
            f"/v1/carts/{cart['id']}/lines/{line}", json={"quantity": 3}
        )
        assert changed.status_code == 200, changed.text
        readdressed = await storefronts[-1].patch(
            f"/v1/carts/{cart['id']}", json={"shipping_address": {**ADDRESS, "city": "Potsdam"}}
        )
        assert readdressed.status_code == 200, readdressed.text
        metrics = (await first.get("/metrics")).text
        assert 'cartwright_flag_enabled{key="checkout"} 0.0' in metrics
        assert 'cartwright_checkouts_total{outcome="checkout_disabled"}' in metrics

        # Back on through the last process: every process checks out again within 5 s.
        switched = time.monotonic()
        on = await last.put("/v1/flags/checkout", json={"enabled": True})
        assert on.status_code == 200 and on.json()["enabled"] is True, on.text
        await _until_every_process(storefronts, empty, 409, switched)

        # The same Idempotency-Key runs normally: nothing was stored under it.
        placed = await storefronts[0].post(
            f"/v1/carts/{cart['id']}/checkout",
            json={"payment": {"method": "card", "token": "tok_visa"}},
            headers={"Idempotency-Key": key},
        )
        assert placed.status_code == 201, placed.text
        assert "Idempotent-Replayed" not in placed.headers
        assert placed.json()["lines"][0]["quantity"] == 3
        after = await stock_of(first, sku)
        assert after["available"] == stock_before["available"] - 3, (stock_before, after)
    finally:
        for storefront in storefronts:
            await storefront.aclose()
