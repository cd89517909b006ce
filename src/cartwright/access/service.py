"""API keys: creation, authentication of a bearer key, rolling, revocation.

Keys are shown once and stored as sha256 hashes. `CARTWRIGHT_ADMIN_KEY`, when set, is a
secret key with every scope that lives only in the environment. A key grants only scopes
it holds itself: whoever creates or rolls a key must hold every scope the key gets.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
import structlog

from cartwright.access import repository
from cartwright.access.scopes import ALL_SCOPES, DEFAULT_SECRET_SCOPES, STOREFRONT_SCOPES, Scope
from cartwright.audit import service as audit
from cartwright.channels.service import DEFAULT_CHANNEL
from cartwright.channels.service import find as find_channel
from cartwright.kit import clock, ids
from cartwright.kit.context import ActorKind
from cartwright.kit.db import Conn, Database, Row
from cartwright.kit.errors import (
    Forbidden,
    InvalidState,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)

log = structlog.get_logger("cartwright.access")


class KeyType(StrEnum):
    PUBLISHABLE = "publishable"
    SECRET = "secret"


ADMIN_KEY_ID = "key_admin_env"
CLI_ACTOR = "cli"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    type: KeyType
    scopes: frozenset[Scope]
    # The channel the key sells in: a publishable key's own; a secret key's default, which
    # a request may replace with `Cartwright-Channel`.
    channel: str = DEFAULT_CHANNEL

    @property
    def is_publishable(self) -> bool:
        return self.type is KeyType.PUBLISHABLE

    @property
    def actor(self) -> tuple[str, ActorKind]:
        """Who this is in the audit log."""
        if self.is_publishable:
            return self.key_id, ActorKind.PUBLISHABLE_KEY
        if self.key_id == ADMIN_KEY_ID:
            return "admin", ActorKind.ADMIN
        if self.key_id == CLI_ACTOR:
            return CLI_ACTOR, ActorKind.CLI
        return self.key_id, ActorKind.SECRET_KEY

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            if self.is_publishable:
                raise Forbidden("A publishable key cannot do this; use a secret key.")
            raise Forbidden(f"This key lacks the scope {scope.value!r}.")


ADMIN = Principal(ADMIN_KEY_ID, KeyType.SECRET, ALL_SCOPES)
# The operator at the command line holds every scope, as the admin key does.
CLI = Principal(CLI_ACTOR, KeyType.SECRET, ALL_SCOPES)

# Bounds of the per-process key cache: a revoked (or rolled-over) key stops working on
# every process within the TTL.
MAX_CACHE_TTL_S = 5.0
DEFAULT_ROLL_OVERLAP_S = 24 * 3600


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Cached:
    until: float  # monotonic
    principal: Principal | None
    expires_at: datetime | None


class KeyAuthenticator:
    """Resolves bearer keys, with a short in-process cache: a revoked key stops working
    within `cache_ttl_s` seconds (at most `MAX_CACHE_TTL_S`) on every process. Notes each
    key's use in `last_used_at`, at most once per `last_used_every_s` per key and process,
    in a task of its own (never on the request's path)."""

    def __init__(
        self,
        db: Database,
        admin_key: str | None,
        *,
        cache_ttl_s: float = 2.0,
        last_used_every_s: float = 60.0,
    ) -> None:
        self._db = db
        self._admin_key = admin_key
        self._ttl_s = min(max(cache_ttl_s, 0.0), MAX_CACHE_TTL_S)
        self._last_used_every_s = last_used_every_s
        self._cache: dict[str, _Cached] = {}
        self._touched: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated("Send your API key as `Authorization: Bearer <key>`.")
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthenticated("Send your API key as `Authorization: Bearer <key>`.")
        if self._admin_key and hmac.compare_digest(key.encode(), self._admin_key.encode()):
            return ADMIN
        if not key.startswith(("sk_", "pk_")) or len(key) > 200:
            raise Unauthenticated("The API key is not valid.")
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is None or cached.until <= now:
            async with self._db.connection() as conn:
                row = await repository.find_active_by_hash(conn, digest)
            cached = _Cached(
                now + self._ttl_s,
                _principal(row) if row is not None else None,
                row["expires_at"] if row is not None else None,
            )
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = cached
        principal = cached.principal
        if principal is None:
            raise Unauthenticated("The API key is not valid.")
        if cached.expires_at is not None and cached.expires_at <= clock.utcnow():
            raise Unauthenticated("The API key has expired.")
        self._note_use(principal.key_id, now)
        return principal

    def forget(self, key_id: str) -> None:
        """Drop a key from this process's cache (it was revoked or rolled here)."""
        for digest, cached in list(self._cache.items()):
            if cached.principal is not None and cached.principal.key_id == key_id:
                del self._cache[digest]

    def _note_use(self, key_id: str, now: float) -> None:
        last = self._touched.get(key_id)
        if last is not None and now - last < self._last_used_every_s:
            return
        if len(self._touched) > 10_000:
            self._touched.clear()
        self._touched[key_id] = now
        task = asyncio.get_running_loop().create_task(self._touch(key_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _touch(self, key_id: str) -> None:
        now = clock.utcnow()
        try:
            async with self._db.connection() as conn:
                await repository.touch(
                    conn, key_id, now, now - timedelta(seconds=self._last_used_every_s)
                )
        except Exception as exc:  # a lost note of use is not worth failing anything for
            log.warning("could not note a key's use", key_id=key_id, error=repr(exc))

    async def close(self) -> None:
        """Let the pending notes of use finish (before the database closes)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)


def _principal(row: Row) -> Principal:
    key_type = KeyType(row["type"])
    scopes = _load_scopes(row["scopes"])
    return Principal(row["id"], key_type, scopes, row["channel"] or DEFAULT_CHANNEL)


def _load_scopes(raw: Any) -> frozenset[Scope]:
    values = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return frozenset(Scope(v) for v in values if v in Scope._value2member_map_)


def _granted_scopes(
    key_type: KeyType, scopes: Iterable[str] | None, holder: Principal
) -> list[str]:
    """The scopes a new key gets. Publishable keys: the storefront set, always. Secret keys:
    the ones asked for, each of which `holder` must hold (403 otherwise), or by default the
    holder's scopes among the defaults."""
    if key_type is KeyType.PUBLISHABLE:
        if scopes is not None and not set(scopes) <= {s.value for s in STOREFRONT_SCOPES}:
            raise ValidationFailed.field("scopes", "publishable keys carry only storefront scopes")
        return sorted(s.value for s in STOREFRONT_SCOPES)
    if scopes is None:
        return sorted(s.value for s in DEFAULT_SECRET_SCOPES & holder.scopes)
    unknown = sorted(set(scopes) - {s.value for s in ALL_SCOPES})
    if unknown:
        raise ValidationFailed.field("scopes", f"unknown scopes: {', '.join(unknown)}")
    _require_held(holder, scopes)
    return sorted(set(scopes))


def _require_held(holder: Principal, scopes: Iterable[str]) -> None:
    missing = sorted(set(scopes) - {s.value for s in holder.scopes})
    if missing:
        raise Forbidden(
            "A key can grant only scopes it holds itself; this one lacks: "
            + ", ".join(missing)
            + "."
        )


async def _insert(
    conn: Conn,
    *,
    key_type: KeyType,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    rolled_from: str | None,
    channel: str,
) -> dict[str, Any]:
    prefix = "pk" if key_type is KeyType.PUBLISHABLE else "sk"
    plaintext = ids.new_secret_id(prefix, 32)
    key_id = ids.new_id("key")
    now = clock.utcnow()
    await repository.insert_key(
        conn,
        key_id=key_id,
        type_=key_type.value,
        name=name,
        scopes=scopes,
        key_hash=hash_key(plaintext),
        key_prefix=plaintext[:7],
        now=now,
        expires_at=expires_at,
        rolled_from=rolled_from,
        channel=channel,
    )
    return {
        "id": key_id,
        "type": key_type.value,
        "name": name,
        "scopes": scopes,
        "key": plaintext,
        "key_prefix": plaintext[:7],
        "created_at": clock.isoformat(now),
        "expires_at": clock.isoformat(expires_at) if expires_at else None,
        "rolled_from": rolled_from,
        "channel": channel,
    }


def _audited_fields(key: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a key: never the key itself or its hash."""
    return {f: key[f] for f in ("type", "name", "scopes", "key_prefix", "expires_at", "channel")}


async def create_key(
    conn: Conn,
    *,
    key_type: KeyType,
    name: str,
    scopes: Sequence[str] | None,
    holder: Principal,
    expires_at: datetime | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> dict[str, Any]:
    """Create a key on behalf of `holder`; the returned `key` is the only time the secret is
    shown. A secret key gets no scope its holder lacks (403 `forbidden`, nothing created);
    an `expires_at` in the past is 422."""
    granted = _granted_scopes(key_type, scopes, holder)
    if expires_at is not None and expires_at <= clock.utcnow():
        raise ValidationFailed.field("expires_at", "must be in the future")
    if await find_channel(conn, channel) is None:
        raise ValidationFailed.field("channel", f"no channel has the code {channel!r}")
    created = await _insert(
        conn,
        key_type=key_type,
        name=name,
        scopes=granted,
        expires_at=expires_at,
        rolled_from=None,
        channel=channel,
    )
    await audit.record(conn, "api_key.created", "api_key", created["id"], _audited_fields(created))
    return created


async def roll_key(
    conn: Conn,
    key_id: str,
    *,
    holder: Principal,
    overlap_s: int | None = None,
    expires_in_s: int | None = None,
) -> dict[str, Any]:
    """Replace a key with a new one of the same type, name and scopes (shown once). The old
    key keeps working for `overlap_s` seconds (default 24 h; 0: it stops now), never longer
    than it would have. Rolling a secret key needs every scope it holds (403)."""
    row = await repository.get_key(conn, key_id)
    if row is None:
        raise NotFound(f"No API key {key_id}.")
    key_type = KeyType(row["type"])
    scopes = sorted(s.value for s in _load_scopes(row["scopes"]))
    if key_type is KeyType.SECRET:
        _require_held(holder, scopes)
    now = clock.utcnow()
    overlap = DEFAULT_ROLL_OVERLAP_S if overlap_s is None else overlap_s
    old = await repository.expire_by(conn, key_id, now + timedelta(seconds=overlap), now)
    if old is None:
        raise InvalidState(f"The API key {key_id} is revoked or expired; create a new one.")
    created = await _insert(
        conn,
        key_type=key_type,
        name=row["name"],
        scopes=scopes,
        expires_at=now + timedelta(seconds=expires_in_s) if expires_in_s is not None else None,
        rolled_from=key_id,
        channel=row["channel"] or DEFAULT_CHANNEL,
    )
    await audit.record(
        conn,
        "api_key.rolled",
        "api_key",
        key_id,
        {
            "expires_at": clock.isoformat(old["expires_at"]),
            "rolled_to": {"id": created["id"], **_audited_fields(created)},
        },
    )
    return created


def _present(row: Row) -> dict[str, Any]:
    def when(column: str) -> str | None:
        return clock.isoformat(row[column]) if row[column] else None

    return {
        "id": row["id"],
        "type": row["type"],
        "name": row["name"],
        "scopes": sorted(s.value for s in _load_scopes(row["scopes"])),
        "key_prefix": row["key_prefix"],
        "created_at": clock.isoformat(row["created_at"]),
        "expires_at": when("expires_at"),
        "last_used_at": when("last_used_at"),
        "revoked_at": when("revoked_at"),
        "rolled_from": row["rolled_from"],
        "channel": row["channel"],
    }


async def get_key(conn: Conn, key_id: str) -> dict[str, Any]:
    row = await repository.get_key(conn, key_id)
    if row is None:
        raise NotFound(f"No API key {key_id}.")
    return _present(row)


async def list_keys(conn: Conn, *, limit: int, starting_after: str | None) -> dict[str, Any]:
    rows = await repository.list_keys(conn, limit=limit + 1, starting_after=starting_after)
    return {"data": [_present(r) for r in rows[:limit]], "has_more": len(rows) > limit}


async def revoke_key(conn: Conn, key_id: str) -> dict[str, Any]:
    """Revoke a key (it stops working on every process within the cache TTL). Revoking a
    revoked key changes nothing."""
    row = await repository.revoke(conn, key_id, clock.utcnow())
    if row is None:
        return await get_key(conn, key_id)
    await audit.record(
        conn,
        "api_key.revoked",
        "api_key",
        key_id,
        {"revoked_at": clock.isoformat(row["revoked_at"])},
    )
    return _present(row)
