"""Orders placed straight through the services (no HTTP), for the lifecycle's tests on the
real databases, and a platform of the parts the lifecycle uses, with a fake provider."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from cartwright.checkout.resolution import placement_entries
from cartwright.inventory import service as inventory
from cartwright.inventory.service import Item
from cartwright.kit import ids
from cartwright.kit.db import Database
from cartwright.kit.settings import Settings
from cartwright.ledger import service as ledger
from cartwright.orders import service as orders
from cartwright.orders.service import NewOrder, NewOrderLine
from cartwright.payments import service as payments
from cartwright.payments.connector import ProviderResult, ProviderStatus
from cartwright.payments.gateway import Gateway
from tests.factories import contract_stock, unique_sku
from tests.fakes.connectors import FakeConnector

PROVIDER = "fake"


@dataclass(frozen=True)
class Placed:
    order_id: str
    skus: list[str]
    line_ids: list[str]
    total: int


def platform(db: Database, connector: FakeConnector) -> Any:
    """What `payment_actions` and `lifecycle_actions` use of a `Platform`."""
    return SimpleNamespace(
        db=db,
        gateway=Gateway({PROVIDER: connector}, timeout_s=1, max_attempts=1),
        settings=Settings(payment_operation_recheck_s=30),
    )


async def open_db(url: str, pool_size: int = 8) -> Database:
    database = Database(url, pool_size=pool_size)
    await database.connect()
    return database


@pytest.fixture(params=["pg_database", "sqlite_database"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    database = await open_db(request.getfixturevalue(request.param))
    try:
        yield database
    finally:
        await database.close()


async def place(
    db: Database,
    lines: Sequence[tuple[int, int, int]],
    *,
    captured: bool,
    shipping: int = 0,
    discount: int = 0,
    extra_tax: int = 0,
    stock: int = 100,
) -> Placed:
    """An open order of `lines` (unit price, quantity, line tax), its payment authorized
    (capture on fulfilment) or captured, its stock reserved."""
    order_id = ids.new_id("ord")
    skus = [unique_sku("LC") for _ in lines]
    new_lines = [
        NewOrderLine(sku, "var_x", sku, quantity, price, price * quantity, tax)
        for sku, (price, quantity, tax) in zip(skus, lines, strict=True)
    ]
    subtotal = sum(line.subtotal for line in new_lines)
    tax = sum(line.tax for line in new_lines) + extra_tax
    total = subtotal - discount + shipping + tax
    new = NewOrder(
        order_id=order_id,
        number=10**9 + secrets.randbelow(2**40),  # not `random`: hypothesis seeds it
        cart_id=ids.new_id("cart"),
        currency="EUR",
        email=None,
        shipping_address=None,
        billing_address=None,
        shipping_method=None,
        lines=new_lines,
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        tax=tax,
        total=total,
    )
    payment, insert = payments.new_payment(
        payment_id=ids.new_id("pay"),
        order_id=order_id,
        provider=PROVIDER,
        amount=total,
        currency="EUR",
        capture_method="automatic" if captured else "manual",
    )
    status = ProviderStatus.CAPTURED if captured else ProviderStatus.AUTHORIZED
    change = payments.plan_result(
        payment, ProviderResult(status, "ref_1", total, "EUR", total if captured else 0)
    )
    _, _, placement = orders.plan_placement(
        new,
        payment_status="captured" if captured else "authorized",
        amount_captured=total if captured else 0,
        next_action=None,
    )
    async with db.transaction() as conn:
        for sku in skus:
            await inventory.set_on_hand(conn, sku, stock)
    async with db.transaction() as conn:
        await conn.batch([insert])
        await conn.batch([change.statement])
        await conn.batch(placement)
        await ledger.post(conn, placement_entries(new, change.payment))  # as the checkout does
        await conn.batch(
            inventory.reservation_writes(
                order_id, [Item(line.sku, line.quantity) for line in new_lines]
            )
        )
    order = await get(db, order_id)
    return Placed(order_id, skus, [line["id"] for line in order["lines"]], total)


async def get(db: Database, order_id: str) -> dict[str, Any]:
    async with db.connection() as conn:
        return await orders.get_order(conn, order_id)


async def stock(db: Database, sku: str) -> dict[str, Any]:
    """The SKU's totals as the contract shows them (no per-warehouse detail)."""
    async with db.connection() as conn:
        return contract_stock(await inventory.get_stock(conn, sku))


async def reserved_for(db: Database, reference: str, sku: str) -> int:
    async with db.connection() as conn:
        value = await conn.fetchval(
            "SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE reference = $1 AND sku = $2",
            reference,
            sku,
        )
    return int(value)


async def payment_of(db: Database, order_id: str) -> payments.Payment:
    async with db.connection() as conn:
        return await payments.payment_of_order(conn, order_id)
