"""Idempotency keys, as the contract fixes them.

A request with a key claims `(owner, route, key)` as the first statement of its own
transaction. A concurrent duplicate waits on that row (PostgreSQL's unique index, SQLite's
write lock) and then sees either the finished response, to replay, or a claim that is still
running (the checkout saga commits its claim before calling the provider): 409.
A request that fails before any effect rolls its claim back with everything else, so the
corrected retry runs; a stored failure is written by `store_outcome` afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from cartwright.idempotency import repository
from cartwright.idempotency.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from cartwright.kit import clock
from cartwright.kit.db import Conn, Row, Stmt
from cartwright.kit.errors import ValidationFailed

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Claim:
    owner: str
    route: str
    key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes


def request_hash(body: object) -> str:
    """Hash of the request's canonical JSON, so whitespace or key order do not matter."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def make_claim(owner: str, route: str, key: str, body: object) -> Claim:
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ValidationFailed.field("Idempotency-Key", "must be 1 to 255 characters")
    return Claim(owner, route, key, request_hash(body))


def claim_stmt(c: Claim) -> Stmt:
    """The claim as a batch write: row count 1 when this request took the key, 0 when the
    key exists (then see `lookup`)."""
    return repository.insert_claim_stmt(c.owner, c.route, c.key, c.request_hash, clock.utcnow())


async def claim(
    conn: Conn, c: Claim, *, abandoned_after: timedelta | None = None
) -> StoredResponse | None:
    """Claim the key; returns the stored response when the request already ran.

    `abandoned_after`: for requests that commit their claim before working (they span
    several transactions): a claim still running after that long belonged to a process
    that died, and is taken over."""
    (taken,) = await conn.batch([claim_stmt(c)])
    return await settle_claim(conn, c, taken, abandoned_after=abandoned_after)


async def settle_claim(
    conn: Conn, c: Claim, taken: int | None, *, abandoned_after: timedelta | None = None
) -> StoredResponse | None:
    """After `claim_stmt`: None when this request may run; the stored response when it ran
    before; raises while it is still running or when the key was used for another body."""
    if taken:
        return None
    row = await repository.get(conn, c.owner, c.route, c.key)
    if row is None:  # deleted by the retention sweep between our two statements
        now = clock.utcnow()
        if await repository.insert_claim(conn, c.owner, c.route, c.key, c.request_hash, now):
            return None
        raise IdempotencyKeyInUse()
    stored = await _existing(conn, c, row, abandoned_after=abandoned_after)
    if stored is None:  # expired and released: take it
        (taken,) = await conn.batch([claim_stmt(c)])
        if taken:
            return None
        raise IdempotencyKeyInUse()
    return stored


async def lookup(conn: Conn, c: Claim) -> StoredResponse | None:
    """After a claim was refused: the stored response to replay; None when the key is free
    (never used, or its 24 hours are over: then it is released for this request). Raises
    while the first request runs, or when the key was used for another body."""
    row = await repository.get(conn, c.owner, c.route, c.key)
    return None if row is None else await _existing(conn, c, row)


async def _existing(
    conn: Conn, c: Claim, row: Row, *, abandoned_after: timedelta | None = None
) -> StoredResponse | None:
    now = clock.utcnow()
    if row["created_at"] < now - RETENTION:
        await repository.delete_expired_key(conn, c.owner, c.route, c.key, now - RETENTION)
        return None
    if (
        abandoned_after is not None
        and row["status"] != "done"
        and row["created_at"] < now - abandoned_after
    ):
        await repository.delete_expired_key(conn, c.owner, c.route, c.key, now - abandoned_after)
        return None
    if row["request_hash"] != c.request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body."
        )
    if row["status"] != "done":
        raise IdempotencyKeyInUse("A request with this Idempotency-Key is still running.")
    return StoredResponse(row["response_status"], row["response_body"].encode())


def complete_stmt(c: Claim, status: int, body: bytes) -> Stmt:
    """Storing the response, to run in the transaction of the effects it describes."""
    return repository.complete_stmt(c.owner, c.route, c.key, status, body.decode(), clock.utcnow())


async def complete(conn: Conn, c: Claim, status: int, body: bytes) -> None:
    await conn.batch([complete_stmt(c, status, body)])


async def store_outcome(conn: Conn, c: Claim, status: int, body: bytes) -> None:
    """Store a response for a request whose own transaction rolled back (a stored error)."""
    await repository.insert_completed(
        conn, c.owner, c.route, c.key, c.request_hash, status, body.decode(), clock.utcnow()
    )


async def abandon(conn: Conn, c: Claim) -> None:
    """Drop a claim whose request ended without effect and without a stored answer, so
    the corrected retry runs."""
    await repository.delete_claim(conn, c.owner, c.route, c.key)


async def purge_expired(conn: Conn) -> int:
    return await repository.delete_expired(conn, clock.utcnow() - RETENTION)


async def rewrite_answers(
    conn: Conn, mentions: Sequence[str], rewrite: Callable[[Any], Any]
) -> int:
    """Rewrite the stored answers (JSON) of requests about any of `mentions` (ids in the
    route or the body), so a replay shows what the data reads as now (erasure). Sealed
    answers hold none of these and are left alone. Returns how many changed."""
    changed = 0
    for start in range(0, len(mentions), 50):
        chunk = list(mentions[start : start + 50])
        for row in await repository.answers_mentioning(conn, chunk):
            body = row["response_body"]
            if not any(m in row["route"] or m in body for m in chunk):
                continue
            try:
                before = orjson.loads(body)
            except orjson.JSONDecodeError:
                continue  # sealed (kit/crypto.py): not JSON, and holds no shopper's data
            after = rewrite(before)
            if after != before:
                await repository.set_answer_body(
                    conn, row["owner"], row["route"], row["key"], orjson.dumps(after).decode()
                )
                changed += 1
    return changed
