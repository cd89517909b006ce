"""Run a POST's work in one transaction, honouring its Idempotency-Key."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from cartwright.idempotency import service as idempotency
from cartwright.idempotency.errors import StoredAnswerSealed
from cartwright.kit import ids, metrics
from cartwright.kit.crypto import SecretKeyError, is_sealed
from cartwright.kit.db import Conn
from cartwright.kit.errors import AppError, ValidationFailed
from cartwright.web.body import refuse_first
from cartwright.web.deps import platform
from cartwright.web.responses import raw_json_response

Work = Callable[[Conn], Awaitable[tuple[int, Any]]]
REPLAYED = {"Idempotent-Replayed": "true"}


# Stored answers that hold a secret the caller sees once (a new API key) are sealed with
# the server's secret key (kit/crypto.py) under this purpose.
SEALED_PURPOSE = "idempotent-answer"
# A route is stored as "<method> <path>"; a longer path by its digest, so any path fits.
MAX_STORED_PATH = 200


def route_of(request: Request) -> str:
    path = request.url.path
    if len(path) > MAX_STORED_PATH:
        path = "sha256:" + hashlib.sha256(path.encode()).hexdigest()
    return f"{request.method} {path}"


def claim_for(request: Request, *, required: bool = False) -> idempotency.Claim | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        if required:
            raise ValidationFailed.field(
                "Idempotency-Key", "this request needs an Idempotency-Key header"
            )
        return None
    body = getattr(request.state, "json_body", None)
    return idempotency.make_claim(owner_of(request), route_of(request), key, body)


async def checked_claim(request: Request, *, required: bool = False) -> idempotency.Claim | None:
    """`claim_for`, with the refusals that precede a 422 (see `web.body.refuse_first`)."""
    try:
        return claim_for(request, required=required)
    except ValidationFailed:
        await refuse_first(request)
        raise


def owner_of(request: Request) -> str:
    """Whose stored answers a request may replay: its key's, and with a customer token
    that customer's under that key (a publishable key is shared by every shopper)."""
    key_id: str = request.state.principal.key_id
    customer_id = getattr(request.state, "customer_id", None)
    return key_id if customer_id is None else f"{key_id}:{customer_id}"


def replay_headers(status: int) -> dict[str, str]:
    # A stored 503 is replayed with the advice it first carried: try again shortly.
    return {**REPLAYED, "Retry-After": "5"} if status == 503 else dict(REPLAYED)


def count_replay(request: Request) -> None:
    route = request.scope.get("route")
    metrics.idempotent_replays.labels(getattr(route, "path", "unknown")).inc()


def replay(request: Request, stored: idempotency.StoredResponse) -> Response:
    count_replay(request)
    body = stored.body
    if is_sealed(body):
        try:
            body = platform(request).secrets.open(SEALED_PURPOSE, body.decode())
        except SecretKeyError:
            raise StoredAnswerSealed(
                "This request already ran; its answer was sealed with a secret key that is"
                " no longer configured, so it cannot be shown again."
            ) from None
    return raw_json_response(body, stored.status, replay_headers(stored.status))


async def store_failure(request: Request, claim: idempotency.Claim, err: AppError) -> None:
    """Store a replayable failure, after the request's own transaction rolled back."""
    if not err.replayable:
        return
    async with platform(request).db.transaction() as conn:
        await idempotency.store_outcome(conn, claim, err.status, orjson.dumps(err.problem()))


async def run_idempotent(
    request: Request, work: Work, *, required: bool = False, sealed: bool = False
) -> Response:
    """`sealed`: the answer carries a secret shown once; it is stored encrypted."""
    claim = await checked_claim(request, required=required)
    db = platform(request).db
    if claim is None:
        async with db.transaction() as conn:
            status, body = await work(conn)
        return raw_json_response(orjson.dumps(body), status)
    try:
        async with db.transaction() as conn:
            stored = await idempotency.claim(conn, claim)
            if stored is not None:
                return replay(request, stored)
            status, body = await work(conn)
            payload = orjson.dumps(body)
            kept = payload
            if sealed:
                kept = platform(request).secrets.seal(SEALED_PURPOSE, payload).encode()
            await idempotency.complete(conn, claim, status, kept)
    except AppError as err:
        await store_failure(request, claim, err)
        raise
    return raw_json_response(payload, status)


Operation = Callable[[], Awaitable[tuple[int, Any]]]
# A multi-step request still "running" after this long died with its process.
ABANDONED_AFTER = timedelta(minutes=10)


def derived_id(request: Request, prefix: str) -> str:
    """An id that the same request retried with the same Idempotency-Key finds again
    (e.g. a capture resumed after its first process died)."""
    key = request.headers.get("idempotency-key", "")
    return ids.derived_id(prefix, owner_of(request), route_of(request), key)


async def run_idempotent_steps(
    request: Request, operation: Operation, *, required: bool = False
) -> Response:
    """For a POST whose work spans several transactions (it waits on a provider): the
    claim commits first, so a concurrent duplicate gets 409 `idempotency_key_in_use`
    while it runs; the answer is stored when it ends."""
    claim = await checked_claim(request, required=required)
    if claim is None:
        status, body = await operation()
        return raw_json_response(orjson.dumps(body), status)
    db = platform(request).db
    async with db.transaction() as conn:
        stored = await idempotency.claim(conn, claim, abandoned_after=ABANDONED_AFTER)
    if stored is not None:
        return replay(request, stored)
    try:
        status, body = await operation()
    except AppError as err:
        async with db.transaction() as conn:
            if err.replayable:
                await idempotency.complete(conn, claim, err.status, orjson.dumps(err.problem()))
            else:
                await idempotency.abandon(conn, claim)
        raise
    except BaseException:
        async with db.transaction() as conn:
            await idempotency.abandon(conn, claim)
        raise
    payload = orjson.dumps(body)
    async with db.transaction() as conn:
        await idempotency.complete(conn, claim, status, payload)
    return raw_json_response(payload, status)
