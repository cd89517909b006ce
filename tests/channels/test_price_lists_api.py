"""Price lists through the API: prices per channel and tier, validity windows, what the
cart line says, audit, bad input (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.channels.support import create_channel, publishable_key
from tests.conftest import Server
from tests.factories import checkout, create_product, ready_cart


async def _price_list(admin: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    made = await admin.post("/v1/price-lists", json={"name": "Test list", **fields})
    assert made.status_code == 201, made.text
    return made.json()


async def _set(admin: httpx.AsyncClient, list_id: str, prices: list[dict[str, Any]]) -> None:
    response = await admin.put(f"/v1/price-lists/{list_id}/prices", json=prices)
    assert response.status_code == 200, response.text


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def test_tiers_and_what_the_line_says(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    product = await create_product(admin, price=1000, stock=100)
    sku = product["variants"][0]["sku"]
    bulk = await _price_list(admin, name="Bulk")
    await _set(
        admin,
        bulk["id"],
        [
            {"sku": sku, "currency": "EUR", "amount": 950},
            {"sku": sku, "currency": "EUR", "amount": 800, "min_quantity": 10},
        ],
    )
    cart = (await storefront.post("/v1/carts", json={"currency": "EUR"})).json()
    added = await storefront.post(f"/v1/carts/{cart['id']}/lines", json={"sku": sku, "quantity": 3})
    line = added.json()["lines"][0]
    assert line["unit_price"] == {"amount": 950, "currency": "EUR"}
    assert line["total"]["amount"] == 2850
    assert line["price_source"]["kind"] == "price_list"
    assert line["price_source"]["price_list_id"] == bulk["id"]
    assert line["price_source"]["name"] == "Bulk"
    assert line["price_source"]["min_quantity"] == 1
    assert "Bulk" in line["price_source"]["reason"]
    changed = await storefront.patch(
        f"/v1/carts/{cart['id']}/lines/{line['id']}", json={"quantity": 12}
    )
    line = changed.json()["lines"][0]
    assert line["unit_price"]["amount"] == 800 and line["price_source"]["min_quantity"] == 10
    assert changed.json()["totals"]["subtotal"]["amount"] == 9600

    # Checkout charges the list's price.
    patched = await storefront.patch(
        f"/v1/carts/{cart['id']}",
        json={
            "shipping_address": {
                "name": "Ada",
                "line1": "Unter den Linden 1",
                "city": "Berlin",
                "postal_code": "10117",
                "country": "DE",
            },
            "shipping_method": "standard",
        },
    )
    assert patched.status_code == 200, patched.text
    placed = await checkout(storefront, cart["id"])
    assert placed.status_code == 201, placed.text
    assert placed.json()["lines"][0]["unit_price"]["amount"] == 800

    # Removing the tier's price: back to the first tier.
    deleted = await admin.delete(
        f"/v1/price-lists/{bulk['id']}/prices/{sku}", params={"currency": "EUR", "min_quantity": 10}
    )
    assert deleted.status_code == 200, deleted.text
    assert [p["min_quantity"] for p in deleted.json()["prices"]] == [1]
    again = await admin.delete(
        f"/v1/price-lists/{bulk['id']}/prices/{sku}", params={"currency": "EUR", "min_quantity": 10}
    )
    assert again.status_code == 404

    audited = await admin.get("/v1/audit-events", params={"target_id": bulk["id"]})
    actions = {e["action"] for e in audited.json()["data"]}
    assert actions == {"price_list.created", "price_list.prices_set", "price_list.price_deleted"}


async def test_a_channels_prices_apply_only_in_it(server: Server, admin: httpx.AsyncClient) -> None:
    product = await create_product(admin, price=1000, stock=10)
    sku = product["variants"][0]["sku"]
    app = await create_channel(admin)
    listed = await _price_list(admin, name="App prices", channel=app["code"])
    await _set(admin, listed["id"], [{"sku": sku, "currency": "EUR", "amount": 700}])
    in_app = await admin.post(
        "/v1/carts", json={"currency": "EUR"}, headers={"Cartwright-Channel": app["code"]}
    )
    elsewhere = await admin.post("/v1/carts", json={"currency": "EUR"})
    for cart, expected, kind in ((in_app, 700, "price_list"), (elsewhere, 1000, "base")):
        added = await admin.post(
            f"/v1/carts/{cart.json()['id']}/lines", json={"sku": sku, "quantity": 1}
        )
        assert added.status_code == 200, added.text
        line = added.json()["lines"][0]
        assert line["unit_price"]["amount"] == expected
        assert line["price_source"]["kind"] == kind

    # A channel's own price list applies in it, whatever the list names.
    own = await _price_list(admin, name="Store list")
    await _set(admin, own["id"], [{"sku": sku, "currency": "EUR", "amount": 650}])
    store = await create_channel(admin, price_list_id=own["id"])
    key = await publishable_key(admin, store["code"])
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as till:
        cart = await ready_cart(till, [(sku, 1)])
    assert cart["lines"][0]["unit_price"]["amount"] == 650


async def test_a_window_in_the_past_or_future_does_not_apply(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    product = await create_product(admin, price=1000, stock=10)
    sku = product["variants"][0]["sku"]
    now = datetime.now(UTC)
    over = await _price_list(
        admin, starts_at=_iso(now - timedelta(days=2)), ends_at=_iso(now - timedelta(days=1))
    )
    coming = await _price_list(admin, starts_at=_iso(now + timedelta(days=1)), priority=5)
    running = await _price_list(admin, ends_at=_iso(now + timedelta(days=1)), priority=-5)
    for pl, amount in ((over, 100), (coming, 200), (running, 900)):
        await _set(admin, pl["id"], [{"sku": sku, "currency": "EUR", "amount": amount}])
    cart = await ready_cart(storefront, [(sku, 1)])
    assert cart["lines"][0]["unit_price"]["amount"] == 900
    assert cart["lines"][0]["price_source"]["price_list_id"] == running["id"]
    # The sale ends now: the base price again, on the next read.
    ended = await admin.patch(
        f"/v1/price-lists/{running['id']}", json={"ends_at": _iso(datetime.now(UTC))}
    )
    assert ended.status_code == 200, ended.text
    read = await storefront.get(f"/v1/carts/{cart['id']}")
    assert read.json()["lines"][0]["unit_price"]["amount"] == 1000
    assert read.json()["lines"][0]["price_source"]["kind"] == "base"


async def test_bad_input_changes_nothing(admin: httpx.AsyncClient) -> None:
    pl = await _price_list(admin)
    now = datetime.now(UTC)
    for body in (
        {"name": "x", "starts_at": _iso(now), "ends_at": _iso(now - timedelta(hours=1))},
        {"name": "x", "channel": "no-such-channel"},
        {"name": "x", "priority": "high"},
        {"name": "x", "starts_at": "2026-01-01T00:00:00"},  # no offset
    ):
        refused = await admin.post("/v1/price-lists", json=body)
        assert refused.status_code == 422, (body, refused.text)
    for prices in (
        [],
        [{"sku": "S", "currency": "EUR", "amount": -1}],
        [{"sku": "S", "currency": "EUR", "amount": 1, "min_quantity": 0}],
        [
            {"sku": "S", "currency": "EUR", "amount": 1},
            {"sku": "S", "currency": "EUR", "amount": 2},
        ],
    ):
        refused = await admin.put(f"/v1/price-lists/{pl['id']}/prices", json=prices)
        assert refused.status_code == 422, (prices, refused.text)
    read = await admin.get(f"/v1/price-lists/{pl['id']}")
    assert read.status_code == 200 and read.json()["prices"] == []
    assert (await admin.get("/v1/price-lists/pl_missing")).status_code == 404
    bad_channel = await admin.patch("/v1/channels/chn_default", json={"price_list_id": "pl_no"})
    assert bad_channel.status_code == 422, bad_channel.text
