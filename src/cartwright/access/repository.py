from __future__ import annotations

from datetime import datetime

import orjson

from cartwright.kit.db import Conn, Row


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
) -> None:
    await conn.execute(
        "INSERT INTO api_keys (id, type, name, scopes, key_hash, key_prefix, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        key_id,
        type_,
        name,
        orjson.dumps(scopes).decode(),
        key_hash,
        key_prefix,
        now,
    )


async def find_active_by_hash(conn: Conn, key_hash: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT id, type, name, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        key_hash,
    )


async def list_keys(conn: Conn, *, limit: int, starting_after: str | None) -> list[Row]:
    if starting_after is None:
        return await conn.fetch(
            "SELECT id, type, name, scopes, key_prefix, created_at, revoked_at FROM api_keys"
            " ORDER BY id DESC LIMIT $1",
            limit,
        )
    return await conn.fetch(
        "SELECT id, type, name, scopes, key_prefix, created_at, revoked_at FROM api_keys"
        " WHERE id < $1 ORDER BY id DESC LIMIT $2",
        starting_after,
        limit,
    )


async def revoke(conn: Conn, key_id: str, now: datetime) -> Row | None:
    return await conn.fetchrow(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1"
        " RETURNING id, type, name, scopes, key_prefix, created_at, revoked_at",
        key_id,
        now,
    )
