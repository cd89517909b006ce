"""Webhooks out: an outbox in the sandbox's own database and a sender that delivers it.

An event is queued in the transaction of the change it tells, as one row per delivery (a
duplicated event has two, with one event id), and delivered at least once: a sender leases
due rows (`leased_until`), posts each signed, and marks it delivered on a 2xx or due again
after a doubling delay otherwise. The lease lets several servers on one database send
without sending a row twice; a sender that dies mid-delivery leaves its rows to be leased
again once the lease runs out (that, too, is at least once).

Signature: `Sandbox-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog

from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Database, Dialect, Row
from cartwright.sandbox_psp.settings import Faults, SandboxConfig

log = structlog.get_logger("cartwright.sandbox_psp.webhooks")

SIGNATURE_HEADER = "Sandbox-Signature"
LEASE_S = 30.0
DELIVERY_TIMEOUT_S = 10.0
BATCH = 20


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


async def enqueue(conn: Conn, type_: str, data: dict[str, Any], faults: Faults) -> str:
    """Queue event `type_` in the caller's transaction; its id."""
    now = clock.utcnow()
    event_id = ids.new_id("evt")
    body = orjson.dumps(
        {"id": event_id, "type": type_, "created": int(now.timestamp()), "data": data}
    ).decode()
    due = now
    if faults.happens(faults.webhook_reorder_rate):
        due = now + timedelta(seconds=faults.webhook_reorder_delay_s)
    copies = 2 if faults.happens(faults.webhook_duplicate_rate) else 1
    for _ in range(copies):
        await conn.execute(
            "INSERT INTO sandbox_webhook_deliveries (id, event_id, body, due_at, attempts,"
            " created_at) VALUES ($1, $2, $3, $4, 0, $5)",
            ids.new_id("whd"),
            event_id,
            body,
            due,
            now,
        )
    return event_id


class WebhookSender:
    """Delivers the outbox to `url` through `client` until stopped."""

    def __init__(
        self,
        db: Database,
        config: SandboxConfig,
        client: httpx.AsyncClient,
        url: str,
        *,
        poll_s: float = 0.2,
    ) -> None:
        self._db = db
        self._config = config
        self._client = client
        self._url = url
        self._poll_s = poll_s
        skip_locked = " FOR UPDATE SKIP LOCKED" if db.dialect is Dialect.POSTGRES else ""
        self._claim_sql = (
            "UPDATE sandbox_webhook_deliveries SET leased_until = $2, attempts = attempts + 1"
            " WHERE id IN (SELECT id FROM sandbox_webhook_deliveries WHERE delivered_at IS NULL"
            " AND due_at <= $1 AND (leased_until IS NULL OR leased_until < $1)"
            f" ORDER BY due_at LIMIT {BATCH}{skip_locked}) RETURNING id, body, attempts"
        )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.send_due()
            except Exception:  # the database is away: try again next round
                log.exception("sandbox webhook round failed")
                sent = 0
            if sent < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._poll_s)

    async def send_due(self) -> int:
        """Lease the due deliveries, post them, record each outcome; how many were tried."""
        rows = await self.lease(clock.utcnow())
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def lease(self, now: datetime) -> list[Row]:
        """Take the due deliveries no other sender holds, for `LEASE_S`."""
        async with self._db.connection() as conn:
            return await conn.fetch(self._claim_sql, now, now + timedelta(seconds=LEASE_S))

    async def _deliver(self, row: Row) -> None:
        body = row["body"].encode()
        signature = sign(self._config.webhook_secret, int(clock.utcnow().timestamp()), body)
        try:
            answer = await self._client.post(
                self._url,
                content=body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
                timeout=DELIVERY_TIMEOUT_S,
            )
            delivered = 200 <= answer.status_code < 300
        except httpx.HTTPError:
            delivered = False
        now = clock.utcnow()
        async with self._db.connection() as conn:
            if delivered:
                await conn.execute(
                    "UPDATE sandbox_webhook_deliveries SET delivered_at = $2, leased_until = NULL"
                    " WHERE id = $1",
                    row["id"],
                    now,
                )
                return
            delay = min(
                self._config.webhook_retry_s * 2 ** (row["attempts"] - 1),
                self._config.webhook_retry_max_s,
            )
            await conn.execute(
                "UPDATE sandbox_webhook_deliveries SET due_at = $2, leased_until = NULL"
                " WHERE id = $1",
                row["id"],
                now + timedelta(seconds=delay),
            )
