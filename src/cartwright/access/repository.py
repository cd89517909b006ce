from __future__ import annotations

from datetime import datetime

import orjson

from cartwright.kit.db import Conn, Row

_SHOWN = (
    "id, type, name, scopes, key_prefix, created_at, revoked_at, expires_at, last_used_at,"
    " rolled_from, channel"
)


async def insert_key(
    conn: Conn,
    *,
    key_id: str,
    type_: str,
    name: str,
    scopes: list[str],
    key_hash: str,
    key_prefix: str,
    now: datetime,
    expires_at: datetime | None,
    rolled_from: str | None,
    channel: str,
) -> None:
    await conn.execute(
        "INSERT INTO api_keys (id, type, name, scopes, key_hash, key_prefix, created_at,"
        " expires_at, rolled_from, channel) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        key_id,
        type_,
        name,
        orjson.dumps(scopes).decode(),
        key_hash,
        key_prefix,
        now,
        expires_at,
        rolled_from,
        channel,
    )


async def find_active_by_hash(conn: Conn, key_hash: str) -> Row | None:
    """The key with this hash unless revoked (its expiry is checked by the caller, which
    caches the row)."""
    return await conn.fetchrow(
        "SELECT id, type, name, scopes, expires_at, channel FROM api_keys"
        " WHERE key_hash = $1 AND revoked_at IS NULL",
        key_hash,
    )


async def get_key(conn: Conn, key_id: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {_SHOWN} FROM api_keys WHERE id = $1", key_id)


async def list_keys(conn: Conn, *, limit: int, starting_after: str | None) -> list[Row]:
    if starting_after is None:
        return await conn.fetch(f"SELECT {_SHOWN} FROM api_keys ORDER BY id DESC LIMIT $1", limit)
    return await conn.fetch(
        f"SELECT {_SHOWN} FROM api_keys WHERE id < $1 ORDER BY id DESC LIMIT $2",
        starting_after,
        limit,
    )


async def revoke(conn: Conn, key_id: str, now: datetime) -> Row | None:
    """Revoke the key if it is not revoked yet; None when it was (or does not exist)."""
    return await conn.fetchrow(
        "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
        f" RETURNING {_SHOWN}",
        key_id,
        now,
    )


async def expire_by(conn: Conn, key_id: str, expires_at: datetime, now: datetime) -> Row | None:
    """Bring the key's expiry forward to `expires_at` (never push it back), if the key
    still works at `now`; None otherwise."""
    return await conn.fetchrow(
        "UPDATE api_keys SET expires_at = CASE WHEN expires_at IS NOT NULL AND expires_at < $2"
        " THEN expires_at ELSE $2 END"
        " WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)"
        f" RETURNING {_SHOWN}",
        key_id,
        expires_at,
        now,
    )


async def touch(conn: Conn, key_id: str, now: datetime, not_since: datetime) -> int:
    """Set `last_used_at`, unless some process did so after `not_since`."""
    return await conn.execute(
        "UPDATE api_keys SET last_used_at = $2"
        " WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
        key_id,
        now,
        not_since,
    )
