"""Webhook endpoints and their deliveries: what the API and the worker call.

An endpoint's signing secrets are sealed with the server's secret key (ADR 0007) and shown
once, when made. Every write is audited in the caller's transaction. The URL's addresses are
checked by `vet_url` before the transaction opens (it resolves a name: no database
connection is held while it waits); `create_endpoint` and `update_endpoint` check its form.
"""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson

from cartwright.audit import service as audit
from cartwright.events import service as events
from cartwright.kit import clock, ids
from cartwright.kit.crypto import SecretKeys
from cartwright.kit.db import Conn, Row
from cartwright.kit.errors import ValidationFailed
from cartwright.webhooks import addresses, repository
from cartwright.webhooks.errors import DeliveryNotFound, EndpointNotFound

SEAL_PURPOSE = "webhook-endpoint-secret"
SECRET_PREFIX = "whsec_"
DEFAULT_OVERLAP_S = 24 * 3600
ENDPOINT_DISABLED = "webhook_endpoint.disabled"

# The event types an endpoint may subscribe to (docs/events.md), `*` for every one, or
# `<prefix>.*` for every type of one kind. A new event type is added here.
KNOWN_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "order.created",
        "order.placed",
        "order.canceled",
        "order.fulfilled",
        "order.completed",
        "order.updated",
        "order.risk_review",
        "order.risk_approved",
        "order.risk_rejected",
        "return.requested",
        "return.received",
        "payment.authorized",
        "payment.captured",
        "payment.refunded",
        "payment.voided",
        "payment.requires_action",
        "payment.pending",
        "payment.failed",
        "payment.mismatch",
        "payment.overdue",
        "payment.compensated",
        "payment.disputed",
        "payment.dispute_closed",
        "reconciliation.run_completed",
        "reconciliation.discrepancy_resolved",
        "customer.created",
        "customer.erased",
        "inventory.adjusted",
        "inventory.low",
        ENDPOINT_DISABLED,
    }
)
_KNOWN_PREFIXES = frozenset(t.split(".", 1)[0] for t in KNOWN_EVENT_TYPES)


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DeliveryStatus(StrEnum):
    """`pending`: not tried yet; `failed`: the last attempt failed, the next is due at
    `next_attempt_at`; `succeeded`; `abandoned`: the last retry failed."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABANDONED = "abandoned"


def matches(subscribed: Sequence[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to `subscribed` receives events of `event_type`."""
    prefix = event_type.split(".", 1)[0]
    return any(s == "*" or s == event_type or s == f"{prefix}.*" for s in subscribed)


def check_event_types(types: Sequence[str]) -> list[str]:
    """The subscription, deduplicated in order; 422 for a type nobody emits."""
    seen: list[str] = []
    for i, event_type in enumerate(types):
        known = (
            event_type == "*"
            or event_type in KNOWN_EVENT_TYPES
            or (event_type.endswith(".*") and event_type[:-2] in _KNOWN_PREFIXES)
        )
        if not known:
            raise ValidationFailed.field(f"events[{i}]", f"unknown event type {event_type!r}")
        if event_type not in seen:
            seen.append(event_type)
    return seen


def _check_form(url: str) -> None:
    try:
        addresses.parse(url)
    except addresses.UnsafeUrl as exc:
        raise ValidationFailed.field("url", str(exc)) from None


async def vet_url(url: str, *, allow_private: bool, resolver: addresses.Resolver) -> None:
    """422 for a URL that is not http(s), carries credentials, or whose host is or resolves
    to an address that is not public (unless `allow_private`). Call it with no transaction
    open: it may wait for DNS."""
    try:
        await addresses.check_new_url(url, allow_private=allow_private, resolver=resolver)
    except addresses.UnsafeUrl as exc:
        raise ValidationFailed.field("url", str(exc)) from None


def _json(raw: Any) -> Any:
    return orjson.loads(raw) if isinstance(raw, str | bytes) else raw


def _time(value: datetime | None) -> str | None:
    return None if value is None else clock.isoformat(value)


def _endpoint(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "webhook_endpoint",
        "url": row["url"],
        "events": _json(row["events"]),
        "status": row["status"],
        "description": row["description"],
        "disabled_reason": row["disabled_reason"],
        "consecutive_failures": int(row["consecutive_failures"]),
        "created_at": clock.isoformat(row["created_at"]),
        "updated_at": clock.isoformat(row["updated_at"]),
    }


def _delivery(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "webhook_delivery",
        "endpoint_id": row["endpoint_id"],
        "event_id": row["event_id"],
        "event_type": row["event_type"],
        "generation": int(row["generation"]),
        "status": row["status"],
        "attempt_count": int(row["attempts"]),
        "next_attempt_at": _time(row["next_attempt_at"]),
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
        "created_at": clock.isoformat(row["created_at"]),
        "updated_at": clock.isoformat(row["updated_at"]),
    }


def _attempt(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "attempted_at": clock.isoformat(row["attempted_at"]),
        "status_code": row["status_code"],
        "duration_ms": int(row["duration_ms"]),
        "error": row["error"],
        "response_excerpt": row["response_excerpt"],
    }


def _new_secret() -> str:
    return SECRET_PREFIX + random_secrets.token_urlsafe(32)


async def _row(conn: Conn, endpoint_id: str) -> Row:
    row = await repository.endpoint(conn, endpoint_id)
    if row is None:
        raise EndpointNotFound(f"no webhook endpoint {endpoint_id}")
    return row


async def create_endpoint(
    conn: Conn,
    keys: SecretKeys,
    *,
    url: str,
    event_types: Sequence[str],
    description: str | None,
) -> dict[str, Any]:
    """A new enabled endpoint with its first signing secret, shown here once."""
    _check_form(url)
    types = check_event_types(event_types)
    now = clock.utcnow()
    endpoint_id = ids.new_id("we")
    secret = _new_secret()
    await conn.batch(
        [
            repository.insert_endpoint_stmt(
                endpoint_id, url, orjson.dumps(types).decode(), description, now
            ),
            repository.insert_secret_stmt(
                ids.new_id("whs"), endpoint_id, keys.seal(SEAL_PURPOSE, secret.encode()), now, None
            ),
        ]
    )
    await audit.record(
        conn,
        "webhook_endpoint.created",
        "webhook_endpoint",
        endpoint_id,
        {"url": url, "events": types, "description": description},
    )
    return {**_endpoint(await _row(conn, endpoint_id)), "secret": secret}


async def get_endpoint(conn: Conn, endpoint_id: str) -> dict[str, Any]:
    return _endpoint(await _row(conn, endpoint_id))


async def list_endpoints(conn: Conn, *, limit: int, starting_after: str | None) -> dict[str, Any]:
    rows = await repository.list_endpoints(conn, starting_after=starting_after, limit=limit + 1)
    return {"data": [_endpoint(r) for r in rows[:limit]], "has_more": len(rows) > limit}


async def update_endpoint(
    conn: Conn,
    endpoint_id: str,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Change the URL, the subscription or the description, or enable / disable it.
    Enabling clears the failure count; pending deliveries then go out again."""
    row = await _row(conn, endpoint_id)
    changes: dict[str, Any] = {}
    if url is not None:
        _check_form(url)
        changes["url"] = url
    types = _json(row["events"])
    if event_types is not None:
        types = check_event_types(event_types)
        changes["events"] = types
    if description is not None:
        changes["description"] = description
    status, reason = row["status"], row["disabled_reason"]
    reset = False
    if enabled is not None:
        changes["enabled"] = enabled
        if enabled:
            status, reason, reset = EndpointStatus.ENABLED, None, True
        elif status == EndpointStatus.ENABLED:
            status, reason = EndpointStatus.DISABLED, "disabled through the API"
    await repository.update_endpoint(
        conn,
        endpoint_id,
        url=url if url is not None else row["url"],
        events=orjson.dumps(types).decode(),
        description=description if description is not None else row["description"],
        status=status,
        disabled_reason=reason,
        reset_failures=reset,
        now=clock.utcnow(),
    )
    await audit.record(conn, "webhook_endpoint.updated", "webhook_endpoint", endpoint_id, changes)
    return _endpoint(await _row(conn, endpoint_id))


async def delete_endpoint(conn: Conn, endpoint_id: str) -> dict[str, Any]:
    """The endpoint, its secrets and its delivery log are gone; nothing more is sent."""
    shown = _endpoint(await _row(conn, endpoint_id))
    await repository.delete_endpoint(conn, endpoint_id)
    await audit.record(
        conn, "webhook_endpoint.deleted", "webhook_endpoint", endpoint_id, {"url": shown["url"]}
    )
    return {**shown, "deleted": True}


async def rotate_secret(
    conn: Conn, keys: SecretKeys, endpoint_id: str, *, overlap_s: int | None
) -> dict[str, Any]:
    """A new signing secret (shown once); the ones before it keep signing alongside it
    for `overlap_s` seconds (default 24 h; 0: they stop now)."""
    await _row(conn, endpoint_id)
    now = clock.utcnow()
    overlap = DEFAULT_OVERLAP_S if overlap_s is None else overlap_s
    until = now + timedelta(seconds=overlap)
    await repository.drop_expired_secrets(conn, endpoint_id, now)
    await repository.expire_secrets(conn, endpoint_id, until)
    secret = _new_secret()
    await conn.batch(
        [
            repository.insert_secret_stmt(
                ids.new_id("whs"), endpoint_id, keys.seal(SEAL_PURPOSE, secret.encode()), now, None
            )
        ]
    )
    await audit.record(
        conn,
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint",
        endpoint_id,
        {"overlap_seconds": overlap},
    )
    return {
        **_endpoint(await _row(conn, endpoint_id)),
        "secret": secret,
        "previous_secrets_expire_at": clock.isoformat(until),
    }


async def signing_secrets(conn: Conn, keys: SecretKeys, endpoint_id: str) -> list[str]:
    """The secrets that sign a delivery made now, newest first."""
    rows = await repository.live_secrets(conn, endpoint_id, clock.utcnow())
    return [keys.open(SEAL_PURPOSE, r["sealed"]).decode() for r in rows]


async def list_deliveries(
    conn: Conn, endpoint_id: str, *, limit: int, starting_after: str | None
) -> dict[str, Any]:
    """The endpoint's deliveries, newest first."""
    await _row(conn, endpoint_id)
    rows = await repository.deliveries_of(
        conn, endpoint_id, starting_after=starting_after, limit=limit + 1
    )
    return {"data": [_delivery(r) for r in rows[:limit]], "has_more": len(rows) > limit}


async def get_delivery(conn: Conn, delivery_id: str) -> dict[str, Any]:
    """One delivery with every attempt, oldest first."""
    row = await repository.delivery(conn, delivery_id)
    if row is None:
        raise DeliveryNotFound(f"no webhook delivery {delivery_id}")
    attempts = await repository.attempts_of(conn, delivery_id)
    return {**_delivery(row), "attempts": [_attempt(a) for a in attempts]}


async def _queue_again(conn: Conn, endpoint_id: str, items: Sequence[tuple[str, str]]) -> list[str]:
    """New pending deliveries of these (event id, type) to the endpoint, each with the
    generation after the last one; their ids."""
    if not items:
        return []
    last = await repository.last_generations(conn, endpoint_id, [e for e, _ in items])
    now = clock.utcnow()
    rows = [
        (ids.new_id("wd"), endpoint_id, event_id, event_type, last.get(event_id, -1) + 1, now)
        for event_id, event_type in items
    ]
    await repository.insert_deliveries(conn, rows)
    return [r[0] for r in rows]


async def replay_delivery(conn: Conn, delivery_id: str) -> dict[str, Any]:
    """The delivery's event queued again to its endpoint, as a new delivery (same event id:
    a receiver that already handled it recognises it)."""
    row = await repository.delivery(conn, delivery_id)
    if row is None:
        raise DeliveryNotFound(f"no webhook delivery {delivery_id}")
    (new_id,) = await _queue_again(conn, row["endpoint_id"], [(row["event_id"], row["event_type"])])
    await audit.record(
        conn,
        "webhook_delivery.replayed",
        "webhook_delivery",
        delivery_id,
        {"replayed_as": new_id},
    )
    return await get_delivery(conn, new_id)


REPLAY_PAGE = 500
REPLAY_MAX = 10_000


async def replay_range(
    conn: Conn, endpoint_id: str, *, start: datetime, end: datetime
) -> dict[str, Any]:
    """Every event written in [start, end) that the endpoint subscribes to, queued again
    as new deliveries (at most 10,000 per request: 422 beyond, narrow the range)."""
    if end <= start:
        raise ValidationFailed.field("to", "must be after `from`")
    row = await _row(conn, endpoint_id)
    subscribed = _json(row["events"])
    chosen: list[tuple[str, str]] = []
    after = 0
    while True:
        page = await events.created_between(conn, start, end, after_seq=after, limit=REPLAY_PAGE)
        chosen += [(e.id, e.type) for e in page if matches(subscribed, e.type)]
        if len(chosen) > REPLAY_MAX:
            raise ValidationFailed.field(
                "from", f"more than {REPLAY_MAX} events in the range: narrow it"
            )
        if len(page) < REPLAY_PAGE:
            break
        after = page[-1].seq
    queued = []
    for i in range(0, len(chosen), REPLAY_PAGE):
        queued += await _queue_again(conn, endpoint_id, chosen[i : i + REPLAY_PAGE])
    await audit.record(
        conn,
        "webhook_endpoint.replayed",
        "webhook_endpoint",
        endpoint_id,
        {"from": clock.isoformat(start), "to": clock.isoformat(end), "queued": len(queued)},
    )
    return {"endpoint_id": endpoint_id, "queued": len(queued), "delivery_ids": queued}


# Finished deliveries one pass deletes per transaction (the worker runs several passes).
PURGE_BATCH = 500


async def purge_delivery_log(conn: Conn, *, retention_days: int) -> int:
    """Forget deliveries that succeeded or were abandoned more than `retention_days` ago,
    with their attempts (at most `PURGE_BATCH`); pending and retried ones always stay."""
    before = clock.utcnow() - timedelta(days=retention_days)
    return await repository.purge_finished(conn, before, PURGE_BATCH)
