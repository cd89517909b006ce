"""A real `cartwright sandbox-psp` process, and a webhook receiver of the test's own.

`sandbox` (module-scoped) starts the server on a free port with its own SQLite database,
posting its webhooks to `Receiver`, which runs in the tests' event loop and can be told to
fail deliveries. Tests that change the faults at runtime put them back (`faults`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web

from tests.conftest import ROOT, free_port

API_KEY = "sk_sandbox_" + uuid.uuid4().hex[:12]
WEBHOOK_SECRET = "whsec_" + uuid.uuid4().hex
SLOW_RESPONSE_S = 1.0


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = orjson.loads(self.body)
        return event


@dataclass
class Receiver:
    """Records every delivery; answers 500 to the next `fail_next` of them."""

    deliveries: list[Delivery] = field(default_factory=list)
    fail_next: int = 0
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            return web.Response(status=500)
        self.deliveries.append(Delivery(dict(request.headers), body))
        return web.json_response({"received": True})

    def about(self, payment_id: str) -> list[Delivery]:
        """Deliveries whose object is, or belongs to, the sandbox payment `payment_id`."""
        found = []
        for d in self.deliveries:
            obj = d.event["data"]["object"]
            if payment_id in (obj.get("id"), obj.get("payment")):
                found.append(d)
        return found

    async def wait_for(self, payment_id: str, count: int, timeout_s: float = 10) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        while len(self.about(payment_id)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.about(payment_id))} of {count} deliveries for {payment_id}"
                )
            await asyncio.sleep(0.05)
        return self.about(payment_id)


@dataclass
class SandboxServer:
    base_url: str
    receiver: Receiver
    process: subprocess.Popen[bytes]

    def client(self, **options: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=options.pop("timeout", 10),
            **options,
        )


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield receiver, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


def _start(
    database_url: str, webhook_url: str, log_path: Path
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    args = [
        sys.executable, "-m", "cartwright.cli", "sandbox-psp",
        "--port", str(port),
        "--database-url", database_url,
        "--api-key", API_KEY,
        "--webhook-url", webhook_url,
        "--webhook-secret", WEBHOOK_SECRET,
        "--slow-response-s", str(SLOW_RESPONSE_S),
        "--webhook-retry-s", "0.1",
    ]  # fmt: skip
    env = {**os.environ, "CARTWRIGHT_LOG_LEVEL": "warning"}
    log = log_path.open("wb")
    process = subprocess.Popen(
        args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited early:\n{log_path.read_text()}")
        try:
            httpx.get(base_url + "/v1/payments", timeout=1)
            return base_url, process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"sandbox did not start:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
async def sandbox(
    receiver: tuple[Receiver, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SandboxServer]:
    directory = tmp_path_factory.mktemp("sandbox-psp")
    base_url, process = _start(
        f"sqlite:///{directory / 'sandbox.db'}", receiver[1], directory / "sandbox.log"
    )
    yield SandboxServer(base_url, receiver[0], process)
    process.terminate()
    # Waited for in the event loop, so the receiver goes on answering the last deliveries.
    try:
        await asyncio.to_thread(process.wait, 10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
async def faults(sandbox: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client for `PUT /_sandbox/settings`; the faults are put back afterwards."""
    async with sandbox.client() as client:
        before = (await client.get("/_sandbox/settings")).json()
        yield client
        assert (await client.put("/_sandbox/settings", json=before)).status_code == 200


def reference() -> str:
    return "pay_" + uuid.uuid4().hex


def payment_body(token: str = "tok_visa", **fields: Any) -> dict[str, Any]:
    return {
        "amount": 1000,
        "currency": "EUR",
        "token": token,
        "capture": True,
        "merchant_reference": reference(),
        **fields,
    }


async def create(
    client: httpx.AsyncClient, token: str = "tok_visa", **fields: Any
) -> dict[str, Any]:
    answer = await client.post(
        "/v1/payments",
        json=payment_body(token, **fields),
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}
