"""GET /v1/audit-events: what is recorded, its shape, filters, pages and who may read it."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.api.support import (
    all_pages,
    assert_problem,
    assert_validation_error,
    client_with_key,
    create_key,
    idempotency_key,
)
from tests.conftest import ROOT, SERVER_ENV, Server
from tests.factories import checkout, create_product, ready_cart, set_stock, unique_sku

SHAPE = {"id", "action", "actor", "target", "request_id", "created_at", "changes"}


async def _events(admin: httpx.AsyncClient, **filters: str) -> list[dict[str, Any]]:
    return await all_pages(admin, "/v1/audit-events", filters)


async def _by_request(admin: httpx.AsyncClient, response: httpx.Response) -> list[dict[str, Any]]:
    return await _events(admin, request_id=response.headers["Request-Id"])


def _product(sku: str) -> dict[str, Any]:
    return {
        "title": "Audited",
        "variants": [{"sku": sku, "prices": [{"amount": 5, "currency": "EUR"}]}],
    }


async def test_a_product_created_is_one_entry_of_the_contract_shape(
    admin: httpx.AsyncClient,
) -> None:
    sku = unique_sku()
    created = await admin.post("/v1/products", json=_product(sku))
    assert created.status_code == 201, created.text
    product = created.json()

    entries = await _events(admin, target_type="product", target_id=product["id"])
    assert len(entries) == 1, entries
    entry = entries[0]
    assert set(entry) == SHAPE
    assert entry["id"].startswith("aud_")
    assert entry["action"] == "product.created"
    assert entry["actor"] == {"key_id": "admin"}
    assert entry["target"] == {"type": "product", "id": product["id"]}
    assert entry["request_id"] == created.headers["Request-Id"]
    assert entry["created_at"].endswith("Z")
    assert entry["changes"]["title"] == "Audited"
    assert entry["changes"]["variants"][0]["sku"] == sku
    assert await _by_request(admin, created) == entries


async def test_a_change_that_fails_writes_no_entry(admin: httpx.AsyncClient) -> None:
    sku = unique_sku()
    first = await admin.post("/v1/products", json=_product(sku))
    assert first.status_code == 201, first.text
    taken = await admin.post("/v1/products", json=_product(sku))
    assert_problem(taken, 409, "sku_taken")
    assert await _by_request(admin, taken) == []
    assert len(await _by_request(admin, first)) == 1
    missing = await admin.put(f"/v1/inventory/{unique_sku()}", json={"on_hand": 3})
    assert_problem(missing, 404, "not_found")
    assert await _by_request(admin, missing) == []


async def test_stock_changes_are_recorded_from_and_to(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=None))["variants"][0]["sku"]
    await set_stock(admin, sku, 4)
    await set_stock(admin, sku, 9)
    entries = await _events(admin, target_type="sku", target_id=sku)
    assert [e["action"] for e in entries] == ["stock.updated", "stock.updated"]
    assert [e["changes"]["on_hand"] for e in entries] == [
        {"from": 4, "to": 9},
        {"from": 0, "to": 4},
    ]


async def test_key_changes_are_recorded_without_the_key(admin: httpx.AsyncClient) -> None:
    minter = await create_key(admin, "secret", scopes=["api_keys:write", "orders:read"])
    async with client_with_key(admin, minter["key"]) as client:
        made = await client.post(
            "/v1/api-keys", json={"type": "secret", "name": "audited", "scopes": ["orders:read"]}
        )
        assert made.status_code == 201, made.text
        key = made.json()
        rolled = await client.post(f"/v1/api-keys/{key['id']}/roll", json={"overlap_s": 60})
        assert rolled.status_code == 201, rolled.text
        revoked = await client.delete(f"/v1/api-keys/{rolled.json()['id']}")
        assert revoked.status_code == 200, revoked.text
        again = await client.delete(f"/v1/api-keys/{rolled.json()['id']}")
        assert again.status_code == 200, again.text

    on_key = await _events(admin, target_type="api_key", target_id=key["id"])
    assert [e["action"] for e in on_key] == ["api_key.rolled", "api_key.created"]
    assert {e["actor"]["key_id"] for e in on_key} == {minter["id"]}
    assert on_key[1]["changes"]["scopes"] == ["orders:read"]
    assert on_key[0]["changes"]["rolled_to"]["id"] == rolled.json()["id"]
    on_new = await _events(admin, target_type="api_key", target_id=rolled.json()["id"])
    assert [e["action"] for e in on_new] == ["api_key.revoked"]  # revoking twice: one change
    assert await _by_request(admin, again) == []
    raw = (await admin.get("/v1/audit-events", params={"limit": 100})).text
    for secret in (key["key"], rolled.json()["key"], minter["key"]):
        assert secret not in raw


async def test_storefront_changes_are_not_audited_but_a_back_office_checkout_is(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    cart = await storefront.post("/v1/carts", json={"currency": "EUR"})
    assert cart.status_code == 201, cart.text
    assert await _by_request(admin, cart) == []
    shop_cart = await ready_cart(storefront, [(sku, 1)])
    placed = await checkout(storefront, shop_cart["id"])
    assert placed.status_code == 201, placed.text
    assert await _by_request(admin, placed) == []
    assert await _events(admin, target_type="order", target_id=placed.json()["id"]) == []

    office_cart = await ready_cart(admin, [(sku, 1)])
    office = await checkout(admin, office_cart["id"])
    assert office.status_code == 201, office.text
    entries = await _by_request(admin, office)
    assert [e["action"] for e in entries] == ["checkout.created"]
    assert entries[0]["target"] == {"type": "order", "id": office.json()["id"]}
    assert entries[0]["changes"]["total"]["amount"] == office.json()["totals"]["total"]["amount"]


async def test_an_idempotent_replay_records_nothing_twice(admin: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": idempotency_key()}
    body = _product(unique_sku())
    first = await admin.post("/v1/products", json=body, headers=headers)
    again = await admin.post("/v1/products", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert len(await _events(admin, target_type="product", target_id=first.json()["id"])) == 1


async def test_filters_and_pages_newest_first(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=None))["variants"][0]["sku"]
    for on_hand in range(1, 6):
        await set_stock(admin, sku, on_hand)
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"target_id": sku, "action": "stock.updated", "limit": 2}
    while True:
        page = await admin.get("/v1/audit-events", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) == {"data", "has_more"}
        seen.extend(body["data"])
        if not body["has_more"]:
            break
        assert len(body["data"]) == 2
        params["starting_after"] = body["data"][-1]["id"]
    assert [e["changes"]["on_hand"]["to"] for e in seen] == [5, 4, 3, 2, 1]
    assert len({e["id"] for e in seen}) == 5
    assert await _events(admin, target_id=sku, action="product.created") == []
    other = await _events(admin, target_type="product", target_id=sku)
    assert other == []


@pytest.mark.parametrize(
    "params",
    [{"action": "x" * 300}, {"target_id": ""}, {"limit": "0"}, {"limit": "abc"}],
    ids=["long-action", "empty-target", "zero-limit", "bad-limit"],
)
async def test_bad_filters_are_422(admin: httpx.AsyncClient, params: dict[str, str]) -> None:
    assert_validation_error(await admin.get("/v1/audit-events", params=params))


async def test_reading_the_log_needs_audit_read(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    assert_problem(await anonymous.get("/v1/audit-events"), 401, "unauthenticated")
    assert_problem(await storefront.get("/v1/audit-events"), 403, "forbidden")
    everything_else = await create_key(admin, "secret")
    auditor = await create_key(admin, "secret", scopes=["audit:read"])
    async with client_with_key(admin, everything_else["key"]) as client:
        assert_problem(await client.get("/v1/audit-events"), 403, "forbidden")
    async with client_with_key(admin, auditor["key"]) as client:
        listed = await client.get("/v1/audit-events", params={"limit": 1})
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["data"]) == 1


def test_the_cli_is_audited_as_cli(sqlite_server: Server) -> None:
    env = {**os.environ, **SERVER_ENV, "CARTWRIGHT_DATABASE_URL": sqlite_server.database_url}
    created = subprocess.run(
        [sys.executable, "-m", "cartwright.cli", "create-key", "--scope", "orders:read"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    key_id = created.stdout.split()[0]
    entries = httpx.get(
        sqlite_server.base_url + "/v1/audit-events",
        params={"target_id": key_id},
        headers={"Authorization": f"Bearer {SERVER_ENV['CARTWRIGHT_ADMIN_KEY']}"},
    ).json()["data"]
    assert [(e["action"], e["actor"]["key_id"]) for e in entries] == [("api_key.created", "cli")]
    assert entries[0]["request_id"].startswith("req_")


async def test_a_confirmed_payment_is_recorded_once(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
    challenged = await checkout(
        admin, (await ready_cart(admin, [(sku, 1)]))["id"], token="tok_3ds_required"
    )
    assert challenged.status_code == 202, challenged.text
    order_id = challenged.json()["id"]
    confirmed = await admin.post(f"/v1/orders/{order_id}/payment/confirm")
    assert confirmed.status_code == 200, confirmed.text
    again = await admin.post(f"/v1/orders/{order_id}/payment/confirm")
    assert again.status_code == 200, again.text
    entries = await _events(admin, target_type="order", target_id=order_id)
    assert [e["action"] for e in entries] == ["order.payment_confirmed", "checkout.created"]
    assert entries[0]["request_id"] == confirmed.headers["Request-Id"]
    assert entries[0]["changes"]["payment_status"] == "captured"

    # The shopper confirming with the storefront's key and the order token: not audited.
    shop = await checkout(
        storefront, (await ready_cart(storefront, [(sku, 1)]))["id"], token="tok_3ds_required"
    )
    assert shop.status_code == 202, shop.text
    by_shopper = await storefront.post(
        f"/v1/orders/{shop.json()['id']}/payment/confirm",
        headers={"Cartwright-Order-Token": shop.json()["access_token"]},
    )
    assert by_shopper.status_code == 200, by_shopper.text
    assert await _events(admin, target_type="order", target_id=shop.json()["id"]) == []
