"""Limits that hold under load, on both databases: a code with `usage_limit` N raced by
many checkouts is used exactly N times, a budget is never overspent, a single-use code
pays one order, and every refusal is 409 `promotion_unavailable` with nothing charged."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.factories import checkout, create_product, ready_cart, stock_of
from tests.promotions.support import Promotions, apply_code, unique_code

RACERS = 8


async def _carts_with(
    client: httpx.AsyncClient, sku: str, code: str, count: int
) -> list[dict[str, Any]]:
    carts = []
    for _ in range(count):
        cart = await ready_cart(client, [(sku, 1)])
        applied = await apply_code(client, cart["id"], code)
        assert applied.status_code == 200, applied.text
        assert applied.json()["totals"]["discount"]["amount"] > 0
        carts.append(applied.json())
    return carts


async def _race(client: httpx.AsyncClient, carts: list[dict[str, Any]]) -> list[httpx.Response]:
    return list(await asyncio.gather(*(checkout(client, c["id"]) for c in carts)))


async def test_a_code_with_usage_limit_n_is_used_exactly_n_times(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    limit = 3
    sku = (await create_product(admin, price=4000, stock=100))["variants"][0]["sku"]
    code = unique_code()
    promo = await made.create(code=code, kind="percentage", value=25, usage_limit=limit)
    carts = await _carts_with(storefront, sku, code, RACERS)
    answers = await _race(storefront, carts)
    placed = [r.json() for r in answers if r.status_code == 201]
    refused = [r.json() for r in answers if r.status_code != 201]
    assert len(placed) == limit, [r.text for r in answers]
    assert all(o["totals"]["discount"]["amount"] == 1000 for o in placed), [
        (o["totals"], o["promotions"]) for o in placed
    ]
    assert all(p["code"] == "promotion_unavailable" for p in refused), refused
    assert all(p["cart"]["totals"]["discount"]["amount"] == 0 for p in refused)
    assert (await made.get(promo["id"]))["uses"] == limit
    # Only the winners' units are held; the refused carts pay full price when they retry.
    assert (await stock_of(admin, sku))["reserved"] == limit
    retried = await checkout(storefront, carts[[r.status_code for r in answers].index(409)]["id"])
    assert retried.status_code == 201, retried.text
    assert retried.json()["totals"]["discount"]["amount"] == 0
    assert (await made.get(promo["id"]))["uses"] == limit


async def test_a_budget_is_never_overspent(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    sku = (await create_product(admin, price=4000, stock=100))["variants"][0]["sku"]
    code = unique_code()
    promo = await made.create(
        code=code, kind="fixed_amount", value=1000, currency="EUR", budget=2500
    )
    carts = await _carts_with(storefront, sku, code, RACERS)
    answers = await _race(storefront, carts)
    placed = [r.json() for r in answers if r.status_code == 201]
    assert {r.status_code for r in answers} <= {201, 409}, [r.text for r in answers]
    granted = sum(o["totals"]["discount"]["amount"] for o in placed)
    assert granted <= 2500
    after = await made.get(promo["id"])
    assert after["granted"]["amount"] == granted
    # The refused retry in turn: the rest of the budget, then nothing.
    for cart in [c for c, r in zip(carts, answers, strict=True) if r.status_code != 201]:
        again = await checkout(storefront, cart["id"])
        assert again.status_code in (201, 409), again.text
        if again.status_code == 201:
            granted += again.json()["totals"]["discount"]["amount"]
    assert granted == (await made.get(promo["id"]))["granted"]["amount"] == 2500


async def test_a_single_use_code_pays_one_order(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    sku = (await create_product(admin, price=3000, stock=100))["variants"][0]["sku"]
    promo = await made.create(kind="fixed_amount", value=700, currency="EUR", skus=[sku])
    generated = await admin.post(f"/v1/promotions/{promo['id']}/codes", json={"count": 50})
    assert generated.status_code == 201, generated.text
    codes = generated.json()["codes"]
    assert len(codes) == len(set(codes)) == 50
    # With codes of its own, the promotion no longer applies by itself.
    plain = await ready_cart(storefront, [(sku, 1)])
    assert plain["totals"]["discount"]["amount"] == 0
    carts = await _carts_with(storefront, sku, codes[0], 4)
    answers = await _race(storefront, carts)
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], [r.text for r in answers]
    winner = next(r.json() for r in answers if r.status_code == 201)
    listed = await admin.get(f"/v1/promotions/{promo['id']}/codes", params={"limit": 100})
    used = [c for c in listed.json()["data"] if c["order_id"] is not None]
    assert [(c["code"], c["order_id"]) for c in used] == [(codes[0], winner["id"])]
    # Another cart cannot take the spent code; the next code works.
    cart = await ready_cart(storefront, [(sku, 1)])
    spent = await apply_code(storefront, cart["id"], codes[0])
    assert spent.status_code == 422 and spent.json()["reason"] == "used_up"
    assert (await apply_code(storefront, cart["id"], codes[1])).status_code == 200
    assert (await checkout(storefront, cart["id"])).status_code == 201


async def test_a_canceled_order_gives_its_use_and_its_code_back(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, made: Promotions
) -> None:
    sku = (await create_product(admin, price=3000, stock=100))["variants"][0]["sku"]
    promo = await made.create(kind="percentage", value=10, usage_limit=1, skus=[sku])
    codes = (await admin.post(f"/v1/promotions/{promo['id']}/codes", json={"count": 1})).json()[
        "codes"
    ]
    cart = await ready_cart(storefront, [(sku, 1)])
    await apply_code(storefront, cart["id"], codes[0])
    order = (await checkout(storefront, cart["id"])).json()
    assert (await made.get(promo["id"]))["uses"] == 1
    canceled = await admin.post(
        f"/v1/orders/{order['id']}/cancel", headers={"Idempotency-Key": "cancel-" + order["id"]}
    )
    assert canceled.status_code == 200, canceled.text
    assert (await made.get(promo["id"]))["uses"] == 0
    # Canceling again gives nothing back twice.
    again = await admin.post(
        f"/v1/orders/{order['id']}/cancel", headers={"Idempotency-Key": "cancel-2-" + order["id"]}
    )
    assert again.status_code in (200, 409)
    assert (await made.get(promo["id"]))["uses"] == 0
    other = await ready_cart(storefront, [(sku, 1)])
    assert (await apply_code(storefront, other["id"], codes[0])).status_code == 200
    assert (await checkout(storefront, other["id"])).status_code == 201
    assert (await made.get(promo["id"]))["uses"] == 1
