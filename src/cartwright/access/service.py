"""API keys: creation, authentication of a bearer key, revocation.

Keys are shown once and stored as sha256 hashes. `CARTWRIGHT_ADMIN_KEY`, when set, is a
secret key with every scope that lives only in the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from cartwright.access import repository
from cartwright.access.scopes import ALL_SCOPES, STOREFRONT_SCOPES, Scope
from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Database, Row
from cartwright.kit.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed


class KeyType(StrEnum):
    PUBLISHABLE = "publishable"
    SECRET = "secret"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    type: KeyType
    scopes: frozenset[Scope]

    @property
    def is_publishable(self) -> bool:
        return self.type is KeyType.PUBLISHABLE

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            if self.is_publishable:
                raise Forbidden("A publishable key cannot do this; use a secret key.")
            raise Forbidden(f"This key lacks the scope {scope.value!r}.")


ADMIN_KEY_ID = "key_admin_env"
_CACHE_TTL_S = 2.0


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyAuthenticator:
    """Resolves bearer keys, with a short in-process cache: a revoked key stops working
    within `_CACHE_TTL_S` seconds on every process."""

    def __init__(self, db: Database, admin_key: str | None) -> None:
        self._db = db
        self._admin_key = admin_key
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated("Send your API key as `Authorization: Bearer <key>`.")
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthenticated("Send your API key as `Authorization: Bearer <key>`.")
        if self._admin_key and hmac.compare_digest(key.encode(), self._admin_key.encode()):
            return Principal(ADMIN_KEY_ID, KeyType.SECRET, ALL_SCOPES)
        if not key.startswith(("sk_", "pk_")) or len(key) > 200:
            raise Unauthenticated("The API key is not valid.")
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            principal = cached[1]
        else:
            async with self._db.connection() as conn:
                row = await repository.find_active_by_hash(conn, digest)
            principal = _principal(row) if row is not None else None
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + _CACHE_TTL_S, principal)
        if principal is None:
            raise Unauthenticated("The API key is not valid.")
        return principal


def _principal(row: Row) -> Principal:
    key_type = KeyType(row["type"])
    scopes = _load_scopes(row["scopes"])
    return Principal(row["id"], key_type, scopes)


def _load_scopes(raw: Any) -> frozenset[Scope]:
    values = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return frozenset(Scope(v) for v in values if v in Scope._value2member_map_)


def _validate_scopes(key_type: KeyType, scopes: Iterable[str] | None) -> list[str]:
    if key_type is KeyType.PUBLISHABLE:
        if scopes is not None and not set(scopes) <= {s.value for s in STOREFRONT_SCOPES}:
            raise ValidationFailed.field("scopes", "publishable keys carry only storefront scopes")
        return sorted(s.value for s in STOREFRONT_SCOPES)
    if scopes is None:
        return sorted(s.value for s in ALL_SCOPES)
    unknown = sorted(set(scopes) - {s.value for s in ALL_SCOPES})
    if unknown:
        raise ValidationFailed.field("scopes", f"unknown scopes: {', '.join(unknown)}")
    return sorted(set(scopes))


async def create_key(
    conn: Conn, *, key_type: KeyType, name: str, scopes: Sequence[str] | None
) -> dict[str, Any]:
    """Create a key; the returned `key` is the only time the secret is shown."""
    granted = _validate_scopes(key_type, scopes)
    prefix = "pk" if key_type is KeyType.PUBLISHABLE else "sk"
    plaintext = ids.new_secret_id(prefix, 32)
    key_id = ids.new_id("key")
    now = clock.utcnow()
    await repository.insert_key(
        conn,
        key_id=key_id,
        type_=key_type.value,
        name=name,
        scopes=granted,
        key_hash=hash_key(plaintext),
        key_prefix=plaintext[:7],
        now=now,
    )
    return {
        "id": key_id,
        "type": key_type.value,
        "name": name,
        "scopes": granted,
        "key": plaintext,
        "created_at": clock.isoformat(now),
    }


def _present(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "type": row["type"],
        "name": row["name"],
        "scopes": sorted(s.value for s in _load_scopes(row["scopes"])),
        "key_prefix": row["key_prefix"],
        "created_at": clock.isoformat(row["created_at"]),
        "revoked_at": clock.isoformat(row["revoked_at"]) if row["revoked_at"] else None,
    }


async def list_keys(conn: Conn, *, limit: int, starting_after: str | None) -> dict[str, Any]:
    rows = await repository.list_keys(conn, limit=limit + 1, starting_after=starting_after)
    return {"data": [_present(r) for r in rows[:limit]], "has_more": len(rows) > limit}


async def revoke_key(conn: Conn, key_id: str) -> dict[str, Any]:
    row = await repository.revoke(conn, key_id, clock.utcnow())
    if row is None:
        raise NotFound(f"No API key {key_id}.")
    return _present(row)
