"""No log line carries a secret: a server logging at `info` is fed card numbers, keys and
tokens in paths, queries and bodies, then its whole log is searched for them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from cartwright.migrations.runner import upgrade
from cartwright.ops.logging import REDACTED, Redactor
from tests.conftest import ADMIN_KEY, SECRET_KEY, start_server
from tests.factories import checkout, create_product, ready_cart

CARD = "4111111111111111"
CARD_GROUPED = "5555 5555 5555 4444"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjdXMtMSJ9.c2lnbmF0dXJlLXBhcnQ"


async def _feed_secrets(base_url: str) -> list[str]:
    """Requests that put secrets where a log line could pick them up; returns them."""
    admin_headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=admin_headers) as admin:
        created = await admin.post("/v1/api-keys", json={"type": "publishable", "name": "shop"})
        shop_key = created.json()["key"]
        sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
        cart = await ready_cart(admin, [(sku, 1)])
        placed = await checkout(admin, cart["id"])
        order_token = placed.json()["access_token"]
        await admin.get(f"/v1/carts/{CARD}")
        await admin.get("/v1/products", params={"q": CARD_GROUPED, "token": order_token})
        await admin.get(f"/v1/orders/{order_token}", params={"k": shop_key, "t": JWT})
        refused = await checkout(admin, (await ready_cart(admin, [(sku, 1)]))["id"], token=CARD)
        assert refused.status_code == 422
    async with httpx.AsyncClient(base_url=base_url) as anonymous:
        await anonymous.get("/v1/products", headers={"Authorization": f"Bearer {shop_key}x"})
    return [CARD, CARD_GROUPED, JWT, shop_key, order_token, ADMIN_KEY, SECRET_KEY]


async def test_a_servers_logs_hold_none_of_the_secrets_it_was_sent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    upgrade(url)
    log_path = tmp_path / "server.log"
    server = start_server(url, log_path, extra_env={"CARTWRIGHT_LOG_LEVEL": "info"})
    try:
        secrets = await _feed_secrets(server.base_url)
    finally:
        server.stop()
    text = await _read(log_path)
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    # The lines that would have carried the secrets are there, redacted.
    assert any(line["path"] == f"/v1/carts/{REDACTED}" for line in requests), requests[-5:]
    assert any(REDACTED in (line.get("query") or "") for line in requests)
    assert all(line.get("key_id") != ADMIN_KEY for line in requests)
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == []
    assert CARD_GROUPED.replace(" ", "") not in text


async def _read(path: Path) -> str:
    return path.read_text()  # noqa: ASYNC240 - a small file, after the server stopped


def test_the_redactor_scrubs_nested_values_and_known_secrets() -> None:
    redactor = Redactor(known=["my-admin-key-value"])
    event = {
        "event": "boom my-admin-key-value",
        "headers": {"authorization": "Bearer sk_live_abcdefghijkl"},
        "items": ["otok_0123456789abcdef", ("pk_abcdefghijklmnop",), 42],
        "exception": f"ValueError: {CARD}",
    }
    out = redactor(None, "info", event)
    rendered = json.dumps(out)
    for secret in ("my-admin-key-value", "sk_live", "otok_0123", "pk_abcdef", CARD):
        assert secret not in rendered
    assert out["items"][2] == 42
    assert redactor.text("order 1001, 3 items, 19.99 EUR") == "order 1001, 3 items, 19.99 EUR"
