"""Chargebacks end to end, on PostgreSQL and SQLite: the embedded sandbox provider opens a
dispute on a captured payment and decides it; its signed webhooks (each delivered twice)
reach the platform, which records the dispute once, posts the chargeback and its reversal,
shows the dispute on the order and tells `payment.disputed` / `payment.dispute_closed`
once each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from cartwright.kit import clock
from cartwright.kit.db import Database
from cartwright.sandbox_psp import settlement
from cartwright.sandbox_psp.books import DISPUTE_FEE, Books
from cartwright.sandbox_psp.settings import Faults, SandboxConfig
from tests.api.test_ledger import accounts_of, assert_trial_balance
from tests.conftest import Server
from tests.factories import checkout, create_product, events_about, ready_cart

T = TypeVar("T")


@pytest.fixture
async def provider(server: Server) -> AsyncIterator[Books]:
    """The embedded sandbox's books, as the provider's own staff would reach them: every
    webhook it queues is delivered twice (by the server's sender, to its platform)."""
    db = Database(server.database_url, pool_size=2)
    await db.connect()
    yield Books(db, SandboxConfig(faults=Faults(webhook_duplicate_rate=1.0)))
    await db.close()


async def eventually(probe: Callable[[], Awaitable[T | None]], within_s: float = 20) -> T:
    deadline = asyncio.get_running_loop().time() + within_s
    while (value := await probe()) is None:
        assert asyncio.get_running_loop().time() < deadline, "it never happened"
        await asyncio.sleep(0.2)
    return value


async def captured_order(admin: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    sku = (await create_product(admin, price=2_000, stock=5))["variants"][0]["sku"]
    placed = await checkout(admin, (await ready_cart(admin, [(sku, 1)]))["id"])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    entries = (await admin.get("/v1/ledger/entries", params={"order_id": order["id"]})).json()
    return order, entries["data"][0]["payment_id"]


def dispute_shown(admin: httpx.AsyncClient, order_id: str, status: str) -> Callable[[], Any]:
    async def probe() -> dict[str, Any] | None:
        order = (await admin.get(f"/v1/orders/{order_id}")).json()
        dispute = order["dispute"]
        return dispute if dispute is not None and dispute["status"] == status else None

    return probe


async def test_a_dispute_won_and_one_lost(admin: httpx.AsyncClient, provider: Books) -> None:
    order, payment_id = await captured_order(admin)
    total = order["totals"]["total"]["amount"]
    assert order["dispute"] is None
    at_provider = await provider.find(payment_id)
    assert at_provider is not None

    first = await provider.open_dispute(at_provider["id"], 600, "fraudulent")
    shown = await eventually(dispute_shown(admin, order["id"], "opened"))
    assert shown["amount"] == {"amount": 600, "currency": order["currency"]}
    assert shown["reason"] == "fraudulent" and shown["id"].startswith("dp_")
    accounts = await accounts_of(admin, order["id"])
    assert accounts["chargebacks"] == 600
    assert accounts["provider_clearing:sandbox"] == total - 600

    await provider.decide_dispute(first["id"], "won")
    await eventually(dispute_shown(admin, order["id"], "won"))
    accounts = await accounts_of(admin, order["id"])
    assert "chargebacks" not in accounts
    assert accounts["provider_clearing:sandbox"] == total

    second = await provider.open_dispute(at_provider["id"], None, "product_not_received")
    assert second["amount"] == total
    await eventually(dispute_shown(admin, order["id"], "opened"))
    await provider.decide_dispute(second["id"], "lost")
    lost = await eventually(dispute_shown(admin, order["id"], "lost"))
    assert lost["id"] != shown["id"]
    accounts = await accounts_of(admin, order["id"])
    assert accounts["chargebacks"] == total
    assert "provider_clearing:sandbox" not in accounts

    # Every webhook came twice; each was applied once.
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert types.count("payment.disputed") == 2
    assert types.count("payment.dispute_closed") == 2
    kinds = sorted(
        e["kind"]
        for e in (await admin.get("/v1/ledger/entries", params={"order_id": order["id"]})).json()[
            "data"
        ]
    )
    assert kinds == ["capture", "chargeback", "chargeback", "chargeback_reversal", "placement"]
    await assert_trial_balance(admin)


async def test_the_sandbox_reports_chargebacks_in_its_settlement(
    admin: httpx.AsyncClient, provider: Books
) -> None:
    _, payment_id = await captured_order(admin)
    at_provider = await provider.find(payment_id)
    assert at_provider is not None
    dispute = await provider.open_dispute(at_provider["id"], 500, "duplicate")
    await provider.decide_dispute(dispute["id"], "won")
    report = await settlement.report(provider.db, clock.utcnow().date())
    rows = [line.split(",") for line in report.splitlines()[1:]]
    mine = [r for r in rows if r[1].removesuffix("_reversal") == dispute["id"]]
    assert [(r[0], int(r[6]), int(r[7]), int(r[8])) for r in mine] == [
        ("chargeback", -500, DISPUTE_FEE, -500 - DISPUTE_FEE),
        ("chargeback_reversal", 500, 0, 500),
    ]
    assert mine[0][3] == payment_id


async def test_a_decision_that_overtakes_its_opening_is_applied_once(
    admin: httpx.AsyncClient, provider: Books
) -> None:
    order, payment_id = await captured_order(admin)
    at_provider = await provider.find(payment_id)
    assert at_provider is not None
    late = Books(
        provider.db,
        SandboxConfig(faults=Faults(webhook_reorder_rate=1.0, webhook_reorder_delay_s=2.0)),
    )
    dispute = await late.open_dispute(at_provider["id"], 700, "general")  # told 2 s late
    await provider.decide_dispute(dispute["id"], "won")  # told at once (and twice)
    await eventually(dispute_shown(admin, order["id"], "won"))

    async def all_delivered() -> bool | None:
        async with provider.db.connection() as conn:
            left = await conn.fetchval(
                "SELECT count(*) FROM sandbox_webhook_deliveries"
                " WHERE delivered_at IS NULL AND body LIKE $1",
                f"%{dispute['id']}%",
            )
        return True if left == 0 else None

    await eventually(all_delivered)
    final = (await admin.get(f"/v1/orders/{order['id']}")).json()["dispute"]
    assert final["status"] == "won"  # the opening that came last moved nothing back
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert types.count("payment.disputed") == 1 and types.count("payment.dispute_closed") == 1
    accounts = await accounts_of(admin, order["id"])
    assert "chargebacks" not in accounts
    assert accounts["provider_clearing:sandbox"] == order["totals"]["total"]["amount"]
