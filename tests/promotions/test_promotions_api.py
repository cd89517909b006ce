"""Promotions through the API on both databases: definitions, codes on carts, the cart's
every cent explained, and checkout taking and giving back what an order got."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import checkout, create_product, ready_cart, stock_of
from tests.promotions.support import Promotions, apply_code, line_shares_add_up, unique_code


async def _two_skus(admin: httpx.AsyncClient) -> tuple[str, str]:
    a = (await create_product(admin, price=5000, stock=20))["variants"][0]["sku"]
    b = (await create_product(admin, price=2000, stock=20))["variants"][0]["sku"]
    return a, b


async def test_a_code_discounts_the_cart_and_every_line_carries_its_share(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    a, b = await _two_skus(admin)
    code = unique_code()
    promo = await made.create(name="10 % off", code=code.lower(), kind="percentage", value=10)
    assert promo["code"] == code  # stored upper-case, matched in any case
    cart = await ready_cart(storefront, [(a, 2), (b, 1)])
    applied = await apply_code(storefront, cart["id"], code.lower())
    assert applied.status_code == 200, applied.text
    body = applied.json()
    assert body["promotion_codes"] == [code]
    assert [(p["id"], p["code"], p["amount"]["amount"]) for p in body["promotions"]] == [
        (promo["id"], code, 1200)
    ]
    assert body["totals"]["discount"]["amount"] == 1200
    assert [line["discount"]["amount"] for line in body["lines"]] == [1000, 200]
    assert line_shares_add_up(body)
    considered = {c["id"]: c["reason"] for c in body["promotions_considered"]}
    assert considered[promo["id"]] == "applied"
    totals = body["totals"]
    assert totals["total"]["amount"] == (
        totals["subtotal"]["amount"]
        - totals["discount"]["amount"]
        + totals["shipping"]["amount"]
        + totals["tax"]["amount"]
    )
    removed = await storefront.delete(f"/v1/carts/{cart['id']}/promotion-codes/{code}")
    assert removed.status_code == 200, removed.text
    assert removed.json()["totals"]["discount"]["amount"] == 0
    assert removed.json()["promotions"] == []


async def test_unknown_expired_or_used_up_codes_are_refused_and_change_nothing(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    a, _ = await _two_skus(admin)
    cart = await ready_cart(storefront, [(a, 1)])
    unknown = await apply_code(storefront, cart["id"], "NO-SUCH-CODE")
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "promotion_invalid"
    assert unknown.json()["reason"] == "unknown_code"
    expired = unique_code()
    await made.create(
        code=expired,
        kind="percentage",
        value=5,
        starts_at="2020-01-01T00:00:00Z",
        ends_at="2020-02-01T00:00:00Z",
    )
    refused = await apply_code(storefront, cart["id"], expired)
    assert refused.status_code == 422 and refused.json()["reason"] == "expired"
    yen = unique_code()
    await made.create(code=yen, kind="fixed_amount", value=500, currency="JPY")
    wrong = await apply_code(storefront, cart["id"], yen)
    assert wrong.status_code == 422 and wrong.json()["reason"] == "currency_mismatch"
    again = await storefront.get(f"/v1/carts/{cart['id']}")
    assert again.json()["promotion_codes"] == []
    assert again.json()["updated_at"] == cart["updated_at"]


async def test_definitions_are_checked_and_audited(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "percentage"}, "value"),
        ({"kind": "percentage", "value": 101}, "value"),
        ({"kind": "fixed_amount", "value": 500}, "currency"),
        ({"kind": "free_shipping", "value": 5}, "value"),
        ({"kind": "buy_x_get_y", "buy": 2}, "get"),
        ({"kind": "percentage", "value": 5, "min_subtotal": 1000}, "min_subtotal"),
        (
            {
                "kind": "percentage",
                "value": 5,
                "starts_at": "2030-01-02T00:00:00Z",
                "ends_at": "2030-01-01T00:00:00Z",
            },
            "ends_at",
        ),
    ]
    for fields, field in cases:
        response = await admin.post(
            "/v1/promotions", json={"name": "bad", "stacking": "stackable", **fields}
        )
        assert response.status_code == 422, (fields, response.text)
        assert response.json()["errors"][0]["field"] == field, response.text
    code = unique_code()
    first = await made.create(code=code, kind="percentage", value=5)
    taken = await admin.post(
        "/v1/promotions",
        json={
            "name": "again",
            "code": code,
            "kind": "percentage",
            "value": 5,
            "stacking": "stackable",
        },
    )
    assert taken.status_code == 409 and taken.json()["code"] == "promotion_code_taken"
    forbidden = await storefront.post(
        "/v1/promotions", json={"name": "x", "kind": "free_shipping", "stacking": "stackable"}
    )
    assert forbidden.status_code == 403
    patched = await admin.patch(
        f"/v1/promotions/{first['id']}", json={"value": 15, "usage_limit": 3, "name": None}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["value"] == 15 and patched.json()["usage_limit"] == 3
    assert patched.json()["name"] == first["name"]
    bad = await admin.patch(f"/v1/promotions/{first['id']}", json={"value": 0})
    assert bad.status_code == 422
    log = await admin.get("/v1/audit-log", params={"target_id": first["id"]})
    if log.status_code == 200:
        actions = [e["action"] for e in log.json()["data"]]
        assert "promotion.created" in actions and "promotion.updated" in actions


async def test_the_best_deal_wins_and_the_cart_says_why(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    a, b = await _two_skus(admin)
    ten = await made.create(name="10 %", kind="percentage", value=10, skus=[a, b])
    five_off = await made.create(
        name="5 EUR", kind="fixed_amount", value=500, currency="EUR", skus=[a, b], priority=1
    )
    best = await made.create(
        name="25 % alone", kind="percentage", value=25, skus=[a], stacking="exclusive"
    )
    cart = await ready_cart(storefront, [(a, 1), (b, 1)])
    # Stack: 5.00 off 70.00, then 10 % of 65.00 = 6.50: 11.50. Exclusive: 25 % of 50.00 =
    # 12.50. The exclusive wins alone.
    reasons = {c["id"]: c["reason"] for c in cart["promotions_considered"]}
    assert reasons[best["id"]] == "applied"
    assert reasons[ten["id"]] == "not_combinable"
    assert reasons[five_off["id"]] == "not_combinable"
    assert cart["totals"]["discount"]["amount"] == 1250
    assert [line["discount"]["amount"] for line in cart["lines"]] == [1250, 0]
    assert line_shares_add_up(cart)
    # One more unit of b: the stack gives 5.00 + 10 % of 85.00 = 13.50 > 12.50.
    more = await storefront.post(f"/v1/carts/{cart['id']}/lines", json={"sku": b, "quantity": 1})
    body = more.json()
    reasons = {c["id"]: c["reason"] for c in body["promotions_considered"]}
    assert reasons[best["id"]] == "lost_to_better_deal"
    assert reasons[ten["id"]] == reasons[five_off["id"]] == "applied"
    assert body["totals"]["discount"]["amount"] == 1350
    assert line_shares_add_up(body)


async def test_an_order_keeps_its_discount_line_by_line_and_counts_the_use(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    a, b = await _two_skus(admin)
    code = unique_code()
    promo = await made.create(
        code=code, kind="fixed_amount", value=999, currency="EUR", usage_limit=5
    )
    free = await made.create(name="free shipping", kind="free_shipping", skus=[a])
    cart = await ready_cart(storefront, [(a, 1), (b, 3)])
    priced = (await apply_code(storefront, cart["id"], code)).json()
    shipping = priced["totals"]["shipping"]["amount"]
    assert shipping > 0
    assert priced["totals"]["discount"]["amount"] == 999 + shipping
    assert line_shares_add_up(priced)
    placed = await checkout(storefront, cart["id"])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["totals"] == priced["totals"]
    assert {p["id"]: p["amount"]["amount"] for p in order["promotions"]} == {
        promo["id"]: 999,
        free["id"]: shipping,
    }
    assert [line["discount"]["amount"] for line in order["lines"]] == [
        line["discount"]["amount"] for line in priced["lines"]
    ]
    assert (await made.get(promo["id"]))["uses"] == 1
    assert (await made.get(promo["id"]))["granted"]["amount"] == 999
    assert (await made.get(free["id"]))["uses"] == 1


async def test_a_limit_used_up_since_pricing_is_409_with_the_cart_repriced(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    a, _ = await _two_skus(admin)
    code = unique_code()
    promo = await made.create(code=code, kind="percentage", value=20, usage_limit=1)
    first = await ready_cart(storefront, [(a, 1)])
    second = await ready_cart(storefront, [(a, 1)])
    assert (await apply_code(storefront, first["id"], code)).status_code == 200
    priced = await apply_code(storefront, second["id"], code)
    assert priced.json()["totals"]["discount"]["amount"] == 1000
    assert (await checkout(storefront, first["id"])).status_code == 201
    before = await stock_of(admin, a)
    key = "promo-409-" + code
    refused = await checkout(storefront, second["id"], key=key)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "promotion_unavailable"
    assert problem["promotions"] == [promo["id"]]
    assert problem["cart"]["totals"]["discount"]["amount"] == 0
    reasons = {c["id"]: c["reason"] for c in problem["cart"]["promotions_considered"]}
    assert reasons[promo["id"]] == "used_up"
    assert await stock_of(admin, a) == before  # nothing reserved, nothing charged
    again = await checkout(storefront, second["id"], key=key)
    assert again.status_code == 409 and again.headers.get("idempotent-replayed") == "true"
    paid = await checkout(storefront, second["id"])
    assert paid.status_code == 201, paid.text
    assert paid.json()["totals"]["discount"]["amount"] == 0
    assert (await made.get(promo["id"]))["uses"] == 1


async def test_a_declined_payment_gives_the_use_back(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    a, _ = await _two_skus(admin)
    code = unique_code()
    promo = await made.create(code=code, kind="percentage", value=10, usage_limit=1)
    cart = await ready_cart(storefront, [(a, 1)])
    await apply_code(storefront, cart["id"], code)
    declined = await checkout(storefront, cart["id"], token="tok_declined")
    assert declined.status_code == 402
    after = await made.get(promo["id"])
    assert after["uses"] == 0
    paid = await checkout(storefront, cart["id"])
    assert paid.status_code == 201, paid.text
    assert paid.json()["totals"]["discount"]["amount"] == 500
    assert (await made.get(promo["id"]))["uses"] == 1
