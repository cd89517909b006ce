"""Crashes on the money path: a process dies between the saga's commits, and the recovery
worker finishes or compensates, never guessing. Real processes, killed for real."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from cartwright.kit.db import Database
from cartwright.sandbox_psp.books import Books, NewPayment
from cartwright.sandbox_psp.settings import SandboxConfig
from tests.conftest import ADMIN_KEY, Server, start_server, start_worker
from tests.factories import checkout, create_product, events_about, ready_cart, stock_of


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path


@contextlib.contextmanager
def running_worker(database_url: str, logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    worker = start_worker(database_url, logs / "worker.log")
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=15)


@contextlib.asynccontextmanager
async def client_for(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as client:
        yield client


async def wait_for(predicate, timeout_s: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.25)


async def _crash_during_checkout(
    pg_database: str, logs: Path, failpoint: str, token: str = "tok_visa"
) -> tuple[str, str, str]:
    """Prepare a cart on a server that dies at `failpoint`; returns (sku, cart id, key)."""
    doomed = start_server(
        pg_database,
        logs / "doomed.log",
        no_worker=True,
        extra_env={"CARTWRIGHT_FAILPOINTS": f"{failpoint}=crash"},
    )
    try:
        async with client_for(doomed) as client:
            sku = (await create_product(client, stock=3))["variants"][0]["sku"]
            cart = await ready_cart(client, [(sku, 2)])
            key = uuid.uuid4().hex
            with pytest.raises(httpx.TransportError):  # the process died mid-request
                await checkout(client, cart["id"], token=token, key=key)
        assert doomed.process.wait(timeout=10) == 137
    finally:
        doomed.kill()
    return sku, cart["id"], key


async def test_crash_after_the_provider_charged_is_finished_by_recovery(
    pg_database: str, pg_server: Server, logs: Path
) -> None:
    sku, cart_id, key = await _crash_during_checkout(pg_database, logs, "checkout.after_authorize")
    async with client_for(pg_server) as client:
        # Until recovery runs, the units stay held and the cart frozen: nothing is guessed.
        assert (await stock_of(client, sku))["reserved"] == 2
        retry = await checkout(client, cart_id, key=key)
        assert retry.status_code == 409 and retry.json()["code"] == "idempotency_key_in_use"

        with running_worker(pg_database, logs):

            async def placed() -> dict | None:  # type: ignore[type-arg]
                cart = (await client.get(f"/v1/carts/{cart_id}")).json()
                return cart if cart["status"] == "completed" else None

            cart = await wait_for(placed)

        order = (await client.get(f"/v1/orders/{cart['order_id']}")).json()
        assert order["payment_status"] == "captured"
        assert order["amount_captured"] == order["totals"]["total"]
        assert (await stock_of(client, sku))["reserved"] == 2
        # The client's retry now gets the order, with its token.
        replay = await checkout(client, cart_id, key=key)
        assert replay.status_code == 201
        assert replay.json()["id"] == order["id"]
        assert replay.json()["access_token"].startswith("otok_")
        types = [e["type"] for e in await events_about(client, order["id"])]
        assert types == ["payment.authorized", "payment.captured", "order.placed"]


async def test_crash_before_the_provider_was_asked_releases_everything(
    pg_database: str, pg_server: Server, logs: Path
) -> None:
    sku, cart_id, key = await _crash_during_checkout(pg_database, logs, "checkout.before_authorize")
    async with client_for(pg_server) as client:
        with running_worker(pg_database, logs):

            async def reopened() -> bool:
                return (await client.get(f"/v1/carts/{cart_id}")).json()["status"] == "open"

            await wait_for(reopened)

        assert await stock_of(client, sku) == {
            "sku": sku,
            "on_hand": 3,
            "reserved": 0,
            "available": 3,
        }
        replay = await checkout(client, cart_id, key=key)
        assert replay.status_code == 503
        assert replay.json()["code"] == "provider_unavailable"
        # The shopper pays again with a new key, and it goes through.
        paid = await checkout(client, cart_id)
        assert paid.status_code == 201, paid.text


async def test_kill_9_under_load_loses_no_order_and_charges_nothing_twice(
    pg_database: str, pg_server: Server, logs: Path
) -> None:
    victim = start_server(pg_database, logs / "victim.log", workers=2, no_worker=True)
    shoppers = 40
    try:
        async with client_for(victim) as client:
            sku = (await create_product(client, stock=25))["variants"][0]["sku"]
            carts = [await ready_cart(client, [(sku, 1)]) for _ in range(shoppers)]
            tokens = ["tok_visa", "tok_timeout", "tok_declined", "tok_visa"]

            async def shop(i: int) -> None:
                with contextlib.suppress(httpx.TransportError):
                    await checkout(client, carts[i]["id"], token=tokens[i % len(tokens)])

            load = asyncio.gather(*(shop(i) for i in range(shoppers)))
            await asyncio.sleep(random.uniform(0.3, 0.8))
            victim.kill()  # kill -9, mid-flight
            await load
    finally:
        victim.kill()

    # The kill left work in the middle: checkouts between their commits, or awaiting a
    # payment answer that was lost. That is what the worker must now finish.
    with psycopg.connect(pg_database) as conn:
        unfinished = conn.execute(
            "SELECT count(*) FROM checkouts WHERE cart_id = ANY(%s)"
            " AND status IN ('processing', 'awaiting_payment')",
            ([c["id"] for c in carts],),
        ).fetchone()
    assert unfinished is not None and unfinished[0] > 0

    async with client_for(pg_server) as client:
        with running_worker(pg_database, logs):

            async def settled() -> bool:
                states = [
                    (await client.get(f"/v1/carts/{c['id']}")).json()["status"] for c in carts
                ]
                if "checking_out" in states:
                    return False
                orders = [
                    (await client.get(f"/v1/orders/{c['order_id']}")).json()
                    for c in [(await client.get(f"/v1/carts/{c['id']}")).json() for c in carts]
                    if c["order_id"]
                ]
                return all(o["payment_status"] != "pending" for o in orders)

            await wait_for(settled, timeout_s=40)

        carts_after = [(await client.get(f"/v1/carts/{c['id']}")).json() for c in carts]
        orders = [
            (await client.get(f"/v1/orders/{c['order_id']}")).json()
            for c in carts_after
            if c["status"] == "completed"
        ]
        live = [o for o in orders if o["status"] == "open"]
        # No oversell, and every held unit belongs to a live order.
        stock = await stock_of(client, sku)
        assert stock["reserved"] == sum(o["lines"][0]["quantity"] for o in live) <= 25
        assert all(c["status"] in ("open", "completed") for c in carts_after)

    # The provider's books against ours: every charge has exactly one order, and every
    # order that says it was paid was charged.
    with psycopg.connect(pg_database) as conn:
        charged = {
            row[0]
            for row in conn.execute(
                "SELECT p.order_id FROM sandbox_payments s"
                " JOIN payments p ON p.id = s.merchant_reference"
                " WHERE s.status IN ('captured', 'authorized') AND p.order_id = ANY(%s)",
                ([o["id"] for o in orders] + ["-"],),
            )
        }
        ours = conn.execute(
            "SELECT s.merchant_reference FROM sandbox_payments s"
            " JOIN payments p ON p.id = s.merchant_reference"
            " JOIN checkouts c ON c.payment_id = p.id"
            " WHERE c.cart_id = ANY(%s) AND s.status IN ('captured', 'authorized')",
            ([c["id"] for c in carts],),
        ).fetchall()
        orders_by_payment = conn.execute(
            "SELECT count(*) FROM payments p JOIN orders o ON o.id = p.order_id"
            " WHERE p.id = ANY(%s)",
            ([row[0] for row in ours],),
        ).fetchone()
    assert orders_by_payment is not None and orders_by_payment[0] == len(ours)
    paid = {o["id"] for o in orders if o["payment_status"] in ("captured", "authorized")}
    assert paid == charged


async def test_a_lost_payment_the_provider_never_saw_is_voided_then_failed(
    pg_database: str, pg_server: Server, logs: Path
) -> None:
    async with client_for(pg_server) as client:
        sku = (await create_product(client, stock=1))["variants"][0]["sku"]
        cart = await ready_cart(client, [(sku, 1)])
        pending = await checkout(client, cart["id"], token="tok_timeout")
        assert pending.status_code == 202
        order_id = pending.json()["id"]
        # The provider loses the request: it has no record of the payment at all.
        with psycopg.connect(pg_database, autocommit=True) as conn:
            payment_id = conn.execute(
                "SELECT id FROM payments WHERE order_id = %s", (order_id,)
            ).fetchone()[0]  # type: ignore[index]
            conn.execute(
                "DELETE FROM sandbox_payments WHERE merchant_reference = %s", (payment_id,)
            )

        async def resolved() -> dict | None:  # type: ignore[type-arg]
            order = (await client.get(f"/v1/orders/{order_id}")).json()
            return order if order["payment_status"] != "pending" else None

        order = await wait_for(resolved)  # the server's in-process worker resolves it
        assert order["payment_status"] == "failed"
        assert order["status"] == "canceled"
        assert (await stock_of(client, sku))["reserved"] == 0
        types = [e["type"] for e in await events_about(client, order_id)]
        assert types[-2:] == ["payment.failed", "order.canceled"]

    # The key was voided at the provider first: the lost request, arriving late, cannot
    # charge any more.
    provider_db = Database(pg_database, pool_size=1)
    await provider_db.connect()
    try:
        late, _ = await Books(provider_db, SandboxConfig()).create(
            payment_id, "late", NewPayment(1, "EUR", "tok_visa", True, payment_id, None)
        )
    finally:
        await provider_db.close()
    assert late["status"] == "voided"


async def test_a_confirm_abandoned_by_a_dead_process_does_not_block_its_key(
    pg_database: str, pg_server: Server
) -> None:
    async with client_for(pg_server) as client:
        sku = (await create_product(client, stock=1))["variants"][0]["sku"]
        cart = await ready_cart(client, [(sku, 1)])
        challenged = await checkout(client, cart["id"], token="tok_3ds_required")
        order_id = challenged.json()["id"]
        path, key = f"/v1/orders/{order_id}/payment/confirm", uuid.uuid4().hex
        # A process claimed this key 20 minutes ago and died before it answered.
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO idempotency_keys (owner, route, key, request_hash, status,"
                " created_at) VALUES ('key_admin_env', %s, %s, %s, 'in_progress',"
                " now() - interval '20 minutes')",
                (f"POST {path}", key, hashlib.sha256(b"null").hexdigest()),
            )
        confirmed = await client.post(path, headers={"Idempotency-Key": key})
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["payment_status"] == "captured"
        again = await client.post(path, headers={"Idempotency-Key": key})
        assert again.headers["Idempotent-Replayed"] == "true"


async def test_an_abandoned_3ds_challenge_expires_and_gives_the_stock_back(
    own_pg_database: str, logs: Path
) -> None:
    server = start_server(
        own_pg_database,
        logs / "expiry.log",
        extra_env={"CARTWRIGHT_REQUIRES_ACTION_EXPIRY_S": "1"},
    )
    try:
        async with client_for(server) as client:
            sku = (await create_product(client, stock=1))["variants"][0]["sku"]
            cart = await ready_cart(client, [(sku, 1)])
            challenged = await checkout(client, cart["id"], token="tok_3ds_required")
            assert challenged.status_code == 202
            order_id = challenged.json()["id"]
            assert (await stock_of(client, sku))["reserved"] == 1

            async def settled() -> dict | None:  # type: ignore[type-arg]
                order = (await client.get(f"/v1/orders/{order_id}")).json()
                return order if order["payment_status"] != "requires_action" else None

            order = await wait_for(settled)  # the shopper never came back
            assert order["status"] == "canceled"
            assert order["payment_status"] == "failed"
            assert (await stock_of(client, sku))["reserved"] == 0
            # Confirming now changes nothing: the challenge is over.
            late = await client.post(f"/v1/orders/{order_id}/payment/confirm")
            assert late.json()["status"] == "canceled"
    finally:
        server.stop()


async def test_a_cancel_in_flight_excludes_a_confirm(own_pg_database: str, logs: Path) -> None:
    """Once the worker has claimed an awaited checkout for canceling, a confirm cannot
    place its order (the void could otherwise take the money of a placed order); the
    worker then resolves it with what the void answered."""
    server = start_server(own_pg_database, logs / "cancel.log")
    try:
        async with client_for(server) as client:
            sku = (await create_product(client, stock=1))["variants"][0]["sku"]
            cart = await ready_cart(client, [(sku, 1)])
            challenged = await checkout(client, cart["id"], token="tok_3ds_required")
            assert challenged.status_code == 202
            order_id = challenged.json()["id"]
            with psycopg.connect(own_pg_database, autocommit=True) as conn:
                # What the worker's claim does, held while its void is on the way.
                conn.execute(
                    "UPDATE checkouts SET status = 'canceling',"
                    " next_check_at = now() + interval '1 hour' WHERE order_id = %s",
                    (order_id,),
                )
            confirmed = await client.post(f"/v1/orders/{order_id}/payment/confirm")
            assert confirmed.status_code == 200
            assert confirmed.json()["payment_status"] == "requires_action"  # not placed
            with psycopg.connect(own_pg_database, autocommit=True) as conn:
                conn.execute(
                    "UPDATE checkouts SET next_check_at = now() WHERE order_id = %s", (order_id,)
                )

            async def settled() -> dict | None:  # type: ignore[type-arg]
                order = (await client.get(f"/v1/orders/{order_id}")).json()
                return order if order["status"] == "canceled" else None

            order = await wait_for(settled)
            assert order["payment_status"] == "failed"
            assert (await stock_of(client, sku))["reserved"] == 0
            types = [e["type"] for e in await events_about(client, order_id)]
            assert "order.placed" not in types and types.count("order.canceled") == 1
        with psycopg.connect(own_pg_database) as conn:
            row = conn.execute(
                "SELECT s.status, s.amount_captured FROM sandbox_payments s"
                " JOIN payments p ON p.id = s.merchant_reference WHERE p.order_id = %s",
                (order_id,),
            ).fetchone()
        assert row is not None and row[0] == "voided" and row[1] == 0  # nothing charged
    finally:
        server.stop()


async def test_money_taken_for_an_order_that_cannot_be_written_is_given_back(
    own_pg_database: str, logs: Path
) -> None:
    """The provider captured, then the order keeps failing to be written: after
    CARTWRIGHT_COMPENSATE_AFTER_S the worker fails the checkout and refunds the payment."""
    sku, cart_id, key = await _crash_during_checkout(
        own_pg_database, logs, "checkout.after_authorize"
    )
    with psycopg.connect(own_pg_database, autocommit=True) as conn:
        row = conn.execute(
            "SELECT order_id, payment_id FROM checkouts WHERE cart_id = %s", (cart_id,)
        ).fetchone()
        assert row is not None
        order_id, payment_id = row
        # Something makes the order impossible to write (here: a trigger refusing it).
        conn.execute(
            "CREATE FUNCTION cw_refuse_order() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN IF NEW.id = '{order_id}' THEN RAISE EXCEPTION 'refused by the test';"
            " END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER cw_refuse BEFORE INSERT ON orders"
            " FOR EACH ROW EXECUTE FUNCTION cw_refuse_order()"
        )
    server = start_server(
        own_pg_database, logs / "compensate.log", extra_env={"CARTWRIGHT_COMPENSATE_AFTER_S": "0"}
    )
    try:
        async with client_for(server) as client:

            async def reopened() -> dict | None:  # type: ignore[type-arg]
                cart = (await client.get(f"/v1/carts/{cart_id}")).json()
                return cart if cart["status"] == "open" else None

            await wait_for(reopened)
            assert (await stock_of(client, sku))["reserved"] == 0
            replay = await checkout(client, cart_id, key=key)
            assert replay.status_code == 503 and replay.json()["code"] == "service_unavailable"
            assert (await client.get(f"/v1/orders/{order_id}")).status_code == 404

            async def refunded() -> list[str] | None:
                types = [e["type"] for e in await events_about(client, order_id)]
                return types if "payment.refunded" in types else None

            types = await wait_for(refunded)
            assert types.count("payment.compensated") == 1 and "order.placed" not in types
            # The ledger: the money was owed back from the capture, and went back.
            ledger = await client.get("/v1/ledger/entries", params={"payment_id": payment_id})
            assert sorted(e["kind"] for e in ledger.json()["data"]) == [
                "compensation",
                "give_back",
            ]
            accounts = await client.get("/v1/ledger/accounts", params={"payment_id": payment_id})
            assert all(row["balance"] == 0 for row in accounts.json()["data"])
            trial = (await client.get("/v1/ledger/trial-balance")).json()["data"]
            assert trial and all(row["debits"] == row["credits"] for row in trial)
        with psycopg.connect(own_pg_database) as conn:
            books = conn.execute(
                "SELECT amount_captured, amount_refunded FROM sandbox_payments"
                " WHERE merchant_reference = %s",
                (payment_id,),
            ).fetchone()
            ours = conn.execute(
                "SELECT status, amount_captured, amount_refunded FROM payments WHERE id = %s",
                (payment_id,),
            ).fetchone()
        assert books is not None and books[0] > 0 and books[1] == books[0]  # all given back
        assert ours is not None and ours[0] == "refunded" and ours[1] == ours[2] == books[0]
    finally:
        server.stop()
