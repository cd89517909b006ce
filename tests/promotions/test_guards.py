"""Checkout's promotion guards on both databases, below the API: a customer's limit, a
single-use code and a usage limit each let exactly what they allow through, a failed
guard applies nothing of the batch, and giving back returns a use once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from cartwright.kit import clock, ids
from cartwright.kit.db import Database, GuardFailed
from cartwright.promotions import repository, service
from cartwright.promotions.service import Applied


@pytest.fixture(params=["pg_database", "sqlite_database"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    database = Database(request.getfixturevalue(request.param), pool_size=4)
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


async def _promotion(db: Database, **fields: object) -> dict:
    """A promotion for a SKU no cart holds: the session's servers share the database."""
    data = {
        "name": "guarded",
        "kind": "percentage",
        "value": 10,
        "stacking": "stackable",
        "skus": [f"NO-CART-{uuid.uuid4().hex}"],
    }
    async with db.transaction() as conn:
        return await service.create(conn, {**data, **fields})


def _applied(promo: dict, *, code: str | None = None, single_use: bool = False) -> Applied:
    return Applied(
        id=promo["id"],
        name=promo["name"],
        code=code,
        amount=100,
        line_shares=(100,),
        single_use=single_use,
        counted=promo["usage_limit"] is not None or promo["budget"] is not None,
        usage_limit_per_customer=promo["usage_limit_per_customer"],
    )


async def _take(db: Database, applied: Applied, customer: str | None = None) -> str | None:
    """The order id when the guards let it through, None when one failed."""
    order_id = ids.new_id("ord")
    writes = service.take_stmts(order_id, customer, "EUR", [applied], clock.utcnow())
    try:
        await db.atomic_batch(writes)
    except GuardFailed:
        return None
    return order_id


async def _usage(db: Database, promotion_id: str) -> tuple[int, int]:
    async with db.connection() as conn:
        return (await repository.usage(conn, [promotion_id])).get(promotion_id, (0, 0))


async def test_a_customers_limit_holds_and_a_use_given_back_frees_it(db: Database) -> None:
    promo = await _promotion(db, usage_limit_per_customer=2)
    customer = ids.new_id("cus")
    first = await _take(db, _applied(promo), customer)
    second = await _take(db, _applied(promo), customer)
    assert first and second
    assert await _take(db, _applied(promo), customer) is None
    assert await _take(db, _applied(promo), ids.new_id("cus")) is not None  # another's own
    assert await _usage(db, promo["id"]) == (3, 300)  # the refused batch wrote nothing
    async with db.transaction() as conn:
        assert await service.give_back(conn, first) == 1
    async with db.transaction() as conn:
        assert await service.give_back(conn, first) == 0  # once
    assert await _take(db, _applied(promo), customer) is not None
    assert await _take(db, _applied(promo), customer) is None


async def test_a_single_use_code_once_and_a_usage_limit_exactly(db: Database) -> None:
    promo = await _promotion(db, usage_limit=2)
    async with db.transaction() as conn:
        codes = (await service.generate_codes(conn, promo["id"], 3, "g"))["codes"]
    assert all(c.startswith("G") and len(c) == 13 for c in codes)
    used = await _take(db, _applied(promo, code=codes[0], single_use=True))
    assert used is not None
    assert await _take(db, _applied(promo, code=codes[0], single_use=True)) is None
    assert await _take(db, _applied(promo, code=codes[1], single_use=True)) is not None
    assert await _take(db, _applied(promo, code=codes[2], single_use=True)) is None  # limit 2
    async with db.connection() as conn:
        row = await repository.get(conn, promo["id"])
        assert row is not None and (row["uses"], row["granted"]) == (2, 200)
        listed = await service.list_codes(conn, promo["id"], limit=10, starting_after=None)
    assert {c["code"]: c["order_id"] for c in listed["data"]}[codes[2]] is None
    async with db.transaction() as conn:
        await service.give_back(conn, used)
    async with db.connection() as conn:
        row = await repository.get(conn, promo["id"])
        assert row is not None and (row["uses"], row["granted"]) == (1, 100)
    # The code given back is usable again, and the limit has room again.
    assert await _take(db, _applied(promo, code=codes[0], single_use=True)) is not None


async def test_an_unlimited_promotion_is_taken_only_while_it_runs(db: Database) -> None:
    promo = await _promotion(db)
    assert await _take(db, _applied(promo)) is not None
    async with db.transaction() as conn:
        await service.deactivate(conn, promo["id"])
    assert await _take(db, _applied(promo)) is None
    async with db.connection() as conn:
        row = await repository.get(conn, promo["id"])
    assert row is not None and row["uses"] == 0  # no counters kept without a limit
    assert await _usage(db, promo["id"]) == (1, 100)
