"""The payment after checkout, end to end over HTTP: manual capture (partial, several,
final), void of the rest, refunds, and the money never exceeding what it may be, with
duplicate and concurrent requests, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from cartwright.migrations.runner import upgrade
from tests.api.support import assert_problem, idempotency_key
from tests.conftest import ADMIN_KEY, Server, start_server
from tests.factories import checkout, create_product, events_about, ready_cart


@pytest.fixture(scope="module", params=["pg_database", "sqlite_database"])
def manual_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose payments stay authorized at checkout (capture later)."""
    logs = tmp_path_factory.mktemp("manual")
    database = request.getfixturevalue(request.param)
    if request.param == "sqlite_database":  # its own file: the session's server shares it
        database = database.replace("cartwright.db", "manual.db")
        upgrade(database)
    server = start_server(
        database, logs / "server.log", extra_env={"CARTWRIGHT_CAPTURE_METHOD": "manual"}
    )
    yield server
    server.stop()


@pytest.fixture
async def shop(manual_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=manual_server.base_url,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    ) as client:
        yield client


async def authorized_order(shop: httpx.AsyncClient, *, price: int = 1_000) -> dict[str, Any]:
    sku = (await create_product(shop, price=price, stock=10))["variants"][0]["sku"]
    cart = await ready_cart(shop, [(sku, 2)])
    placed = await checkout(shop, cart["id"])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["payment_status"] == "authorized"
    assert order["amount_captured"]["amount"] == 0
    return order


async def post(
    shop: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None, key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key or idempotency_key()}
    return await shop.post(path, json=body, headers=headers)


async def test_manual_capture_in_parts_then_refunds(shop: httpx.AsyncClient) -> None:
    order = await authorized_order(shop)
    total = order["totals"]["total"]["amount"]
    path = f"/v1/orders/{order['id']}"

    first = await post(shop, f"{path}/capture", {"amount": 500})
    assert first.status_code == 200, first.text
    assert first.json()["payment_status"] == "partially_captured"
    assert first.json()["amount_captured"]["amount"] == 500

    too_much = await post(shop, f"{path}/capture", {"amount": total})
    assert_problem(too_much, 409, "invalid_state")

    rest = await post(shop, f"{path}/capture", {})
    assert rest.status_code == 200, rest.text
    assert rest.json()["payment_status"] == "captured"
    assert rest.json()["amount_captured"]["amount"] == total

    refund = await post(shop, f"{path}/refunds", {"amount": 300, "reason": "scratched"})
    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "succeeded"
    assert refund.json()["amount"] == {"amount": 300, "currency": "EUR"}
    over = await post(shop, f"{path}/refunds", {"amount": total})
    assert_problem(over, 409, "invalid_state")
    all_back = await post(shop, f"{path}/refunds", {})
    assert all_back.status_code == 201, all_back.text
    assert all_back.json()["amount"]["amount"] == total - 300

    now = (await shop.get(path)).json()
    assert now["payment_status"] == "refunded"
    assert now["amount_refunded"]["amount"] == total
    listed = (await shop.get(f"{path}/refunds")).json()["data"]
    assert [r["amount"]["amount"] for r in listed] == [300, total - 300]
    types = [e["type"] for e in await events_about(shop, order["id"])]
    assert types.count("payment.captured") == 2
    assert types.count("payment.refunded") == 2


async def test_a_final_capture_releases_the_rest(shop: httpx.AsyncClient) -> None:
    order = await authorized_order(shop)
    path = f"/v1/orders/{order['id']}"
    captured = await post(shop, f"{path}/capture", {"amount": 700, "final": True})
    assert captured.status_code == 200, captured.text
    assert captured.json()["payment_status"] == "captured"
    assert captured.json()["amount_captured"]["amount"] == 700
    assert_problem(await post(shop, f"{path}/capture", {"amount": 1}), 409, "invalid_state")


async def test_void_of_an_untouched_authorization(shop: httpx.AsyncClient) -> None:
    order = await authorized_order(shop)
    path = f"/v1/orders/{order['id']}"
    voided = await post(shop, f"{path}/payment/void")
    assert voided.status_code == 200, voided.text
    assert voided.json()["payment_status"] == "voided"
    assert_problem(await post(shop, f"{path}/capture", {}), 409, "invalid_state")
    assert_problem(await post(shop, f"{path}/refunds", {}), 409, "invalid_state")


async def test_a_repeated_capture_request_captures_once(shop: httpx.AsyncClient) -> None:
    order = await authorized_order(shop)
    path = f"/v1/orders/{order['id']}/capture"
    key = idempotency_key()
    first = await post(shop, path, {"amount": 400}, key)
    again = await post(shop, path, {"amount": 400}, key)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["amount_captured"]["amount"] == 400
    other = await post(shop, path, {"amount": 401}, key)
    assert_problem(other, 422, "idempotency_key_reused")
    now = (await shop.get(f"/v1/orders/{order['id']}")).json()
    assert now["amount_captured"]["amount"] == 400


async def test_capture_and_refund_need_an_idempotency_key(shop: httpx.AsyncClient) -> None:
    order = await authorized_order(shop)
    for route in ("capture", "refunds", "payment/void"):
        response = await shop.post(f"/v1/orders/{order['id']}/{route}", json={})
        assert_problem(response, 422, "validation_error")
    assert (await shop.get(f"/v1/orders/{order['id']}")).json()["payment_status"] == "authorized"


async def test_bad_amounts_are_refused_and_change_nothing(shop: httpx.AsyncClient) -> None:
    order = await authorized_order(shop)
    path = f"/v1/orders/{order['id']}/capture"
    for body in ({"amount": 0}, {"amount": -5}, {"amount": "ten"}, {"amount": 1.5}, []):
        response = await shop.post(path, json=body, headers={"Idempotency-Key": idempotency_key()})
        assert_problem(response, 422, "validation_error")
    missing = await post(shop, "/v1/orders/ord_nothing/capture", {})
    assert_problem(missing, 404, "not_found")
    assert (await shop.get(f"/v1/orders/{order['id']}")).json()["amount_captured"]["amount"] == 0


async def test_concurrent_captures_never_exceed_the_authorization(
    shop: httpx.AsyncClient,
) -> None:
    order = await authorized_order(shop)
    total = order["totals"]["total"]["amount"]
    part = total // 4 + 1  # four of these do not fit
    answers = await asyncio.gather(
        *(post(shop, f"/v1/orders/{order['id']}/capture", {"amount": part}) for _ in range(8))
    )
    ok = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 409]
    assert len(ok) + len(refused) == 8, [a.text for a in answers]
    assert 1 <= len(ok) <= 3
    now = (await shop.get(f"/v1/orders/{order['id']}")).json()
    assert now["amount_captured"]["amount"] == part * len(ok) <= total


async def test_concurrent_refunds_never_exceed_the_capture(shop: httpx.AsyncClient) -> None:
    order = await authorized_order(shop)
    total = order["totals"]["total"]["amount"]
    assert (await post(shop, f"/v1/orders/{order['id']}/capture", {})).status_code == 200
    part = total // 3 + 1
    answers = await asyncio.gather(
        *(post(shop, f"/v1/orders/{order['id']}/refunds", {"amount": part}) for _ in range(6))
    )
    made = [a for a in answers if a.status_code == 201]
    assert all(a.status_code in (201, 409) for a in answers), [a.text for a in answers]
    now = (await shop.get(f"/v1/orders/{order['id']}")).json()
    assert now["amount_refunded"]["amount"] == part * len(made) <= total
