"""Back offices: listing, reading, exporting and erasing customers (scopes
`customers:read` / `customers:write`). After an erasure the database holds none of the
customer's personal values; amounts, numbers and the ledger stay."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import httpx
import psycopg

from cartwright.kit.db import Dialect, dialect_of, sqlite_path
from tests.api.support import assert_problem, create_key, idempotency_key
from tests.conftest import Server
from tests.customers.idp import IdentityProvider
from tests.customers.test_ownership import client, subject
from tests.factories import checkout, create_product, events_about

PLACEHOLDER = "[erased]"


def database_dump(database_url: str) -> str:
    """Every value of every table, as text: what a dump of the database would hold."""
    parts: list[str] = []
    if dialect_of(database_url) is Dialect.POSTGRES:
        with psycopg.connect(database_url) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                ).fetchall()
            ]
            for table in tables:
                rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608
                parts.append(f"{table}: {rows!r}")
        return "\n".join(parts)
    with sqlite3.connect(sqlite_path(database_url)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608
            parts.append(f"{table}: {rows!r}")
    return "\n".join(parts)


def personal_values() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "email": f"grace-{tag}@example.com",
        "name": f"Grace Hopper {tag}",
        "line1": f"Arlington Street {tag}",
        "line2": f"Floor {tag}",
        "city": f"Arlington-{tag}",
        "postal_code": f"PC{tag}",
        "region": f"Virginia-{tag}",
    }


async def _customer_with_an_order(
    cserver: Server, pk: str, c_admin: httpx.AsyncClient, idp: IdentityProvider, sub: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    values = personal_values()
    sku = (await create_product(c_admin, price=2500))["variants"][0]["sku"]
    address = {k: values[k] for k in ("name", "line1", "line2", "city", "postal_code", "region")}
    address["country"] = "DE"
    async with client(cserver, pk, idp.token(sub, email=values["email"])) as shopper:
        cart = (
            await shopper.post(
                "/v1/carts",
                json={"currency": "EUR"},
                headers={"Idempotency-Key": idempotency_key()},
            )
        ).json()
        added = await shopper.post(
            f"/v1/carts/{cart['id']}/lines",
            json={"sku": sku, "quantity": 2},
            headers={"Idempotency-Key": idempotency_key()},
        )
        assert added.status_code == 200, added.text
        patched = await shopper.patch(
            f"/v1/carts/{cart['id']}",
            json={
                "shipping_address": address,
                "billing_address": address,
                "shipping_method": "standard",
            },
        )
        assert patched.status_code == 200, patched.text
        declined = await checkout(shopper, cart["id"], token="tok_declined")
        assert declined.status_code == 402, declined.text
        placed = await checkout(shopper, cart["id"])
        assert placed.status_code == 201, placed.text
        # A second cart left open, with an address too.
        open_cart = (await shopper.post("/v1/carts", json={"currency": "EUR"})).json()
        await shopper.patch(f"/v1/carts/{open_cart['id']}", json={"shipping_address": address})
        me = (await shopper.get("/v1/customers/me")).json()
    return me, placed.json(), values


async def test_scopes_guard_the_back_office_routes(
    c_admin: httpx.AsyncClient, pk: str, cserver: Server
) -> None:
    reader = await create_key(c_admin, "secret", scopes=["customers:read"])
    other = await create_key(c_admin, "secret", scopes=["orders:read"])
    async with client(cserver, other["key"]) as c:
        assert_problem(await c.get("/v1/customers"), 403, "forbidden")
    async with client(cserver, pk) as c:
        assert_problem(await c.get("/v1/customers"), 403, "forbidden")
        assert_problem(await c.get("/v1/customers/cus_x/export"), 403, "forbidden")
    async with client(cserver, reader["key"]) as c:
        assert (await c.get("/v1/customers")).status_code == 200
        assert_problem(await c.get("/v1/customers/cus_missing"), 404, "not_found")
        assert_problem(await c.post("/v1/customers/cus_missing/erase"), 403, "forbidden")
    assert_problem(await c_admin.post("/v1/customers/cus_missing/erase"), 404, "not_found")


async def test_list_get_and_export(
    cserver: Server, pk: str, c_admin: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    me, order, values = await _customer_with_an_order(cserver, pk, c_admin, idp, subject())
    found = await c_admin.get("/v1/customers", params={"email": values["email"]})
    assert [c["id"] for c in found.json()["data"]] == [me["id"]]
    assert found.json()["has_more"] is False
    one = await c_admin.get(f"/v1/customers/{me['id']}")
    assert one.status_code == 200 and one.json()["email"] == values["email"]

    export = await c_admin.get(f"/v1/customers/{me['id']}/export")
    assert export.status_code == 200, export.text
    held = export.json()
    assert held["customer"]["id"] == me["id"]
    assert len(held["carts"]) == 2
    assert {c["customer_id"] for c in held["carts"]} == {me["id"]}
    assert [o["id"] for o in held["orders"]] == [order["id"]]
    assert held["orders"][0]["shipping_address"]["city"] == values["city"]
    assert held["orders"][0]["lines"][0]["quantity"] == 2
    types = {e["type"] for e in held["events"]}
    assert {"customer.created", "order.placed"} <= types


async def test_erase_leaves_no_personal_value_and_keeps_the_money(
    cserver: Server, pk: str, c_admin: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    sub = subject()
    me, order, values = await _customer_with_an_order(cserver, pk, c_admin, idp, sub)
    dump = database_dump(cserver.database_url)
    assert all(v in dump for v in values.values())  # the dump does see them before

    key = idempotency_key()
    erased = await c_admin.post(f"/v1/customers/{me['id']}/erase", headers={"Idempotency-Key": key})
    assert erased.status_code == 200, erased.text
    assert erased.json()["status"] == "erased"
    assert erased.json()["email"] == PLACEHOLDER
    assert erased.json()["erased_at"] is not None

    dump = database_dump(cserver.database_url)
    left = [name for name, v in values.items() if v in dump]
    assert left == [], f"still in the database: {left}"
    assert sub not in dump

    # The order keeps its number, lines and amounts; its address reads as erased.
    kept = (await c_admin.get(f"/v1/orders/{order['id']}")).json()
    assert (kept["number"], kept["totals"], kept["lines"][0]["quantity"]) == (
        order["number"],
        order["totals"],
        2,
    )
    assert kept["amount_captured"] == order["amount_captured"]
    assert kept["email"] == PLACEHOLDER
    assert kept["shipping_address"]["name"] == PLACEHOLDER
    assert kept["shipping_address"]["country"] == "DE"
    placed = [e for e in await events_about(c_admin, order["id"]) if e["type"] == "order.placed"]
    assert placed[0]["data"]["email"] == PLACEHOLDER
    assert placed[0]["data"]["totals"] == order["totals"]

    # Erasing again answers the same (replayed with the key; idempotent without).
    replay = await c_admin.post(f"/v1/customers/{me['id']}/erase", headers={"Idempotency-Key": key})
    assert replay.headers.get("Idempotent-Replayed") == "true"
    again = await c_admin.post(f"/v1/customers/{me['id']}/erase")
    assert again.status_code == 200 and again.json()["status"] == "erased"

    # The erasure is audited once (who erased whom), holding no personal value.
    audited = await c_admin.get(
        "/v1/audit-events", params={"action": "customer.erased", "target_id": me["id"]}
    )
    assert audited.status_code == 200, audited.text
    entries = audited.json()["data"]
    assert len(entries) == 1, entries
    assert entries[0]["changes"]["orders"] == 1, entries
    assert entries[0]["changes"]["carts"] >= 1, entries
    assert not any(v in audited.text for v in values.values())

    # The same person signing in again is a new customer holding nothing of the old one.
    async with client(cserver, pk, idp.token(sub, email=values["email"])) as shopper:
        fresh = (await shopper.get("/v1/customers/me")).json()
        assert fresh["id"] != me["id"]
        assert (await shopper.get("/v1/customers/me/orders")).json()["data"] == []
        assert_problem(await shopper.get(f"/v1/orders/{order['id']}"), 404, "not_found")
    export = (await c_admin.get(f"/v1/customers/{me['id']}/export")).json()
    assert export["customer"]["status"] == "erased"
    assert all(c["email"] in (PLACEHOLDER, None) for c in export["carts"])
