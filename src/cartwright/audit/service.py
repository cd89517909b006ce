"""The audit log: every change made with a secret key, the admin key or the CLI.

A change records its entry in its own transaction (`record`, or `record_stmt` for an atomic
batch), so the entry exists exactly when the change does. Entries are append-only and
chained: `hash = sha256(prev_hash | seq | digest)` where `digest` is the sha256 of the
entry's canonical JSON (ADR 0008). `verify` walks the chain. Changes made with a
publishable key, and work of the background worker, are not recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from cartwright.audit import repository
from cartwright.kit import clock, context, ids
from cartwright.kit.db import Conn, Dialect, Row, Stmt

# Members of `changes` whose values are secrets: never written, whatever the caller passes.
_SECRET_FIELDS = frozenset(
    {"key", "key_hash", "secret", "token", "access_token", "password", "plaintext"}
)
REDACTED = "[redacted]"


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if k in _SECRET_FIELDS else _redacted(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


def canonical(
    *,
    event_id: str,
    action: str,
    actor_key_id: str,
    request_id: str | None,
    client_address: str | None,
    target_type: str,
    target_id: str,
    changes: Any,
    created_at: datetime,
) -> bytes:
    """The bytes an entry's digest is taken over: its fields as sorted, compact JSON."""
    return orjson.dumps(
        {
            "id": event_id,
            "action": action,
            "actor_key_id": actor_key_id,
            "request_id": request_id,
            "client_address": client_address,
            "target_type": target_type,
            "target_id": target_id,
            "changes": changes,
            "created_at": clock.isoformat(created_at),
        },
        option=orjson.OPT_SORT_KEYS,
    )


def chain_hash(prev_hash: str | None, seq: int, digest: str) -> str:
    return hashlib.sha256(f"{prev_hash or ''}|{seq}|{digest}".encode()).hexdigest()


def record_stmt(
    dialect: Dialect, action: str, target_type: str, target_id: str, changes: dict[str, Any]
) -> Stmt | None:
    """The INSERT of an entry for the current actor, for the caller's batch; None when the
    current actor is not audited (a publishable key, the worker)."""
    info = context.current()
    if info is None or not info.audited or info.actor_key_id is None:
        return None
    clean = _redacted(changes)
    event_id = ids.new_id("aud")
    now = clock.utcnow()
    fields: dict[str, Any] = {
        "event_id": event_id,
        "action": action,
        "actor_key_id": info.actor_key_id,
        "request_id": info.request_id,
        "client_address": info.client_address,
        "target_type": target_type,
        "target_id": target_id,
    }
    digest = hashlib.sha256(canonical(**fields, changes=clean, created_at=now)).hexdigest()
    return repository.insert_stmt(
        dialect,
        **fields,
        changes_json=orjson.dumps(clean).decode(),
        created_at=now,
        digest=digest,
    )


async def record(
    conn: Conn, action: str, target_type: str, target_id: str, changes: dict[str, Any]
) -> None:
    """Record an entry in the caller's transaction (nothing when the actor is not audited).
    Call it last: on PostgreSQL the chain's lock is then taken after the change's row locks,
    in the same order everywhere, and held only while the transaction finishes."""
    statement = record_stmt(conn.dialect, action, target_type, target_id, changes)
    if statement is not None:
        await conn.execute(statement.sql, *statement.args)


def _changes(raw: Any) -> Any:
    return orjson.loads(raw) if isinstance(raw, str | bytes) else raw


def _present(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "action": row["action"],
        "actor": {"key_id": row["actor_key_id"]},
        "target": {"type": row["target_type"], "id": row["target_id"]},
        "request_id": row["request_id"],
        "created_at": clock.isoformat(row["created_at"]),
        "changes": _changes(row["changes"]),
    }


async def list_events(
    conn: Conn,
    *,
    limit: int,
    starting_after: str | None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Entries newest first, optionally only those matching every filter given."""
    filters = {
        column: value
        for column, value in (
            ("action", action),
            ("target_type", target_type),
            ("target_id", target_id),
            ("request_id", request_id),
        )
        if value is not None
    }
    rows = await repository.list_events(
        conn, limit=limit + 1, starting_after=starting_after, filters=filters
    )
    return {"data": [_present(r) for r in rows[:limit]], "has_more": len(rows) > limit}


@dataclass(frozen=True, slots=True)
class Verification:
    checked: int
    head_hash: str | None  # the last entry's hash: keep it elsewhere to detect a cut tail
    broken_id: str | None = None
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _row_digest(row: Row) -> str:
    return hashlib.sha256(
        canonical(
            event_id=row["id"],
            action=row["action"],
            actor_key_id=row["actor_key_id"],
            request_id=row["request_id"],
            client_address=row["client_address"],
            target_type=row["target_type"],
            target_id=row["target_id"],
            changes=_changes(row["changes"]),
            created_at=row["created_at"],
        )
    ).hexdigest()


async def verify(conn: Conn, *, page_size: int = 1000) -> Verification:
    """Walk the chain from the first entry; stop at the first one that does not hold."""
    prev_hash: str | None = None
    seq = 0
    checked = 0
    while True:
        rows = await repository.rows_after(conn, seq, page_size)
        for row in rows:
            expected_seq = seq + 1
            reason = None
            if row["seq"] != expected_seq:
                reason = f"seq {row['seq']} follows {seq}: entries are missing"
            elif row["prev_hash"] != prev_hash:
                reason = "prev_hash does not match the previous entry's hash"
            elif row["hash"] != chain_hash(prev_hash, row["seq"], _row_digest(row)):
                reason = "hash does not match the entry's contents"
            if reason is not None:
                return Verification(checked, prev_hash, row["id"], int(row["seq"]), reason)
            prev_hash, seq = row["hash"], int(row["seq"])
            checked += 1
        if len(rows) < page_size:
            return Verification(checked, prev_hash)
