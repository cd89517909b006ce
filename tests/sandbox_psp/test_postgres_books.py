"""The sandbox's books on PostgreSQL, in-process: limits held under races, and two
senders on one database (two embedded sandboxes, `serve --workers 2`) never both
delivering a row; a sender that died leaves its rows to be leased again."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from cartwright.kit import clock
from cartwright.kit.db import Database
from cartwright.sandbox_psp import webhooks
from cartwright.sandbox_psp.books import Books, NewPayment, Refused
from cartwright.sandbox_psp.settings import Faults, SandboxConfig
from cartwright.sandbox_psp.tables import create_tables
from cartwright.sandbox_psp.webhooks import LEASE_S, WebhookSender


@pytest.fixture
async def db(own_pg_database: str) -> AsyncIterator[Database]:
    database = Database(own_pg_database, pool_size=12)
    await database.connect()
    await create_tables(database)
    await create_tables(database)  # again, as every start does: a no-op
    yield database
    await database.close()


def new_payment(capture: bool = False) -> NewPayment:
    return NewPayment(1000, "EUR", "tok_visa", capture, "pay_" + uuid.uuid4().hex, None)


async def test_raced_captures_and_refunds_stay_within_the_payment(db: Database) -> None:
    books = Books(db, SandboxConfig())
    payment, _ = await books.create(uuid.uuid4().hex, "h", new_payment())

    async def capture(amount: int) -> bool:
        try:
            await books.capture(payment["id"], uuid.uuid4().hex, "h", (amount, "EUR"), False)
        except Refused:
            return False
        return True

    assert (
        sorted(await asyncio.gather(*(capture(300) for _ in range(6)))) == [False] * 3 + [True] * 3
    )

    async def refund(amount: int) -> bool:
        try:
            await books.refund(payment["id"], uuid.uuid4().hex, "h", (amount, "EUR"), None)
        except Refused:
            return False
        return True

    assert sum(await asyncio.gather(*(refund(200) for _ in range(6)))) == 4
    now = await books.get(payment["id"])
    assert (now["amount_captured"], now["amount_refunded"]) == (900, 800)


class Counting(httpx.AsyncBaseTransport):
    """A receiver that counts each delivery's copies; fails the first `fail` of them."""

    def __init__(self, fail: int = 0) -> None:
        self.received: Counter[str] = Counter()
        self.fail = fail

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)  # a receiver takes a moment: the senders overlap
        if self.fail > 0:
            self.fail -= 1
            return httpx.Response(503)
        body = await request.aread()
        self.received[orjson.loads(body)["id"]] += 1
        return httpx.Response(200)


async def _queue(db: Database, count: int, faults: Faults) -> list[str]:
    async with db.transaction() as conn:
        return [
            await webhooks.enqueue(conn, "payment.voided", {"object": {}}, faults)
            for _ in range(count)
        ]


async def test_two_senders_on_one_database_deliver_each_row_once(db: Database) -> None:
    config = SandboxConfig()
    receiver = Counting()
    events = await _queue(db, 40, Faults())
    duplicated = await _queue(db, 5, Faults(webhook_duplicate_rate=1))
    async with httpx.AsyncClient(transport=receiver) as client:
        senders = [WebhookSender(db, config, client, "http://merchant/hook") for _ in range(2)]
        while sum(receiver.received.values()) < 50:
            await asyncio.gather(*(s.send_due() for s in senders))
    assert receiver.received == Counter(
        {**dict.fromkeys(events, 1), **dict.fromkeys(duplicated, 2)}
    )


async def test_a_failed_delivery_is_retried_later_and_a_dead_senders_lease_runs_out(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SandboxConfig(webhook_retry_s=30)
    [event] = await _queue(db, 1, Faults())
    receiver = Counting(fail=1)
    now = datetime.now(UTC)
    monkeypatch.setattr(clock, "utcnow", lambda: now)
    async with httpx.AsyncClient(transport=receiver) as client:
        sender = WebhookSender(db, config, client, "http://merchant/hook")
        assert await sender.send_due() == 1  # refused: due again in 30 s
        assert await sender.send_due() == 0
        now += timedelta(seconds=31)
        # A sender leases it and dies before it posts.
        assert len(await sender.lease(now)) == 1
        assert await sender.send_due() == 0  # leased: nobody else sends it
        now += timedelta(seconds=LEASE_S + 1)
        assert await sender.send_due() == 1
        assert await sender.send_due() == 0  # delivered: done
    assert receiver.received == Counter({event: 1})
