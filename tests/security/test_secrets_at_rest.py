"""No secret the platform hands out or receives can be read back from its database or
its events: API keys, order tokens, payment tokens (issue 5's defects, each shown here)."""

from __future__ import annotations

import sqlite3
import subprocess
import uuid
from typing import Any

import httpx
import pytest

from tests.api.support import assert_validation_error, client_with_key, create_key
from tests.conftest import ADMIN_KEY, SECRET_KEY, Server
from tests.factories import checkout, create_product, events_about, ready_cart


def database_dump(server: Server) -> str:
    """Everything the server's database holds, as text."""
    url = server.database_url
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as conn:
            return "\n".join(conn.iterdump())
    return subprocess.run(
        ["pg_dump", "--data-only", url], check=True, capture_output=True, text=True
    ).stdout


async def _scripted_run(admin: httpx.AsyncClient) -> dict[str, str]:
    """Mint keys and place orders through the API; return every secret the run saw."""
    key_request = {"type": "secret", "name": "dump test", "scopes": ["orders:read"]}
    idem = {"Idempotency-Key": uuid.uuid4().hex}
    minted = await admin.post("/v1/api-keys", json=key_request, headers=idem)
    assert minted.status_code == 201, minted.text
    # The replay still shows the key it minted: it was kept sealed, not in clear.
    replayed = await admin.post("/v1/api-keys", json=key_request, headers=idem)
    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["key"] == minted.json()["key"]

    publishable = await create_key(admin, "publishable")
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    async with client_with_key(admin, publishable["key"]) as shop:
        cart = await ready_cart(shop, [(sku, 1)])
        placed = await checkout(shop, cart["id"], key="dump-" + uuid.uuid4().hex)
        assert placed.status_code == 201, placed.text
        # Any token the sandbox does not know is declined: a unique one, to look for.
        odd_token = "tok_private_" + uuid.uuid4().hex
        declined_cart = await ready_cart(shop, [(sku, 1)])
        declined = await checkout(shop, declined_cart["id"], token=odd_token)
        assert declined.status_code == 402, declined.text
    return {
        "minted secret key": minted.json()["key"],
        "publishable key": publishable["key"],
        "order token": placed.json()["access_token"],
        "payment token": odd_token,
        "admin key": ADMIN_KEY,
        "server secret key": SECRET_KEY,
    }


async def test_a_database_dump_holds_none_of_the_secrets_a_run_saw(
    server: Server, admin: httpx.AsyncClient
) -> None:
    seen = await _scripted_run(admin)
    dump = database_dump(server)
    assert "enc1." in dump  # the minted key's stored answer is there, sealed
    leaked = [name for name, value in seen.items() if value in dump]
    assert leaked == []


async def test_events_never_carry_the_order_token(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    cart = await ready_cart(storefront, [(sku, 1)])
    placed = await checkout(storefront, cart["id"])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    events = await events_about(admin, order["id"])
    assert "order.placed" in [e["type"] for e in events]
    listed = await admin.get("/v1/events", params={"limit": 100})
    for body in (str(events), listed.text):
        assert "access_token" not in body
        assert order["access_token"] not in body


async def test_a_replayed_checkout_answers_with_the_same_order_token(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    cart = await ready_cart(storefront, [(sku, 1)])
    key = uuid.uuid4().hex
    first = await checkout(storefront, cart["id"], key=key)
    again = await checkout(storefront, cart["id"], key=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    token = first.json()["access_token"]
    opened = await storefront.get(
        f"/v1/orders/{first.json()['id']}", headers={"Cartwright-Order-Token": token}
    )
    assert opened.status_code == 200
    assert "access_token" not in opened.json()


@pytest.mark.parametrize(
    "card_number",
    ["4242424242424242", "4242 4242 4242 4242", "4000-0566-5566-5556", "378282246310005"],
)
async def test_a_card_number_as_payment_token_is_refused_and_kept_nowhere(
    server: Server, admin: httpx.AsyncClient, storefront: httpx.AsyncClient, card_number: str
) -> None:
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    cart = await ready_cart(storefront, [(sku, 1)])
    key = uuid.uuid4().hex
    refused = await checkout(storefront, cart["id"], token=card_number, key=key)
    body = assert_validation_error(refused, "payment.token")
    assert card_number not in refused.text
    assert "card number" in body["errors"][0]["message"]
    # Nothing happened: the cart is open and the same key then pays with a real token.
    assert (await storefront.get(f"/v1/carts/{cart['id']}")).json()["status"] == "open"
    paid = await checkout(storefront, cart["id"], key=key)
    assert paid.status_code == 201, paid.text
    digits = card_number.replace(" ", "").replace("-", "")
    dump = database_dump(server)
    assert card_number not in dump and digits not in dump


async def test_digits_that_fail_the_luhn_check_are_an_ordinary_token(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    cart = await ready_cart(storefront, [(sku, 1)])
    declined = await checkout(storefront, cart["id"], token="4242424242424241")
    assert declined.status_code == 402, declined.text
    assert declined.json()["decline_code"] == "invalid_token"


def _long_paths(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document, each path parameter 400 characters long."""
    out = []
    for path, operations in openapi["paths"].items():
        if "{" not in path:
            continue
        concrete = path
        while "{" in concrete:
            start, end = concrete.index("{"), concrete.index("}")
            concrete = concrete[:start] + "x" * 400 + concrete[end + 1 :]
        for method in operations:
            out.append((method.upper(), concrete))
    return out


async def test_long_paths_are_answered_without_a_server_error(admin: httpx.AsyncClient) -> None:
    openapi = (await admin.get("/openapi.json")).json()
    operations = _long_paths(openapi)
    assert len(operations) >= 10
    for method, path in operations:
        response = await admin.request(
            method,
            path,
            json={"on_hand": 1, "quantity": 1, "sku": "x" * 400},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code < 500, (method, path[:60], response.status_code, response.text)
