"""Tax through the API: a destination without a rate is not ready (never 0 % by accident),
a tax id on the cart and the order, EU reverse charge, and a tax provider that cannot be
reached: checkout still works on the tables' rates and the order says `tax_estimated`."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from cartwright.migrations.runner import upgrade
from tests.api.support import assert_problem
from tests.channels.support import create_channel, publishable_key
from tests.conftest import ADMIN_KEY, Server, start_server
from tests.factories import ADDRESS, checkout, create_product, ready_cart, unique_sku


async def _cart(
    client: httpx.AsyncClient, admin: httpx.AsyncClient, country: str
) -> dict[str, Any]:
    sku = (await create_product(admin, price=1000, stock=5))["variants"][0]["sku"]
    return await ready_cart(client, [(sku, 2)], country=country)


async def test_a_country_without_a_rate_is_not_ready(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    cart = await _cart(storefront, admin, "BR")
    assert cart["totals"]["tax"]["amount"] == 0
    refused = await checkout(storefront, cart["id"])
    assert_problem(refused, 409, "cart_not_ready")
    assert "no tax rate for country BR" in refused.text
    # a region-rated country without its region is not ready either; with it, it is
    us = await _cart(storefront, admin, "US")
    assert "no tax rate for country US" in (await checkout(storefront, us["id"])).text
    patched = await storefront.patch(
        f"/v1/carts/{us['id']}",
        json={"shipping_address": {**ADDRESS, "country": "US", "region": "NY"}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["lines"][0]["tax"]["amount"] == 80  # NY state base rate 4 %
    assert patched.json()["totals"]["shipping"]["amount"] == 500  # shipping untaxed in US
    assert patched.json()["totals"]["tax"]["amount"] == 80


async def test_a_tax_id_is_checked_and_shown_on_cart_and_order(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    cart = await _cart(storefront, admin, "DE")
    bad = await storefront.patch(f"/v1/carts/{cart['id']}", json={"tax_id": "DE12"})
    assert_problem(bad, 422, "validation_error")
    ok = await storefront.patch(f"/v1/carts/{cart['id']}", json={"tax_id": "de 123 456 789"})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["tax"] == {
        "tax_id": "DE123456789",
        "exempt_reason": None,
        "estimated": False,
        "prices_include_tax": False,
    }
    # Germany, 19 %: 2 × 10.00 → 3.80, shipping 5.00 → 0.95; totals add up
    assert [line["tax"]["amount"] for line in body["lines"]] == [380]
    assert body["totals"]["tax"]["amount"] == 475
    assert body["totals"]["total"]["amount"] == 2000 + 500 + 475
    placed = await checkout(storefront, cart["id"])
    assert placed.status_code in (200, 201), placed.text
    order = placed.json()
    assert order["tax"] == {"tax_id": "DE123456789", "exempt_reason": None, "estimated": False}
    fetched = await admin.get(f"/v1/orders/{order['id']}")
    assert fetched.json()["tax"]["tax_id"] == "DE123456789"


class _Slow(BaseHTTPRequestHandler):
    """A tax provider that takes 20 s to answer anything."""

    def do_POST(self) -> None:
        time.sleep(20)
        self.send_response(500)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def slow_provider() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# A server whose tax provider is Stripe Tax answering in 20 s, selling from DE.
@pytest.fixture(scope="module")
def tax_server(tmp_path_factory: pytest.TempPathFactory, slow_provider: str) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path_factory.mktemp('tax-sqlite') / 'cartwright.db'}"
    upgrade(url)
    env = {
        "CARTWRIGHT_TAX_PROVIDER": "stripe_tax",
        "CARTWRIGHT_TAX_STRIPE_API_KEY": "sk_test_unreachable",
        "CARTWRIGHT_TAX_STRIPE_URL": slow_provider,
        "CARTWRIGHT_TAX_TIMEOUT_S": "0.5",
        "CARTWRIGHT_TAX_ORIGIN_COUNTRY": "DE",
    }
    server = start_server(url, tmp_path_factory.mktemp("logs") / "tax.log", extra_env=env)
    yield server
    server.stop()


@pytest.fixture
async def tax_admin(tax_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=tax_server.base_url, headers=headers, timeout=30) as c:
        yield c


async def test_the_provider_down_checkout_works_and_the_order_is_tax_estimated(
    tax_admin: httpx.AsyncClient,
) -> None:
    cart = await _cart(tax_admin, tax_admin, "FR")
    assert cart["tax"]["estimated"] is True
    assert cart["totals"]["tax"]["amount"] == 400 + 100  # FR 20 % from the tables
    started = time.perf_counter()
    placed = await checkout(tax_admin, cart["id"])
    # a provider answering in 20 s costs each quote at most the 0.5 s timeout (nothing
    # once its breaker is open): the checkout prices the cart at most twice
    assert time.perf_counter() - started < 2 * 0.5 + 2.0
    assert placed.status_code in (200, 201), placed.text
    assert placed.json()["tax"]["estimated"] is True
    metrics = (await tax_admin.get("/metrics")).text
    assert (
        'cartwright_provider_fallbacks_total{fallback="last_known_rates",kind="tax",provider="stripe_tax"}'
        in metrics
    )


async def test_reverse_charge_for_a_french_business_shown_on_cart_and_order(
    tax_admin: httpx.AsyncClient,
) -> None:
    cart = await _cart(tax_admin, tax_admin, "FR")
    patched = await tax_admin.patch(f"/v1/carts/{cart['id']}", json={"tax_id": "FR12345678901"})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["tax"]["exempt_reason"] == "reverse_charge"
    assert body["totals"]["tax"]["amount"] == 0
    assert body["totals"]["total"]["amount"] == 2000 + 500
    placed = await checkout(tax_admin, cart["id"])
    assert placed.status_code in (200, 201), placed.text
    assert placed.json()["tax"] == {
        "tax_id": "FR12345678901",
        "exempt_reason": "reverse_charge",
        "estimated": False,
    }


async def test_a_variant_is_taxed_at_its_class(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    skus = {}
    for tax_class in ("standard", "reduced", "zero", None):
        variant: dict[str, Any] = {
            "sku": unique_sku(),
            "prices": [{"amount": 1000, "currency": "EUR"}],
        }
        if tax_class is not None:
            variant["tax_class"] = tax_class
        created = await admin.post("/v1/products", json={"title": "Taxed", "variants": [variant]})
        assert created.status_code == 201, created.text
        assert created.json()["variants"][0]["tax_class"] == (tax_class or "standard")
        skus[tax_class] = variant["sku"]
    bad = await admin.post(
        "/v1/products",
        json={
            "title": "x",
            "variants": [
                {
                    "sku": unique_sku(),
                    "tax_class": "luxury",
                    "prices": [{"amount": 1, "currency": "EUR"}],
                }
            ],
        },
    )
    assert bad.status_code == 422, bad.text
    cart = await ready_cart(storefront, [(sku, 1) for sku in skus.values()])
    # DE: 19 %, reduced 7 %, zero 0 %, the default standard
    by_sku = {line["sku"]: line["tax"]["amount"] for line in cart["lines"]}
    assert [by_sku[skus[c]] for c in ("standard", "reduced", "zero", None)] == [190, 70, 0, 190]


async def test_a_tax_inclusive_channel_extracts_the_tax_and_keeps_the_total(
    server: Server, admin: httpx.AsyncClient
) -> None:
    channel = await create_channel(admin, currencies=["EUR"], prices_include_tax=True)
    key = await publishable_key(admin, channel["code"])
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as shop:
        sku = (await create_product(admin, price=1190, stock=5))["variants"][0]["sku"]
        cart = await ready_cart(shop, [(sku, 1)])
        # DE 19 % inside 11.90 is 1.90; inside the 5.00 shipping 0.80; the total is the gross
        assert cart["tax"]["prices_include_tax"] is True
        assert cart["lines"][0]["tax"]["amount"] == 190
        assert cart["totals"]["tax"]["amount"] == 190 + 80
        assert cart["totals"]["total"]["amount"] == 1190 + 500
        placed = await checkout(shop, cart["id"])
        assert placed.status_code in (200, 201), placed.text
        assert placed.json()["totals"]["total"]["amount"] == 1190 + 500
        assert placed.json()["totals"]["tax"]["amount"] == 270
