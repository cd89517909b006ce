"""The ledger over HTTP, on PostgreSQL and SQLite: every money movement of the order's
payment is posted with it (placement, captures at checkout and later, partial refunds,
voids, the rest released by a final capture), each order's accounts hold what they should,
and the trial balance's debits equal its credits in every currency."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.support import assert_problem, client_with_key, create_key
from tests.api.test_payment_lifecycle import (  # noqa: F401  (fixtures)
    authorized_order,
    manual_server,
    post,
    shop,
)
from tests.factories import checkout, create_product, ready_cart


async def assert_trial_balance(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/v1/ledger/trial-balance")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data"}
    for row in body["data"]:
        assert set(row) == {"currency", "debits", "credits"}
        assert row["debits"] == row["credits"], row
    return body["data"]


async def accounts_of(client: httpx.AsyncClient, order_id: str) -> dict[str, int]:
    """The order's balance per account (`provider_clearing` per provider)."""
    response = await client.get("/v1/ledger/accounts", params={"order_id": order_id})
    assert response.status_code == 200, response.text
    out: dict[str, int] = {}
    for row in response.json()["data"]:
        name = row["account"] + (f":{row['party']}" if row["party"] else "")
        out[name] = out.get(name, 0) + row["balance"]
    return {k: v for k, v in out.items() if v}


async def kinds_of(client: httpx.AsyncClient, order_id: str) -> list[str]:
    response = await client.get("/v1/ledger/entries", params={"order_id": order_id})
    assert response.status_code == 200, response.text
    entries = response.json()["data"]
    for entry in entries:
        assert sum(line["debit"] for line in entry["lines"]) == sum(
            line["credit"] for line in entry["lines"]
        )
    return sorted(e["kind"] for e in entries)


async def test_a_captured_checkout_and_its_partial_refunds(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, price=1_250, stock=10))["variants"][0]["sku"]
    placed = await checkout(admin, (await ready_cart(admin, [(sku, 2)]))["id"])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    totals = {k: v["amount"] for k, v in order["totals"].items()}
    assert order["payment_status"] == "captured"
    assert await accounts_of(admin, order["id"]) == {
        k: v
        for k, v in {
            "provider_clearing:sandbox": totals["total"],
            "sales": totals["subtotal"],
            "discounts": totals["discount"],
            "shipping_revenue": totals["shipping"],
            "tax_payable": totals["tax"],
        }.items()
        if v
    }
    path = f"/v1/orders/{order['id']}/refunds"
    for amount in (300, 200):
        refunded = await post(admin, path, {"amount": amount, "reason": "scratched"})
        assert refunded.status_code == 201, refunded.text
    accounts = await accounts_of(admin, order["id"])
    assert accounts["sales_returns"] == 500
    assert accounts["provider_clearing:sandbox"] == totals["total"] - 500
    assert "customer_receivable" not in accounts  # nothing owed: all of it was paid
    assert await kinds_of(admin, order["id"]) == ["capture", "placement", "refund", "refund"]
    await assert_trial_balance(admin)


async def test_captures_voids_and_releases_leave_nothing_receivable(
    shop: httpx.AsyncClient,  # noqa: F811
) -> None:
    # Authorized only: all of it is owed.
    waiting = await authorized_order(shop)
    total = waiting["totals"]["total"]["amount"]
    assert (await accounts_of(shop, waiting["id"]))["customer_receivable"] == total
    assert await kinds_of(shop, waiting["id"]) == ["placement"]

    # Part captured, the rest voided.
    order = await authorized_order(shop)
    path = f"/v1/orders/{order['id']}"
    assert (await post(shop, f"{path}/capture", {"amount": 500})).status_code == 200
    assert (await accounts_of(shop, order["id"]))["customer_receivable"] == total - 500
    voided = await post(shop, f"{path}/payment/void")
    assert voided.status_code == 200, voided.text
    accounts = await accounts_of(shop, order["id"])
    assert "customer_receivable" not in accounts
    assert accounts["provider_clearing:sandbox"] == 500
    assert accounts["sales_returns"] == total - 500
    assert await kinds_of(shop, order["id"]) == ["capture", "placement", "void"]

    # A final capture of part: the rest is released.
    final = await authorized_order(shop)
    path = f"/v1/orders/{final['id']}"
    captured = await post(shop, f"{path}/capture", {"amount": 700, "final": True})
    assert captured.status_code == 200, captured.text
    accounts = await accounts_of(shop, final["id"])
    assert "customer_receivable" not in accounts
    assert accounts["sales_returns"] == total - 700
    assert await kinds_of(shop, final["id"]) == ["capture", "placement", "release"]

    # Voided untouched: nothing owed, nothing held.
    untouched = await authorized_order(shop)
    path = f"/v1/orders/{untouched['id']}"
    assert (await post(shop, f"{path}/payment/void")).status_code == 200
    accounts = await accounts_of(shop, untouched["id"])
    assert "customer_receivable" not in accounts and "provider_clearing:sandbox" not in accounts
    # A retried request of a settled operation posts nothing more.
    key = "ledger-retry-" + untouched["id"]
    again = await authorized_order(shop)
    path = f"/v1/orders/{again['id']}/capture"
    for _ in range(2):
        assert (await post(shop, path, {"amount": 100}, key=key)).status_code == 200
    assert await kinds_of(shop, again["id"]) == ["capture", "placement"]
    await assert_trial_balance(shop)


async def test_reading_the_ledger_takes_its_scope(admin: httpx.AsyncClient) -> None:
    key = (await create_key(admin, "secret", scopes=["orders:read"]))["key"]
    async with client_with_key(admin, key) as client:
        for path in ("/v1/ledger/trial-balance", "/v1/ledger/accounts", "/v1/ledger/entries"):
            assert_problem(await client.get(path), 403, "forbidden")
    too_long = await admin.get("/v1/ledger/entries", params={"order_id": "x" * 65})
    assert_problem(too_long, 422, "validation_error")
