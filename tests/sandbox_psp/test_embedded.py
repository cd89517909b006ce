"""The sandbox embedded in the platform's processes (the default): its books in the
platform's database, its shopper pages served by the API, its webhooks queued for the
platform's own endpoint."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import psycopg

from tests.conftest import Server
from tests.factories import checkout, create_product, ready_cart


async def test_a_redirect_payment_is_completed_at_the_pages_the_api_serves(
    pg_server: Server, pg_admin: httpx.AsyncClient
) -> None:
    sku = (await create_product(pg_admin, stock=1))["variants"][0]["sku"]
    cart = await ready_cart(pg_admin, [(sku, 1)])
    answer = await checkout(pg_admin, cart["id"], token="tok_redirect")
    assert answer.status_code == 202, answer.text
    order = answer.json()
    assert order["payment_status"] == "requires_action"
    action = order["next_action"]
    assert action["type"] == "redirect"
    path = urlsplit(action["url"]).path
    assert path.startswith("/sandbox-psp/redirect/pay_")
    async with httpx.AsyncClient(base_url=pg_server.base_url) as shopper:  # no key
        assert "Succeed" in (await shopper.get(path)).text
        assert (await shopper.post(path, data={"outcome": "succeed"})).status_code == 200
    with psycopg.connect(pg_server.database_url) as conn:
        row = conn.execute(
            "SELECT s.status, s.amount_captured, s.amount FROM sandbox_payments s"
            " JOIN payments p ON p.id = s.merchant_reference WHERE p.order_id = %s",
            (order["id"],),
        ).fetchone()
        told = conn.execute(
            "SELECT count(*) FROM sandbox_webhook_deliveries WHERE body LIKE %s",
            ('%"payment.captured"%' + path.rsplit("/", 1)[1] + "%",),
        ).fetchone()
    assert row is not None and row[0] == "captured" and row[1] == row[2]
    assert told is not None and told[0] == 1
