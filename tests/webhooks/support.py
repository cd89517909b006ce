"""A real receiver of webhooks on 127.0.0.1, and a rig: a database, a sender and a clock
that moves only when the test says so."""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from cartwright.events import service as events
from cartwright.kit.crypto import SecretKeys
from cartwright.kit.db import Database
from cartwright.kit.settings import Settings
from cartwright.webhooks import dispatcher, service
from cartwright.webhooks.delivery import Sender
from cartwright.webhooks.signing import verify
from tests.fakes.clock import FakeClock

# What the receiver does with one request: "ok", "500", "slow" (answers after the sender's
# timeout), "drop" (closes the connection without an answer), "redirect".
Behaviour = str


@dataclass
class Received:
    event_id: str
    event_type: str
    signature: str
    body: bytes
    at: float


@dataclass
class Receiver:
    """Answers by `plan(event_id, nth request for it)`; records every request."""

    plan: Callable[[str, int], Behaviour] = lambda _event, _n: "ok"
    received: list[Received] = field(default_factory=list)
    # The Host and traceparent headers of every request.
    hosts: list[str] = field(default_factory=list)
    traceparents: list[str | None] = field(default_factory=list)
    clock: FakeClock | None = None
    slow_s: float = 2.0
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def count(self, event_id: str) -> int:
        return sum(1 for r in self.received if r.event_id == event_id)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        event_id = request.headers.get("Cartwright-Event-Id", "")
        nth = self.count(event_id)
        self.hosts.append(request.headers.get("Host", ""))
        self.traceparents.append(request.headers.get("traceparent"))
        self.received.append(
            Received(
                event_id,
                request.headers.get("Cartwright-Event-Type", ""),
                request.headers.get("Cartwright-Signature", ""),
                body,
                self.clock.now if self.clock else time.time(),
            )
        )
        behaviour = self.plan(event_id, nth)
        if behaviour == "500":
            return web.Response(status=500, text="receiver broke " + "x" * 3000)
        if behaviour == "slow":
            await asyncio.sleep(self.slow_s)
            return web.Response(status=200, text="too late")
        if behaviour == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=200)
        if behaviour == "redirect":
            raise web.HTTPFound("http://127.0.0.1:1/elsewhere")
        return web.Response(status=200, text="thanks")

    async def start(self, tls: ssl.SSLContext | None = None) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "webhooks_allow_private": True,
        "webhook_timeout_s": 0.5,
        "webhook_retry_schedule_s": "10,60,300,1800",
        **overrides,
    }
    return Settings(**values)


@dataclass
class Rig:
    db: Database
    clock: FakeClock
    keys: SecretKeys = field(default_factory=lambda: SecretKeys(secrets.token_urlsafe(40)))
    config: Settings = field(default_factory=settings)
    senders: list[Sender] = field(default_factory=list)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now, UTC)

    def sender(self, **kwargs: Any) -> Sender:
        made = Sender(self.db, self.keys, self.config, rand=lambda: 0.5, **kwargs)
        self.senders.append(made)
        return made

    async def flush(self) -> int:
        """Every sender sends until nothing due is left (passes waited for)."""
        total = 0
        while True:
            started = 0
            for sender in self.senders:
                started += await sender.run_once()
            if not started:
                return total
            total += started

    async def endpoint(self, url: str, types: list[str] | None = None) -> dict[str, Any]:
        async with self.db.transaction() as conn:
            return await service.create_endpoint(
                conn, self.keys, url=url, event_types=types or ["*"], description=None
            )

    async def emit(self, count: int = 1, event_type: str = "order.placed") -> list[str]:
        """`count` events in the outbox; their ids."""
        async with self.db.transaction() as conn:
            await events.record(
                conn,
                [
                    events.Event(event_type, f"ord_{secrets.token_hex(6)}", {"n": i})
                    for i in range(count)
                ],
            )
            # Our own transaction's events, newest last (the feed shows them once committed).
            rows = await conn.fetch("SELECT id FROM events ORDER BY seq DESC LIMIT $1", count)
        return [r["id"] for r in reversed(rows)]

    async def dispatch(self) -> int:
        total = 0
        while (written := await dispatcher.dispatch(self.db)) or total == 0:
            total += written
            if not written:
                break
        return total

    async def delivery(self, delivery_id: str) -> dict[str, Any]:
        async with self.db.connection() as conn:
            return await service.get_delivery(conn, delivery_id)

    async def deliveries(self, endpoint_id: str) -> list[dict[str, Any]]:
        async with self.db.connection() as conn:
            page = await service.list_deliveries(conn, endpoint_id, limit=100, starting_after=None)
        return list(page["data"])


def verified(received: Received, secret: str) -> bool:
    """As the receiver would have checked it when it arrived."""
    return verify(secret, received.signature, received.body, now=int(received.at))


def body_of(received: Received) -> Any:
    return orjson.loads(received.body)
