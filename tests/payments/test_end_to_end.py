"""End to end against the sandbox provider as separate processes: two `cartwright
sandbox-psp` servers (`sandbox`, whose webhooks come late, twice and out of order, and
`sandbox_failover`), and platform servers paying through them over HTTP, on a PostgreSQL
database of this module's own.

Every test token, the redirect method completed by webhook alone, duplicate, forged, stale,
altered and out-of-date webhooks, manual capture, an outage mid-load with failover, a
timeout and a crash between the provider call and the commit, each then recovered. The last
test holds the module to the providers' own books (their SQLite files): each order charged
at most once, nothing held at a provider without a live order, refunded <= captured <=
authorized on both sides, and both sides agreeing on every amount.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.conftest import (
    ADMIN_KEY,
    ROOT,
    Server,
    _migrated_database,
    free_port,
    start_server,
)
from tests.factories import checkout, create_product, events_about, ready_cart

T = TypeVar("T")

API_KEY = "sk_sandbox_" + uuid.uuid4().hex[:12]
SLOW_RESPONSE_S = 1.5  # above the servers' CARTWRIGHT_PSP_TIMEOUT_S (1 s)
PROVIDERS = ("sandbox", "sandbox_failover")
COOLDOWN_S = 4


@dataclass
class SandboxProcess:
    name: str
    base_url: str
    database: Path
    secret: str
    process: subprocess.Popen[bytes]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
        )

    def rows(self, query: str, *params: object) -> list[dict[str, Any]]:
        """Read the provider's own books (its SQLite file), as another company's auditor."""
        with contextlib.closing(sqlite3.connect(self.database, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(query, params)]

    def payment(self, reference: str) -> dict[str, Any] | None:
        found = self.rows("SELECT * FROM sandbox_payments WHERE merchant_reference = ?", reference)
        return found[0] if found else None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class World:
    database_url: str
    server: Server
    sandboxes: dict[str, SandboxProcess]
    env: dict[str, str]
    logs: Path


def _start_sandbox(
    name: str, directory: Path, webhook_url: str, extra: list[str]
) -> SandboxProcess:
    port = free_port()
    secret = "whsec_" + uuid.uuid4().hex
    database = directory / f"{name}.db"
    args = [
        sys.executable, "-m", "cartwright.cli", "sandbox-psp",
        "--port", str(port),
        "--database-url", f"sqlite:///{database}",
        "--api-key", API_KEY,
        "--webhook-url", webhook_url,
        "--webhook-secret", secret,
        "--slow-response-s", str(SLOW_RESPONSE_S),
        "--webhook-retry-s", "0.2",
        *extra,
    ]  # fmt: skip
    log = (directory / f"{name}.log").open("wb")
    process = subprocess.Popen(
        args,
        env={**os.environ, "CARTWRIGHT_LOG_LEVEL": "warning"},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    sandbox = SandboxProcess(name, f"http://127.0.0.1:{port}", database, secret, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{(directory / f'{name}.log').read_text()}")
        try:
            httpx.get(sandbox.base_url + "/v1/payments", timeout=1)
            return sandbox
        except httpx.HTTPError:
            time.sleep(0.1)
    sandbox.stop()
    raise RuntimeError(f"{name} did not start")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    logs = tmp_path_factory.mktemp("end-to-end")
    with _migrated_database() as database_url:
        port = free_port()  # the sandboxes post their webhooks to it: known before they start
        hooks = f"http://127.0.0.1:{port}/v1/webhooks/psp"
        sandboxes: dict[str, SandboxProcess] = {}
        server = None
        try:
            sandboxes["sandbox"] = _start_sandbox(
                "sandbox",
                logs,
                f"{hooks}/sandbox",
                ["--webhook-duplicate-rate", "0.5", "--webhook-reorder-rate", "0.3"],
            )
            sandboxes["sandbox_failover"] = _start_sandbox(
                "sandbox_failover", logs, f"{hooks}/sandbox_failover", []
            )
            env = {
                "CARTWRIGHT_SANDBOX_URL": sandboxes["sandbox"].base_url,
                "CARTWRIGHT_SANDBOX_API_KEY": API_KEY,
                "CARTWRIGHT_SANDBOX_WEBHOOK_SECRET": sandboxes["sandbox"].secret,
                "CARTWRIGHT_SANDBOX_FAILOVER_URL": sandboxes["sandbox_failover"].base_url,
                "CARTWRIGHT_SANDBOX_FAILOVER_API_KEY": API_KEY,
                "CARTWRIGHT_SANDBOX_FAILOVER_WEBHOOK_SECRET": sandboxes["sandbox_failover"].secret,
                "CARTWRIGHT_PAYMENT_ROUTES": json.dumps([{"providers": list(PROVIDERS)}]),
                # Small enough to open within a few failed checkouts of an outage.
                "CARTWRIGHT_PSP_BREAKER_THRESHOLD": "3",
                "CARTWRIGHT_PSP_BREAKER_WINDOW": "5",
                # Longer than the outage's waves take, so no half-open probe fails one.
                "CARTWRIGHT_PSP_BREAKER_COOLDOWN_S": str(COOLDOWN_S),
            }
            server = start_server(database_url, logs / "platform.log", extra_env=env, port=port)
            yield World(database_url, server, sandboxes, env, logs)
        finally:
            if server is not None:
                server.stop()
            for sandbox in sandboxes.values():
                sandbox.stop()


@contextlib.asynccontextmanager
async def admin_of(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
async def admin(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_of(world.server) as client:
        yield client


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout_s: float = 20
) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if value is not None:
            return value
        assert time.monotonic() < deadline, f"not reached in {timeout_s} s: {what}"
        await asyncio.sleep(0.2)


async def order_when(
    admin: httpx.AsyncClient, order_id: str, done: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        order: dict[str, Any] = (await admin.get(f"/v1/orders/{order_id}")).json()
        return order if done(order) else None

    return await eventually(probe, what)


def our_payments(world: World, order_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(world.database_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM payments WHERE order_id = %s ORDER BY created_at", (order_id,)
        ).fetchall()


def their_payment(world: World, ours: dict[str, Any]) -> dict[str, Any] | None:
    return world.sandboxes[ours["provider"]].payment(ours["id"])


async def new_cart(admin: httpx.AsyncClient, stock: int = 5) -> tuple[str, str]:
    sku = (await create_product(admin, stock=stock))["variants"][0]["sku"]
    return sku, (await ready_cart(admin, [(sku, 1)]))["id"]


def total(order: dict[str, Any]) -> int:
    amount: int = order["totals"]["total"]["amount"]
    return amount


# -- every token ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "status", "decline_code"),
    [
        ("tok_visa", 201, None),
        ("tok_declined", 402, "card_declined"),
        ("tok_insufficient_funds", 402, "insufficient_funds"),
        ("tok_unheard_of", 402, "invalid_token"),
    ],
)
async def test_a_token_answered_at_once_pays_or_declines_at_the_provider(
    world: World, admin: httpx.AsyncClient, token: str, status: int, decline_code: str | None
) -> None:
    _, cart_id = await new_cart(admin)
    answer = await checkout(admin, cart_id, token=token)
    assert answer.status_code == status, answer.text
    cart = (await admin.get(f"/v1/carts/{cart_id}")).json()
    if status == 201:
        order = answer.json()
        assert order["payment_status"] == "captured"
        [ours] = our_payments(world, order["id"])
        theirs = their_payment(world, ours)
        assert theirs is not None and theirs["status"] == "captured"
        assert theirs["amount_captured"] == ours["amount_captured"] == total(order)
    else:
        assert answer.json()["decline_code"] == decline_code
        assert cart["status"] == "open"  # reopened: nothing charged, no order


async def test_three_d_secure_is_paid_when_the_shopper_confirms(
    world: World, admin: httpx.AsyncClient
) -> None:
    _, cart_id = await new_cart(admin)
    answer = await checkout(admin, cart_id, token="tok_3ds_required")
    assert answer.status_code == 202, answer.text
    order = answer.json()
    assert (order["payment_status"], order["next_action"]["type"]) == (
        "requires_action",
        "three_d_secure",
    )
    confirmed = await admin.post(f"/v1/orders/{order['id']}/payment/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["payment_status"] == "captured"
    [ours] = our_payments(world, order["id"])
    theirs = their_payment(world, ours)
    assert theirs is not None and theirs["amount_captured"] == total(order)


async def test_confirms_racing_the_providers_webhook_place_the_order_once(
    world: World, admin: httpx.AsyncClient
) -> None:
    _, cart_id = await new_cart(admin)
    order = (await checkout(admin, cart_id, token="tok_3ds_required")).json()
    # The first confirm at the provider also sends its webhook: all race to place the order.
    confirms = await asyncio.gather(
        *(admin.post(f"/v1/orders/{order['id']}/payment/confirm") for _ in range(4))
    )
    assert [c.status_code for c in confirms] == [200] * 4, [c.text for c in confirms]
    assert {c.json()["payment_status"] for c in confirms} == {"captured"}
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert types.count("order.placed") == 1 and types.count("payment.captured") == 1
    [ours] = our_payments(world, order["id"])
    theirs = their_payment(world, ours)
    assert theirs is not None and theirs["amount_captured"] == total(order)


async def test_a_processing_error_answers_503_and_charges_nothing(
    world: World, admin: httpx.AsyncClient
) -> None:
    sku, cart_id = await new_cart(admin)
    answer = await checkout(admin, cart_id, token="tok_processing_error")
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "provider_unavailable"
    assert (await admin.get(f"/v1/carts/{cart_id}")).json()["status"] == "open"
    assert (await admin.get(f"/v1/inventory/{sku}")).json()["reserved"] == 0
    with psycopg.connect(world.database_url, row_factory=dict_row) as conn:
        [ours] = conn.execute(
            "SELECT p.* FROM payments p JOIN checkouts c ON c.payment_id = p.id"
            " WHERE c.cart_id = %s",
            (cart_id,),
        ).fetchall()
    assert ours["status"] == "failed"
    # The key was voided at the provider: a tombstone, never a charge.
    theirs = their_payment(world, ours)
    assert theirs is not None and (theirs["status"], theirs["amount_captured"]) == ("voided", 0)


async def test_a_timeout_answers_pending_and_the_worker_finds_the_charge(
    world: World, admin: httpx.AsyncClient
) -> None:
    _, cart_id = await new_cart(admin)
    answer = await checkout(admin, cart_id, token="tok_timeout")
    assert answer.status_code == 202, answer.text
    order = answer.json()
    assert order["payment_status"] == "pending"
    paid = await order_when(
        admin, order["id"], lambda o: o["payment_status"] != "pending", "the timeout resolved"
    )
    assert (paid["status"], paid["payment_status"]) == ("open", "captured")
    assert paid["amount_captured"]["amount"] == total(order)
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert types.count("order.placed") == 1


# -- the redirect method: the webhook alone -------------------------------------------


async def _redirect_checkout(admin: httpx.AsyncClient, token: str, outcome: str) -> dict[str, Any]:
    """A redirect checkout completed at the provider's page; never confirmed by us."""
    _, cart_id = await new_cart(admin)
    answer = await checkout(admin, cart_id, token=token)
    assert answer.status_code == 202, answer.text
    order: dict[str, Any] = answer.json()
    assert order["payment_status"] == "requires_action"
    action = order["next_action"]
    assert action["type"] == "redirect"
    async with httpx.AsyncClient() as shopper:  # the shopper's browser, at the provider
        done = await shopper.post(action["url"], data={"outcome": outcome})
    assert done.status_code in (200, 303), done.text
    return order


async def test_a_redirect_payment_is_paid_by_the_providers_webhook_alone(
    world: World, admin: httpx.AsyncClient
) -> None:
    order = await _redirect_checkout(admin, "tok_redirect", "succeed")
    paid = await order_when(
        admin, order["id"], lambda o: o["payment_status"] != "requires_action", "the webhook"
    )
    assert (paid["status"], paid["payment_status"]) == ("open", "captured")
    assert paid["amount_captured"]["amount"] == total(order)
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert types.count("order.placed") == 1 and types.count("payment.captured") == 1


@pytest.mark.parametrize(
    ("token", "outcome"), [("tok_redirect_fail", "succeed"), ("tok_redirect", "fail")]
)
async def test_a_refused_redirect_cancels_the_order_by_webhook(
    world: World, admin: httpx.AsyncClient, token: str, outcome: str
) -> None:
    order = await _redirect_checkout(admin, token, outcome)
    canceled = await order_when(
        admin, order["id"], lambda o: o["payment_status"] != "requires_action", "the webhook"
    )
    assert (canceled["status"], canceled["payment_status"]) == ("canceled", "failed")
    [ours] = our_payments(world, order["id"])
    theirs = their_payment(world, ours)
    assert theirs is not None and theirs["status"] == "declined"


# -- webhooks that must change nothing ------------------------------------------------


def _signed(secret: str, body: bytes, at: int | None = None) -> dict[str, str]:
    t = int(time.time()) if at is None else at
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "Sandbox-Signature": f"t={t},v1={v1}"}


def _state(world: World, order_id: str) -> tuple[object, ...]:
    with psycopg.connect(world.database_url) as conn:
        return (
            conn.execute("SELECT * FROM orders WHERE id = %s", (order_id,)).fetchall(),
            conn.execute("SELECT * FROM payments WHERE order_id = %s", (order_id,)).fetchall(),
            conn.execute(
                "SELECT count(*) FROM events WHERE aggregate_id = %s", (order_id,)
            ).fetchall(),
        )


async def test_duplicate_forged_stale_altered_and_outdated_webhooks_change_nothing(
    world: World, admin: httpx.AsyncClient
) -> None:
    # Each event delivered twice by the provider itself (same event id).
    async with faults(world, webhook_duplicate_rate=1.0):
        order = await _redirect_checkout(admin, "tok_redirect", "succeed")
        [ours] = our_payments(world, order["id"])
        sandbox = world.sandboxes[ours["provider"]]
        theirs = sandbox.payment(ours["id"])
        assert theirs is not None

        async def both_delivered() -> list[dict[str, Any]] | None:
            rows = sandbox.rows(
                "SELECT event_id, body, delivered_at FROM sandbox_webhook_deliveries"
                " WHERE body LIKE ?",
                f"%{theirs['id']}%",
            )
            return rows if len(rows) == 2 and all(r["delivered_at"] for r in rows) else None

        deliveries = await eventually(both_delivered, "the provider delivered twice")
    [(event_id, delivered)] = {(r["event_id"], r["body"]) for r in deliveries}
    paid = (await admin.get(f"/v1/orders/{order['id']}")).json()
    assert paid["payment_status"] == "captured"
    types = [e["type"] for e in await events_about(admin, order["id"])]
    assert types.count("order.placed") == 1 and types.count("payment.captured") == 1
    with psycopg.connect(world.database_url) as conn:
        recorded = conn.execute(
            "SELECT count(*) FROM psp_webhook_events WHERE provider = %s AND event_id = %s",
            (ours["provider"], event_id),
        ).fetchone()
    assert recorded == (1,)
    body = delivered.encode()
    before = _state(world, order["id"])
    url = f"/v1/webhooks/psp/{ours['provider']}"
    async with httpx.AsyncClient(base_url=world.server.base_url) as provider:
        # The same delivery again, genuinely signed: deduplicated by its event id.
        again = await provider.post(url, content=body, headers=_signed(sandbox.secret, body))
        assert again.status_code == 200, again.text
        refused = {
            "forged": _signed("whsec_not_the_one", body),
            "stale": _signed(sandbox.secret, body, at=int(time.time()) - 600),
        }
        for why, headers in refused.items():
            answer = await provider.post(url, content=body, headers=headers)
            assert answer.status_code == 400, why
            assert answer.json()["code"] == "webhook_rejected", why
        altered = body.replace(b'"amount_refunded":0', b'"amount_refunded":1')
        assert altered != body
        answer = await provider.post(url, content=altered, headers=_signed(sandbox.secret, body))
        assert (answer.status_code, answer.json()["code"]) == (400, "webhook_rejected")
        # A new, genuine event about a state we are past: the payment asking for action.
        event = orjson.loads(body)
        event["id"] = "evt_" + uuid.uuid4().hex
        event["type"] = "payment.requires_action"
        event["data"]["object"].update(status="requires_action", amount_captured=0)
        outdated = orjson.dumps(event)
        answer = await provider.post(
            url, content=outdated, headers=_signed(sandbox.secret, outdated)
        )
        assert answer.status_code == 200, answer.text
    assert _state(world, order["id"]) == before
    with psycopg.connect(world.database_url) as conn:
        outcome = conn.execute(
            "SELECT outcome FROM psp_webhook_events WHERE event_id = %s", (event["id"],)
        ).fetchone()
    assert outcome == ("not_awaited",)


@contextlib.asynccontextmanager
async def faults(world: World, **settings: float) -> AsyncIterator[None]:
    """Both providers' faults set for a while (`PUT /_sandbox/settings`), then put back."""
    async with contextlib.AsyncExitStack() as stack:
        for sandbox in world.sandboxes.values():
            control = await stack.enter_async_context(sandbox.client())
            before = (await control.get("/_sandbox/settings")).json()
            assert (await control.put("/_sandbox/settings", json=settings)).status_code == 200
            stack.push_async_callback(_put_back, control, before)
        yield


async def _put_back(control: httpx.AsyncClient, settings: dict[str, Any]) -> None:
    assert (await control.put("/_sandbox/settings", json=settings)).status_code == 200


# -- manual capture ---------------------------------------------------------------------


async def test_manual_capture_partial_then_rest_then_refunds_agree_with_the_provider(
    world: World,
) -> None:
    manual = start_server(
        world.database_url,
        world.logs / "manual.log",
        no_worker=True,
        extra_env={**world.env, "CARTWRIGHT_CAPTURE_METHOD": "manual"},
    )
    try:
        async with admin_of(manual) as admin:
            _, cart_id = await new_cart(admin)
            answer = await checkout(admin, cart_id)
            assert answer.status_code == 201, answer.text
            order = answer.json()
            assert order["payment_status"] == "authorized"
            amount, oid = total(order), order["id"]
            steps: list[tuple[str, dict[str, Any], str]] = [
                ("capture", {"amount": amount // 3}, "partially_captured"),
                ("capture", {"final": True}, "captured"),
                ("refunds", {"amount": amount // 4}, "partially_refunded"),
                ("refunds", {}, "refunded"),
            ]
            for route, body, status in steps:
                done = await admin.post(
                    f"/v1/orders/{oid}/{route}",
                    json=body,
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                assert done.status_code in (200, 201), done.text
                now = (await admin.get(f"/v1/orders/{oid}")).json()
                assert now["payment_status"] == status
            await _raced_captures_and_refunds(admin)
    finally:
        manual.stop()
    [ours] = our_payments(world, oid)
    theirs = their_payment(world, ours)
    assert theirs is not None
    assert (ours["amount_captured"], ours["amount_refunded"]) == (amount, amount)
    assert (theirs["amount_captured"], theirs["amount_refunded"]) == (amount, amount)
    operations = world.sandboxes[ours["provider"]].rows(
        "SELECT kind, amount FROM sandbox_operations WHERE payment_id = ? ORDER BY created_at",
        theirs["id"],
    )
    assert [(o["kind"], o["amount"]) for o in operations] == [
        ("capture", amount // 3),
        ("capture", amount - amount // 3),
        ("refund", amount // 4),
        ("refund", amount - amount // 4),
    ]


async def _raced_captures_and_refunds(admin: httpx.AsyncClient) -> None:
    """Three captures of half, then three refunds of half, each three at once: two of each
    succeed, the third is refused, on our side and at the provider (the last test)."""
    _, cart_id = await new_cart(admin)
    order = (await checkout(admin, cart_id)).json()
    half = total(order) // 2

    async def each(route: str, body: dict[str, Any]) -> list[int]:
        answers = await asyncio.gather(
            *(
                admin.post(
                    f"/v1/orders/{order['id']}/{route}",
                    json=body,
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                for _ in range(3)
            )
        )
        return sorted(a.status_code for a in answers)

    assert await each("capture", {"amount": half}) == [200, 200, 409]
    now = (await admin.get(f"/v1/orders/{order['id']}")).json()
    assert now["amount_captured"]["amount"] == 2 * half
    if now["payment_status"] == "partially_captured":  # an odd total: release the unit left
        closed = await admin.post(
            f"/v1/orders/{order['id']}/payment/void",
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert closed.status_code == 200, closed.text
    refunds = await each("refunds", {"amount": half})
    assert refunds[:2] == [201, 201] and refunds[2] == 409, refunds
    now = (await admin.get(f"/v1/orders/{order['id']}")).json()
    assert (now["payment_status"], now["amount_refunded"]["amount"]) == ("refunded", 2 * half)


# -- a crash between the provider call and the commit ---------------------------------


@pytest.mark.parametrize(
    ("failpoint", "token"),
    [
        ("checkout.after_authorize", "tok_visa"),
        # The shopper completes the redirect while the checkout is orphaned.
        ("checkout.after_authorize", "tok_redirect"),
        ("checkout.before_authorize", "tok_visa"),
    ],
)
async def test_a_server_killed_around_the_provider_call_is_finished_by_another_servers_worker(
    world: World, admin: httpx.AsyncClient, failpoint: str, token: str
) -> None:
    doomed = start_server(
        world.database_url,
        world.logs / "doomed.log",
        no_worker=True,
        extra_env={**world.env, "CARTWRIGHT_FAILPOINTS": f"{failpoint}=crash"},
    )
    try:
        async with admin_of(doomed) as client:
            _, cart_id = await new_cart(client)
            key = uuid.uuid4().hex
            with pytest.raises(httpx.TransportError):  # it died mid-request
                await checkout(client, cart_id, key=key, token=token)
        assert doomed.process.wait(timeout=10) == 137
    finally:
        doomed.kill()
    with psycopg.connect(world.database_url, row_factory=dict_row) as conn:
        [ours] = conn.execute(
            "SELECT p.* FROM payments p JOIN checkouts c ON c.payment_id = p.id"
            " WHERE c.cart_id = %s",
            (cart_id,),
        ).fetchall()
    if token == "tok_redirect":
        sandbox = world.sandboxes[ours["provider"]]
        pending = sandbox.payment(ours["id"])
        assert pending is not None and pending["status"] == "requires_action"
        async with httpx.AsyncClient() as shopper:
            page = f"{sandbox.base_url}/redirect/{pending['id']}"
            assert (await shopper.post(page, data={"outcome": "succeed"})).status_code < 400

    async def resolved() -> dict[str, Any] | None:
        cart: dict[str, Any] = (await admin.get(f"/v1/carts/{cart_id}")).json()
        return cart if cart["status"] in ("completed", "open") else None

    cart = await eventually(resolved, "recovery finished the checkout")
    replay = await checkout(admin, cart_id, key=key, token=token)
    theirs = their_payment(world, ours)
    assert theirs is not None
    if failpoint == "checkout.after_authorize":  # charged: the order is placed, once
        assert cart["status"] == "completed"
        order = await order_when(
            admin, cart["order_id"], lambda o: o["payment_status"] == "captured", "paid"
        )
        assert theirs["amount_captured"] == total(order)
        assert replay.json()["id"] == order["id"], replay.text
        types = [e["type"] for e in await events_about(admin, order["id"])]
        assert types.count("order.placed") == 1
    else:  # never asked: canceled at the provider first (a tombstone), the cart reopened
        assert cart["status"] == "open"
        assert (theirs["status"], theirs["amount_captured"]) == ("voided", 0)
        assert (replay.status_code, replay.json()["code"]) == (503, "provider_unavailable")


# -- an outage mid-load -----------------------------------------------------------------


async def test_an_outage_mid_load_fails_over_and_charges_nothing_it_refuses(
    world: World, admin: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=100))["variants"][0]["sku"]
    carts = [(await ready_cart(admin, [(sku, 1)]))["id"] for _ in range(24)]
    first = world.sandboxes["sandbox"]
    async with first.client() as control:
        before = (await control.get("/_sandbox/settings")).json()
        answers = [await checkout(admin, c) for c in carts[:4]]
        outage = await control.put("/_sandbox/settings", json={"error_rate": 1.0})
        assert outage.status_code == 200, outage.text
        try:
            for wave in range(4):
                batch = carts[4 + wave * 5 : 9 + wave * 5]
                answers += await asyncio.gather(*(checkout(admin, c) for c in batch))
            # A redirect goes to the failover too, and is paid by its webhook, checked with
            # the failover's own secret.
            redirected = await _redirect_checkout(admin, "tok_redirect", "succeed")
        finally:
            ended = await control.put("/_sandbox/settings", json=before)
            assert ended.status_code == 200, ended.text
    codes = [a.status_code for a in answers]
    assert set(codes) <= {201, 202, 503}, codes
    assert codes[:4] == [201] * 4
    # The first wave met the outage; once the breaker opened, the failover took every one.
    assert codes[9:] == [201] * 15, codes
    placed = [a.json() for a in answers if a.status_code == 201]
    assert [our_payments(world, o["id"])[0]["provider"] for o in placed] == (
        ["sandbox"] * 4 + ["sandbox_failover"] * (len(placed) - 4)
    )
    assert our_payments(world, redirected["id"])[0]["provider"] == "sandbox_failover"
    await order_when(
        admin, redirected["id"], lambda o: o["payment_status"] == "captured", "its webhook"
    )
    for refused in (a for a in answers if a.status_code == 503):
        assert refused.json()["code"] == "provider_unavailable"
    # Those whose cancel the provider could not confirm either answered pending: once the
    # outage is over the worker finds nothing there and cancels them.
    for pending in (a.json() for a in answers if a.status_code == 202):
        done = await order_when(
            admin, pending["id"], lambda o: o["payment_status"] != "pending", "resolved"
        )
        assert (done["status"], done["payment_status"]) == ("canceled", "failed")
        theirs = their_payment(world, our_payments(world, pending["id"])[0])
        assert theirs is None or theirs["amount_captured"] == 0
    # After the cool-down a probe finds the first provider well again: it takes payments.

    async def paid_through_the_first() -> bool | None:
        _, cart_id = await new_cart(admin)
        answer = await checkout(admin, cart_id)
        assert answer.status_code == 201, answer.text
        provider = our_payments(world, answer.json()["id"])[0]["provider"]
        return True if provider == "sandbox" else None

    await eventually(paid_through_the_first, "the breaker closed", timeout_s=COOLDOWN_S + 10)


async def test_late_answers_mid_load_are_found_by_the_worker_and_charged_once(
    world: World, admin: httpx.AsyncClient
) -> None:
    """The first provider acts on every payment but answers after the platform gave up."""
    sku = (await create_product(admin, stock=100))["variants"][0]["sku"]
    carts = [(await ready_cart(admin, [(sku, 1)]))["id"] for _ in range(8)]
    async with world.sandboxes["sandbox"].client() as control:
        before = (await control.get("/_sandbox/settings")).json()
        assert (await control.put("/_sandbox/settings", json={"timeout_rate": 1.0})).is_success
        try:
            answers = await asyncio.gather(*(checkout(admin, c) for c in carts))
        finally:
            assert (await control.put("/_sandbox/settings", json=before)).is_success
    orders = [a.json() for a in answers]
    assert {a.status_code for a in answers} <= {201, 202}, [a.text for a in answers]
    for order in orders:
        done = await order_when(
            admin, order["id"], lambda o: o["payment_status"] != "pending", "recovered"
        )
        assert (done["status"], done["payment_status"]) == ("open", "captured")
        [ours] = our_payments(world, order["id"])
        theirs = their_payment(world, ours)
        assert theirs is not None and theirs["amount_captured"] == total(order)
        types = [e["type"] for e in await events_about(admin, order["id"])]
        assert types.count("order.placed") == 1


# -- the providers' books ---------------------------------------------------------------


async def test_the_providers_books_agree_with_ours(world: World) -> None:
    """Runs last (file order): the money of every test before it, held to both providers'
    own books once everything has settled."""

    def unsettled() -> int:
        with psycopg.connect(world.database_url) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM payments WHERE status IN ('pending', 'unknown'))"
                " + (SELECT count(*) FROM payment_operations WHERE status = 'pending')"
            ).fetchone()
        assert row is not None
        return int(row[0])

    def undelivered() -> int:
        query = "SELECT count(*) AS n FROM sandbox_webhook_deliveries WHERE delivered_at IS NULL"
        return sum(s.rows(query)[0]["n"] for s in world.sandboxes.values())

    async def settled() -> bool | None:
        return True if unsettled() == 0 and undelivered() == 0 else None

    await eventually(settled, "every payment, operation and webhook settled")
    with psycopg.connect(world.database_url, row_factory=dict_row) as conn:
        ours = {p["id"]: p for p in conn.execute("SELECT * FROM payments").fetchall()}
        orders = {o["id"]: o for o in conn.execute("SELECT id, status, total FROM orders")}
    charged_per_order: dict[str, list[int]] = {}
    seen: set[str] = set()
    problems: list[str] = []
    for name, sandbox in world.sandboxes.items():
        for theirs in sandbox.rows("SELECT * FROM sandbox_payments"):
            ref, captured = theirs["merchant_reference"], theirs["amount_captured"]
            if not theirs["amount_refunded"] <= captured <= theirs["amount"]:
                problems.append(f"{name} {ref}: refunded <= captured <= amount broken")
            if theirs["currency"] is None:  # a tombstone: a void by reference, nothing held
                continue
            mine = ours.get(ref)
            if mine is None or mine["provider"] != name:
                problems.append(f"{name} {ref}: a payment at the provider we do not know")
                continue
            seen.add(ref)
            order = orders.get(mine["order_id"])
            if captured:
                charged_per_order.setdefault(mine["order_id"], []).append(captured)
            if (theirs["amount"], theirs["currency"]) != (mine["amount"], mine["currency"]):
                problems.append(f"{name} {ref}: another amount than ours")
            held = theirs["status"] == "authorized" or (
                theirs["status"] == "captured" and captured > theirs["amount_refunded"]
            )
            if held and (order is None or order["status"] == "canceled"):
                problems.append(f"{name} {ref}: {theirs['status']} without a live order")
            if (mine["amount_captured"], mine["amount_refunded"]) != (
                captured,
                theirs["amount_refunded"],
            ):
                problems.append(
                    f"{name} {ref}: ours {mine['status']} {mine['amount_captured']}/"
                    f"{mine['amount_refunded']}, theirs {theirs['status']} {captured}/"
                    f"{theirs['amount_refunded']}"
                )
    for order_id, charges in charged_per_order.items():
        order = orders.get(order_id)
        if len(charges) > 1 or order is None or sum(charges) > order["total"]:
            problems.append(f"order {order_id}: charged {charges}, total {order}")
    for mine in ours.values():
        if mine["amount_authorized"] and mine["id"] not in seen:
            problems.append(f"ours {mine['id']}: authorized, unknown to {mine['provider']}")
        if not (
            mine["amount_refunded"]
            <= mine["amount_captured"]
            <= mine["amount_authorized"]
            <= mine["amount"]
        ):
            problems.append(f"ours {mine['id']}: refunded <= captured <= authorized broken")
    with psycopg.connect(world.database_url) as conn:
        placed_twice = conn.execute(
            "SELECT aggregate_id FROM events WHERE type = 'order.placed'"
            " GROUP BY aggregate_id HAVING count(*) > 1"
        ).fetchall()
        recorded = set(conn.execute("SELECT provider, event_id FROM psp_webhook_events"))
    problems += [f"order {o}: placed twice" for (o,) in placed_twice]
    # Every event a provider delivered (a 2xx) was recorded: none accepted and dropped.
    for name, sandbox in world.sandboxes.items():
        for row in sandbox.rows("SELECT event_id FROM sandbox_webhook_deliveries"):
            if (name, row["event_id"]) not in recorded:
                problems.append(f"{name} event {row['event_id']}: accepted, not recorded")
    assert problems == []
