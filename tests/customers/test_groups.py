"""Customer groups: set by a back office (audited), priced by group price lists for the
signed-in customer's carts, and carried to the quote (both databases)."""

from __future__ import annotations

import httpx

from tests.conftest import Server
from tests.customers.idp import IdentityProvider
from tests.customers.test_ownership import client, subject
from tests.factories import create_product


async def test_a_signed_in_customer_gets_the_prices_of_their_group(
    cserver: Server, c_admin: httpx.AsyncClient, pk: str, idp: IdentityProvider
) -> None:
    product = await create_product(c_admin, price=1000, stock=10)
    sku = product["variants"][0]["sku"]
    vip = await c_admin.post("/v1/price-lists", json={"name": "VIP", "customer_group": "vip"})
    assert vip.status_code == 201, vip.text
    prices = [{"sku": sku, "currency": "EUR", "amount": 800}]
    assert (await c_admin.put(f"/v1/price-lists/{vip.json()['id']}/prices", json=prices)).is_success

    async with client(cserver, pk, idp.token(subject())) as shopper:
        me = (await shopper.get("/v1/customers/me")).json()
        assert me["group"] is None
        cart = (await shopper.post("/v1/carts", json={"currency": "EUR"})).json()
        added = await shopper.post(
            f"/v1/carts/{cart['id']}/lines", json={"sku": sku, "quantity": 2}
        )
        assert added.json()["lines"][0]["unit_price"]["amount"] == 1000  # no group yet

        grouped = await c_admin.patch(f"/v1/customers/{me['id']}", json={"group": "vip"})
        assert grouped.status_code == 200, grouped.text
        assert grouped.json()["group"] == "vip"
        read = await shopper.get(f"/v1/carts/{cart['id']}")
        line = read.json()["lines"][0]
        assert line["unit_price"]["amount"] == 800
        assert line["price_source"]["price_list_id"] == vip.json()["id"]
        assert "customer group 'vip'" in line["price_source"]["reason"]

    # A guest's cart pays the base price; so does a back office's read of nobody's cart.
    async with client(cserver, pk) as guest:
        cart = (await guest.post("/v1/carts", json={"currency": "EUR"})).json()
        added = await guest.post(f"/v1/carts/{cart['id']}/lines", json={"sku": sku, "quantity": 1})
        assert added.json()["lines"][0]["unit_price"]["amount"] == 1000

    audited = await c_admin.get(
        "/v1/audit-events", params={"target_id": me["id"], "action": "customer.updated"}
    )
    assert audited.status_code == 200, audited.text
    [entry] = audited.json()["data"]
    assert entry["changes"] == {"group": {"from": None, "to": "vip"}}

    refused = await c_admin.patch(f"/v1/customers/{me['id']}", json={"group": ""})
    assert refused.status_code == 422, refused.text
    missing = await c_admin.patch("/v1/customers/cus_missing", json={"group": "vip"})
    assert missing.status_code == 404
