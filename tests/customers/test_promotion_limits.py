"""A promotion's limit per customer, through the API on both databases: a signed-in
customer gets a code only as often as the limit allows, another customer gets it still,
and a customer's group decides a group promotion."""

from __future__ import annotations

import httpx

from tests.conftest import Server
from tests.customers.idp import IdentityProvider
from tests.customers.test_ownership import client, subject
from tests.factories import checkout, create_product, ready_cart
from tests.promotions.support import apply_code, unique_code


async def _promotion(admin: httpx.AsyncClient, **fields: object) -> dict:
    body = {"name": "Members", "stacking": "stackable", "kind": "percentage", "value": 10}
    made = await admin.post("/v1/promotions", json={**body, **fields})
    assert made.status_code == 201, made.text
    return made.json()


async def test_a_customer_uses_a_code_only_as_often_as_the_limit_allows(
    cserver: Server, c_admin: httpx.AsyncClient, pk: str, idp: IdentityProvider
) -> None:
    sku = (await create_product(c_admin, price=2000, stock=20))["variants"][0]["sku"]
    code = unique_code()
    promo = await _promotion(c_admin, code=code, usage_limit_per_customer=1)
    try:
        async with client(cserver, pk, idp.token(subject())) as ada:
            first = await ready_cart(ada, [(sku, 1)])
            assert (await apply_code(ada, first["id"], code)).status_code == 200
            placed = await checkout(ada, first["id"])
            assert placed.status_code == 201, placed.text
            assert placed.json()["totals"]["discount"]["amount"] == 200
            second = await ready_cart(ada, [(sku, 1)])
            again = await apply_code(ada, second["id"], code)
            assert again.status_code == 422 and again.json()["reason"] == "used_up"
        async with client(cserver, pk, idp.token(subject())) as grace:
            cart = await ready_cart(grace, [(sku, 1)])
            assert (await apply_code(grace, cart["id"], code)).status_code == 200
            assert (await checkout(grace, cart["id"])).json()["totals"]["discount"]["amount"] == 200
        used = await c_admin.get(f"/v1/promotions/{promo['id']}")
        assert used.json()["uses"] == 2
    finally:
        await c_admin.post(f"/v1/promotions/{promo['id']}/deactivate")


async def test_a_group_promotion_applies_to_the_groups_customers_only(
    cserver: Server, c_admin: httpx.AsyncClient, pk: str, idp: IdentityProvider
) -> None:
    sku = (await create_product(c_admin, price=2000, stock=20))["variants"][0]["sku"]
    promo = await _promotion(c_admin, customer_groups=["vip"], skus=[sku])
    try:
        async with client(cserver, pk, idp.token(subject())) as shopper:
            me = (await shopper.get("/v1/customers/me")).json()
            cart = await ready_cart(shopper, [(sku, 1)])
            reasons = {c["id"]: c["reason"] for c in cart["promotions_considered"]}
            assert reasons[promo["id"]] == "group_not_eligible"
            grouped = await c_admin.patch(f"/v1/customers/{me['id']}", json={"group": "vip"})
            assert grouped.status_code == 200, grouped.text
            read = (await shopper.get(f"/v1/carts/{cart['id']}")).json()
            assert read["totals"]["discount"]["amount"] == 200
    finally:
        await c_admin.post(f"/v1/promotions/{promo['id']}/deactivate")
