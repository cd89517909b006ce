"""The sender (a worker job): posts due deliveries, signed, and records every attempt.

Each pass leases due deliveries (`leased_until`: `FOR UPDATE SKIP LOCKED` on PostgreSQL, the
write lock on SQLite), so several senders on one database never hold the same delivery at
once; a sender that dies leaves its leases to run out and the deliveries are sent again (at
least once). Posts run as tasks of this process, at most `webhook_concurrency` in all and
`webhook_endpoint_concurrency` to any one endpoint, and a pass does not wait for them: one
slow endpoint holds only its own slots, never another endpoint's deliveries.

Every attempt resolves the endpoint's host, checks every address (webhooks/addresses.py) and
connects to the address it checked, with the URL's host in `Host` and in TLS's SNI and
certificate check; redirects are never followed (a 3xx is a failed attempt). 2xx is a
success; anything else, a timeout or a connection error is a failure, retried after the
next delay of `webhook_retry_schedule_s` (jittered), and abandoned after the last.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog

from cartwright.events import service as events
from cartwright.events.envelope import envelope
from cartwright.kit import clock, ids, metrics, telemetry
from cartwright.kit.crypto import SecretKeys
from cartwright.kit.db import Conn, Database, Row
from cartwright.kit.settings import Settings
from cartwright.webhooks import addresses, repository, signing
from cartwright.webhooks.service import (
    ENDPOINT_DISABLED,
    DeliveryStatus,
    EndpointStatus,
    get_endpoint,
    signing_secrets,
)

log = structlog.get_logger("cartwright.webhooks")

EXCERPT_BYTES = 1024
USER_AGENT = "Cartwright-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    excerpt: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_s(
    schedule: tuple[float, ...], attempts: int, rand: Callable[[], float]
) -> float | None:
    """The wait after the `attempts`-th failed attempt (None: no attempt is left), jittered
    to between 80 % and 120 % of the schedule's delay so retries of many deliveries failed
    together spread out."""
    if attempts > len(schedule):
        return None
    return schedule[attempts - 1] * (0.8 + 0.4 * rand())


def _pinned_url(target: addresses.Target) -> httpx.URL:
    url = httpx.URL(target.url)
    return url.copy_with(host=target.address)


def _host_header(target: addresses.Target) -> str:
    url = httpx.URL(target.url)
    host = url.host if ":" not in url.host else f"[{url.host}]"
    return host if url.port is None else f"{host}:{url.port}"


class Sender:
    """One process's sender. `send_due` starts posts and returns; `drain` waits for them."""

    def __init__(
        self,
        db: Database,
        keys: SecretKeys,
        settings: Settings,
        *,
        resolver: addresses.Resolver = addresses.system_resolver,
        rand: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._db = db
        self._keys = keys
        self._settings = settings
        self._resolver = resolver
        self._rand = rand
        self._schedule = settings.webhook_retry_schedule()
        self.owner = ids.new_id("wsnd")
        self._inflight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        # No connection is kept: one kept for an address could carry the next delivery to
        # another host on that address past its certificate check.
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=settings.webhook_timeout_s,
            limits=httpx.Limits(max_keepalive_connections=0, max_connections=None),
            transport=transport,
        )

    @property
    def lease_s(self) -> float:
        return self._settings.webhook_timeout_s * 2 + 30

    async def close(self) -> None:
        await self.drain()
        await self._client.aclose()

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def send_due(self) -> int:
        """Lease what is due and free to send, start posting it; how many were started."""
        free = self._settings.webhook_concurrency - sum(self._inflight.values())
        if free <= 0:
            return 0
        per_endpoint = self._settings.webhook_endpoint_concurrency
        busy = [e for e, n in self._inflight.items() if n >= per_endpoint]
        now = clock.utcnow()
        # A look first, without the write lock a lease takes (SQLite has one writer).
        async with self._db.connection() as conn:
            if not await repository.any_due(conn, now):
                return 0
        async with self._db.transaction() as conn:
            leased = await repository.lease_due(
                conn,
                now=now,
                until=now + timedelta(seconds=self.lease_s),
                owner=self.owner,
                per_endpoint=per_endpoint,
                limit=free,
                skip_endpoints=busy,
            )
        started = 0
        for row in leased:
            endpoint_id = row["endpoint_id"]
            if self._inflight[endpoint_id] >= per_endpoint:
                async with self._db.connection() as conn:
                    await repository.release(conn, row["id"], self.owner)
                continue
            self._inflight[endpoint_id] += 1
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def run_once(self) -> int:
        """`send_due` and wait for its posts (tests, the CLI)."""
        started = await self.send_due()
        await self.drain()
        return started

    async def _deliver(self, row: Row) -> None:
        try:
            with telemetry.span(
                "webhooks.deliver", {"delivery_id": row["id"], "endpoint_id": row["endpoint_id"]}
            ):
                await self._attempt(row)
        except Exception as exc:
            # A failure of ours (a secret sealed with a key no longer configured, the
            # database): an attempt like any other, so the schedule still ends it.
            log.exception("webhook delivery failed unexpectedly", delivery_id=row["id"])
            try:
                await self._finish(
                    row, Outcome(None, f"internal error: {type(exc).__name__}", None, 0)
                )
            except Exception:  # the lease runs out and the delivery is tried again
                log.exception("webhook attempt not recorded", delivery_id=row["id"])
        finally:
            self._inflight[row["endpoint_id"]] -= 1
            if self._inflight[row["endpoint_id"]] <= 0:
                del self._inflight[row["endpoint_id"]]

    async def _attempt(self, row: Row) -> None:
        async with self._db.connection() as conn:
            endpoint = await repository.endpoint(conn, row["endpoint_id"])
            found = await events.by_ids(conn, [row["event_id"]])
            secrets = await signing_secrets(conn, self._keys, row["endpoint_id"])
        event = found.get(row["event_id"])
        if endpoint is None or event is None:
            await self._finish(row, Outcome(None, "event or endpoint no longer exists", None, 0))
            return
        body = orjson.dumps(
            envelope(
                event,
                source=self._settings.event_source,
                schema_base_url=self._settings.event_schema_base_url,
            )
        )
        outcome = await self._post(endpoint["url"], event.id, event.type, body, secrets)
        metrics.webhook_attempt_duration.observe(outcome.duration_ms / 1000)
        await self._finish(row, outcome)

    async def _post(
        self, url: str, event_id: str, event_type: str, body: bytes, secrets: list[str]
    ) -> Outcome:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(self._settings.webhook_timeout_s):
                target = await addresses.vet(
                    url,
                    allow_private=self._settings.webhooks_allow_private,
                    resolver=self._resolver,
                )
                timestamp = int(clock.utcnow().timestamp())
                headers = {
                    "Host": _host_header(target),
                    "Content-Type": "application/cloudevents+json",
                    "User-Agent": USER_AGENT,
                    signing.HEADER: signing.header(secrets, timestamp, body),
                    "Cartwright-Event-Id": event_id,
                    "Cartwright-Event-Type": event_type,
                }
                extensions: dict[str, Any] = {}
                if httpx.URL(url).scheme == "https":
                    extensions["sni_hostname"] = target.host
                request = self._client.build_request(
                    "POST",
                    _pinned_url(target),
                    content=body,
                    headers=headers,
                    extensions=extensions,
                )
                # No trace context (or span) for another company's server.
                with telemetry.untraced_http():
                    response = await self._client.send(request, stream=True)
                try:
                    excerpt = b""
                    async for chunk in response.aiter_bytes():
                        excerpt += chunk
                        if len(excerpt) >= EXCERPT_BYTES:
                            break
                finally:
                    await response.aclose()
        except addresses.UnsafeUrl as exc:
            return Outcome(None, f"address not allowed: {exc}"[:200], None, elapsed())
        except TimeoutError:
            return Outcome(None, "timed out", None, elapsed())
        except httpx.TimeoutException:
            return Outcome(None, "timed out", None, elapsed())
        except (httpx.HTTPError, httpx.InvalidURL, OSError, UnicodeError) as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:200], None, elapsed())
        text = excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace")[:EXCERPT_BYTES]
        error = None
        if 300 <= response.status_code < 400:
            error = "redirect not followed"
        elif not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}"
        return Outcome(response.status_code, error, text or None, elapsed())

    async def _finish(self, row: Row, outcome: Outcome) -> None:
        now = clock.utcnow()
        attempts = int(row["attempts"]) + 1
        if outcome.succeeded:
            status, due = DeliveryStatus.SUCCEEDED, None
        else:
            wait = backoff_s(self._schedule, attempts, self._rand)
            if wait is None:
                status, due = DeliveryStatus.ABANDONED, None
            else:
                status, due = DeliveryStatus.FAILED, now + timedelta(seconds=wait)
        async with self._db.transaction() as conn:
            await conn.batch(
                [
                    repository.insert_attempt_stmt(
                        ids.new_id("wa"),
                        row["id"],
                        now,
                        outcome.status_code,
                        outcome.duration_ms,
                        outcome.error,
                        outcome.excerpt,
                    )
                ]
            )
            changed = await repository.finish_attempt(
                conn,
                row["id"],
                self.owner,
                status=status,
                next_attempt_at=due,
                status_code=outcome.status_code,
                error=outcome.error,
                now=now,
            )
            if not changed:  # our lease ran out and another sender took the delivery
                return
            if outcome.succeeded:
                await repository.endpoint_succeeded(conn, row["endpoint_id"], now)
            else:
                await self._count_failure(conn, row["endpoint_id"], now)
        metrics.webhook_deliveries.labels(str(status)).inc()

    async def _count_failure(self, conn: Conn, endpoint_id: str, now: datetime) -> None:
        counters = await repository.endpoint_failed(conn, endpoint_id, now)
        if counters is None or counters["status"] != EndpointStatus.ENABLED:
            return
        failing_for = now - counters["failing_since"]
        too_many = counters["consecutive_failures"] >= self._settings.webhook_disable_after_failures
        too_long = failing_for.total_seconds() >= self._settings.webhook_disable_after_s
        if not (too_many or too_long):
            return
        reason = (
            f"{counters['consecutive_failures']} attempts in a row failed"
            if too_many
            else f"every attempt failed for {int(failing_for.total_seconds())} s"
        )
        if await repository.disable(conn, endpoint_id, reason, now) == 1:
            shown = await get_endpoint(conn, endpoint_id)
            await events.record(conn, [events.Event(ENDPOINT_DISABLED, endpoint_id, shown)])
            log.warning("webhook endpoint disabled", endpoint_id=endpoint_id, reason=reason)


async def refresh_gauges(db: Database) -> int:
    """The pending-deliveries and disabled-endpoints gauges (database-wide)."""
    async with db.connection() as conn:
        metrics.webhook_pending.set(await repository.count_pending(conn))
        metrics.webhook_endpoints_disabled.set(await repository.count_disabled(conn))
    return 0
