"""End to end: a day of orders paid through the embedded sandbox provider, then its
settlement report reconciled over the API and with `cartwright reconcile`.

Two servers share one PostgreSQL database of this module's own (nothing of other tests in
the day): one captures at checkout, one leaves payments authorized for later captures and
voids. The day's report reconciles with no discrepancy; a copy doctored by one amount, one
line dropped and one line added yields exactly those three, however often it is run.

The day's trade is `TRADE`, a list of scenarios: each places its orders through one of the
two servers and adds the settlement lines it must produce to `Day.expected_lines`: captures
at checkout and later, partial refunds, voids, cancellations, fulfilments that capture what
they ship, and disputes (one lost, one won) opened by the shopper's bank.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from cartwright.kit import clock
from cartwright.kit.db import Database
from cartwright.sandbox_psp import settlement
from cartwright.sandbox_psp.books import Books, capture_fee
from cartwright.sandbox_psp.settings import SandboxConfig
from tests.conftest import ADMIN_KEY, ROOT, SERVER_ENV, Server, _migrated_database, start_server
from tests.factories import checkout, create_product, ready_cart

ENV = {"CARTWRIGHT_RECONCILIATION_GRACE_S": "0"}


@dataclass
class Day:
    database_url: str
    automatic: Server
    manual: Server
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The settlement lines the day's trade must produce, by type: each scenario adds its own.
    expected_lines: Counter[str] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    logs = tmp_path_factory.mktemp("reconciliation")
    with _migrated_database() as url:
        automatic = start_server(url, logs / "automatic.log", extra_env=ENV)
        try:
            manual = start_server(
                url, logs / "manual.log", extra_env={**ENV, "CARTWRIGHT_CAPTURE_METHOD": "manual"}
            )
            try:
                yield Day(url, automatic, manual)
            finally:
                manual.stop()
        finally:
            automatic.stop()


def client(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    )


async def post(admin: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = await admin.post(path, json=body or {}, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


async def order(admin: httpx.AsyncClient, sku: str, quantity: int) -> dict[str, Any]:
    cart = await ready_cart(admin, [(sku, quantity)])
    placed = await checkout(admin, cart["id"])
    assert placed.status_code == 201, placed.text
    return placed.json()  # type: ignore[no-any-return]


async def captured_at_checkout(day: Day, auto: httpx.AsyncClient, sku: str) -> None:
    """Paid and captured at checkout; every other one then partially refunded."""
    for n in range(4):
        placed = await order(auto, sku, n + 1)
        day.orders[placed["id"]] = placed
        day.expected_lines["capture"] += 1
        if n % 2:
            await post(auto, f"/v1/orders/{placed['id']}/refunds", {"amount": 300 * n})
            day.expected_lines["refund"] += 1


async def captured_later(day: Day, manual: httpx.AsyncClient, sku: str) -> None:
    """Authorized at checkout, then captured in full, or in two parts and refunded in part,
    or in part with the rest voided, or voided whole (which the report never shows)."""
    for n in range(4):
        placed = await order(manual, sku, 2)
        day.orders[placed["id"]] = placed
        assert placed["payment_status"] == "authorized"
        path = f"/v1/orders/{placed['id']}"
        if n == 0:
            await post(manual, path + "/capture")
            day.expected_lines["capture"] += 1
        elif n == 1:
            await post(manual, path + "/capture", {"amount": 1000})
            await post(manual, path + "/capture", {"amount": 500, "final": True})
            await post(manual, path + "/refunds", {"amount": 700})
            day.expected_lines.update(capture=2, refund=1)
        elif n == 2:
            await post(manual, path + "/capture", {"amount": 900})
            await post(manual, path + "/payment/void")
            day.expected_lines["capture"] += 1
        else:
            await post(manual, path + "/payment/void")


async def canceled(day: Day, admin: httpx.AsyncClient, sku: str) -> None:
    """Canceled before anything shipped: captured at checkout (refunded whole) on the
    automatic server; authorized only (voided, never in the report) on the manual one."""
    placed = await order(admin, sku, 1)
    day.orders[placed["id"]] = placed
    body = await post(admin, f"/v1/orders/{placed['id']}/cancel")
    assert body["status"] == "canceled", body
    if placed["payment_status"] == "captured":
        day.expected_lines.update(capture=1, refund=1)


async def fulfilled_in_two_parcels(day: Day, manual: httpx.AsyncClient, sku: str) -> None:
    """Capture on fulfilment: each parcel captures what it carries (two captures), then one
    unit comes back and is refunded by its line."""
    placed = await order(manual, sku, 3)
    day.orders[placed["id"]] = placed
    line = placed["lines"][0]["id"]
    path = f"/v1/orders/{placed['id']}"
    for quantity in (1, 2):
        await post(
            manual, path + "/fulfillments", {"lines": [{"line_id": line, "quantity": quantity}]}
        )
    day.expected_lines["capture"] += 2
    await post(manual, path + "/refunds", {"lines": [{"line_id": line, "quantity": 1}]})
    day.expected_lines["refund"] += 1


async def disputed(day: Day, auto: httpx.AsyncClient, sku: str) -> None:
    """Two orders disputed by the shopper's bank: one lost (a chargeback), one won the same
    day (a chargeback and its reversal); each applied by the sandbox's webhook first."""
    db = Database(day.database_url, pool_size=2, name="sandbox-staff")
    await db.connect()
    try:
        books = Books(db, SandboxConfig())
        for outcome in ("lost", "won"):
            placed = await order(auto, sku, 1)
            day.orders[placed["id"]] = placed
            day.expected_lines["capture"] += 1
            entries = await auto.get("/v1/ledger/entries", params={"order_id": placed["id"]})
            at_provider = await books.find(entries.json()["data"][0]["payment_id"])
            assert at_provider is not None
            dispute = await books.open_dispute(at_provider["id"], 700, "fraudulent")
            await shown(auto, placed["id"], "opened")
            await books.decide_dispute(dispute["id"], outcome)
            await shown(auto, placed["id"], outcome)
            day.expected_lines["chargeback"] += 1
            if outcome == "won":
                day.expected_lines["chargeback_reversal"] += 1
    finally:
        await db.close()


async def shown(admin: httpx.AsyncClient, order_id: str, status: str) -> None:
    """Wait until the order shows its dispute in `status` (the webhook was applied)."""
    for _ in range(100):
        dispute = (await admin.get(f"/v1/orders/{order_id}")).json()["dispute"]
        if dispute is not None and dispute["status"] == status:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the dispute of {order_id} never became {status}")


# The day's trade, scenario by scenario (each given the day, a client of the server that
# captures at checkout or of the one that does not, and a SKU in stock).
TRADE = (
    (captured_at_checkout, "automatic"),
    (captured_later, "manual"),
    (canceled, "automatic"),
    (canceled, "manual"),
    (fulfilled_in_two_parcels, "manual"),
    (disputed, "automatic"),
)


@pytest.fixture(scope="module")
async def day(servers: Day) -> AsyncIterator[Day]:
    async with client(servers.automatic) as auto, client(servers.manual) as manual:
        product = await create_product(auto, price=1250, stock=1000)
        sku = product["variants"][0]["sku"]
        clients = {"automatic": auto, "manual": manual}
        for scenario, server in TRADE:
            await scenario(servers, clients[server], sku)
    yield servers


async def settlement_report(database_url: str, day: date) -> str:
    """The sandbox's report of the day, read from its books as its own server would."""
    db = Database(database_url, pool_size=2, name="sandbox-report")
    await db.connect()
    try:
        return await settlement.report(db, day)
    finally:
        await db.close()


def rows(report: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(report)))


def render(lines: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(settlement.COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(lines)
    return out.getvalue()


async def run(server: Server, report: str, day: date) -> httpx.Response:
    async with client(server) as admin:
        return await admin.post(
            "/v1/reconciliation/runs",
            params={"provider": "sandbox", "day": day.isoformat()},
            content=report.encode(),
            headers={"Content-Type": "text/csv"},
        )


async def discrepancies_of(server: Server, run_id: str) -> list[dict[str, Any]]:
    async with client(server) as admin:
        answer = await admin.get(
            f"/v1/reconciliation/runs/{run_id}/discrepancies", params={"limit": 100}
        )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]  # type: ignore[no-any-return]


def doctored(report: str) -> tuple[str, dict[str, str], dict[str, str], dict[str, str]]:
    """The report with one capture's amount changed (its fee and net as the provider would
    then book them), one line dropped and a line of a stranger added."""
    lines = rows(report)
    changed = next(x for x in lines if x["type"] == "capture")
    dropped = next(x for x in lines if x["type"] == "refund")
    gross = int(changed["gross"]) + 100
    changed_copy = {**changed, "gross": str(gross), "fee": str(capture_fee(gross))}
    changed_copy["net"] = str(gross - capture_fee(gross))
    stranger = {
        **changed,
        "id": "pay_stranger" + uuid.uuid4().hex[:8],
        "payment": "pay_stranger",
        "merchant_reference": "pay_nobody",
        "idempotency_key": "pay_nobody",
    }
    kept = [changed_copy if x is changed else x for x in lines if x is not dropped]
    return render([*kept, stranger]), changed, dropped, stranger


async def test_the_days_settlement_reconciles_and_a_doctored_copy_shows_each_change(
    day: Day, tmp_path: Path
) -> None:
    today = clock.utcnow().date()
    report = await settlement_report(day.database_url, today)
    lines = rows(report)
    assert Counter(x["type"] for x in lines) == day.expected_lines

    # The doctored copy first (run twice: the same three discrepancies, nothing added).
    text, changed, dropped, stranger = doctored(report)
    first = await run(day.automatic, text, today)
    assert first.status_code == 201, first.text
    assert first.json()["discrepancies"] == {
        "amount_mismatch": 1,
        "missing_at_provider": 1,
        "missing_on_our_side": 1,
    }
    found = await discrepancies_of(day.automatic, first.json()["id"])
    assert {(d["kind"], d["line_id"] or d["our_reference"]) for d in found} == {
        ("amount_mismatch", changed["id"]),
        ("missing_at_provider", dropped["idempotency_key"]),
        ("missing_on_our_side", stranger["id"]),
    }
    again = await run(day.manual, text, today)
    assert again.status_code == 201, again.text
    assert again.json()["discrepancies"] == first.json()["discrepancies"]
    assert {d["id"] for d in await discrepancies_of(day.manual, again.json()["id"])} == {
        d["id"] for d in found
    }

    # A person resolves one: who and why are kept, and audited; a second time is refused.
    dismissed = next(d for d in found if d["kind"] == "missing_on_our_side")
    async with client(day.automatic) as admin:
        path_ = f"/v1/reconciliation/discrepancies/{dismissed['id']}/resolve"
        resolved = await admin.post(path_, json={"resolution": "dismissed", "note": "test line"})
        assert resolved.status_code == 200, resolved.text
        closed = resolved.json()
        assert (closed["status"], closed["resolution"]) == ("resolved", "dismissed")
        assert (closed["note"], closed["resolved_by"] is not None) == ("test line", True)
        twice = await admin.post(path_, json={"resolution": "accepted"})
        assert twice.status_code == 409
        assert twice.json()["code"] == "invalid_state"
        bad = await admin.post(path_, json={"resolution": "shrug"})
        assert bad.status_code == 422
        audited = await admin.get("/v1/audit-events", params={"target_id": dismissed["id"]})
        assert [e["action"] for e in audited.json()["data"]] == ["reconciliation.resolve"]

    # The report as the provider wrote it: everything matches.
    real = await run(day.automatic, report, today)
    assert real.status_code == 201, real.text
    body = real.json()
    assert (body["status"], body["discrepancies"]) == ("matched", {}), body
    assert body["lines"] == body["matched"] == day.expected_lines.total()
    async with client(day.automatic) as admin:
        read = await admin.get(f"/v1/reconciliation/runs/{body['id']}")
        assert read.json() == body
        # Every line posted once, its fee and its share of the day's payout: what the
        # provider held for us is all accounted for, and the books balance.
        accounts = (await admin.get("/v1/ledger/accounts")).json()["data"]
        trial = (await admin.get("/v1/ledger/trial-balance")).json()["data"]
    clearing = [a for a in accounts if a["account"] == "provider_clearing"]
    assert [(a["party"], a["currency"], a["balance"]) for a in clearing] == [("sandbox", "EUR", 0)]
    fees = sum(int(x["fee"]) for x in lines)
    assert [a["balance"] for a in accounts if a["account"] == "provider_fees"] == [fees]
    bank = [a["balance"] for a in accounts if a["account"] == "bank"]
    assert bank == [sum(int(x["net"]) for x in lines)]
    assert all(t["debits"] == t["credits"] for t in trial)

    # The CLI says the same, by its exit code.
    path = tmp_path / "settlement.csv"
    path.write_text(report)
    assert cli(day.database_url, path).returncode == 0
    path.write_text(text)
    doctored_run = cli(day.database_url, path)
    assert doctored_run.returncode == 1, doctored_run.stdout
    assert "amount_mismatch" in doctored_run.stdout


def cli(database_url: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SERVER_ENV, **ENV, "CARTWRIGHT_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "cartwright.cli", "reconcile", "--provider", "sandbox",
         "--file", str(path)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


async def runs_stored(database_url: str) -> int:
    db = Database(database_url, pool_size=2)
    await db.connect()
    try:
        async with db.connection() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM reconciliation_runs"))
    finally:
        await db.close()


async def test_a_bad_report_is_refused_by_line_and_stores_nothing(day: Day) -> None:
    report = await settlement_report(day.database_url, clock.utcnow().date())
    before = await runs_stored(day.database_url)
    lines = rows(report)
    lines[1] = {**lines[1], "gross": "12,5"}
    async with client(day.automatic) as admin:
        refused = await admin.post(
            "/v1/reconciliation/runs?provider=sandbox",
            content=render(lines).encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "validation_error"
        assert refused.json()["line"] == 3
        wrong_type = await admin.post(
            "/v1/reconciliation/runs?provider=sandbox", json={"report": report}
        )
        assert wrong_type.status_code == 415
        no_provider = await admin.post(
            "/v1/reconciliation/runs", content=report, headers={"Content-Type": "text/csv"}
        )
        assert no_provider.status_code == 422
        assert no_provider.json()["errors"][0]["field"] == "provider"
    assert await runs_stored(day.database_url) == before
