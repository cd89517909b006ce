"""Run a POST's work in one transaction, honouring its Idempotency-Key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from cartwright.idempotency import service as idempotency
from cartwright.kit.db import Conn
from cartwright.kit.errors import AppError, ValidationFailed
from cartwright.web.deps import platform
from cartwright.web.responses import raw_json_response

Work = Callable[[Conn], Awaitable[tuple[int, Any]]]
REPLAYED = {"Idempotent-Replayed": "true"}


def route_of(request: Request) -> str:
    return f"{request.method} {request.url.path}"


def claim_for(request: Request, *, required: bool = False) -> idempotency.Claim | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        if required:
            raise ValidationFailed.field(
                "Idempotency-Key", "this request needs an Idempotency-Key header"
            )
        return None
    principal = request.state.principal
    body = getattr(request.state, "json_body", None)
    return idempotency.make_claim(principal.key_id, route_of(request), key, body)


def replay_headers(status: int) -> dict[str, str]:
    # A stored 503 is replayed with the advice it first carried: try again shortly.
    return {**REPLAYED, "Retry-After": "5"} if status == 503 else dict(REPLAYED)


def replay(stored: idempotency.StoredResponse) -> Response:
    return raw_json_response(stored.body, stored.status, replay_headers(stored.status))


async def store_failure(request: Request, claim: idempotency.Claim, err: AppError) -> None:
    """Store a replayable failure, after the request's own transaction rolled back."""
    if not err.replayable:
        return
    async with platform(request).db.transaction() as conn:
        await idempotency.store_outcome(conn, claim, err.status, orjson.dumps(err.problem()))


async def run_idempotent(request: Request, work: Work, *, required: bool = False) -> Response:
    claim = claim_for(request, required=required)
    db = platform(request).db
    if claim is None:
        async with db.transaction() as conn:
            status, body = await work(conn)
        return raw_json_response(orjson.dumps(body), status)
    try:
        async with db.transaction() as conn:
            stored = await idempotency.claim(conn, claim)
            if stored is not None:
                return replay(stored)
            status, body = await work(conn)
            payload = orjson.dumps(body)
            await idempotency.complete(conn, claim, status, payload)
    except AppError as err:
        await store_failure(request, claim, err)
        raise
    return raw_json_response(payload, status)


Operation = Callable[[], Awaitable[tuple[int, Any]]]
# A multi-step request still "running" after this long died with its process.
ABANDONED_AFTER = timedelta(minutes=10)


async def run_idempotent_steps(request: Request, operation: Operation) -> Response:
    """For a POST whose work spans several transactions (it waits on a provider): the
    claim commits first, so a concurrent duplicate gets 409 `idempotency_key_in_use`
    while it runs; the answer is stored when it ends."""
    claim = claim_for(request)
    if claim is None:
        status, body = await operation()
        return raw_json_response(orjson.dumps(body), status)
    db = platform(request).db
    async with db.transaction() as conn:
        stored = await idempotency.claim(conn, claim, abandoned_after=ABANDONED_AFTER)
    if stored is not None:
        return replay(stored)
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
