"""Feature flags and kill switches (ADR 0023): what the API, the CLI, checkout and the
composition root call.

`Flags` is built once per process at the composition root. Its provider (provider.py) is
registered with OpenFeature under a domain of its own, and every evaluation goes through
the OpenFeature client, synchronously, against the snapshot in memory: the hot path never
waits on a query. A background task reads the whole `feature_flags` table (a row per flag
set) every `refresh_interval_s`, so a change reaches every process within about that
(at most 5 s). A refresh that fails keeps the last values read, counts
`cartwright_flag_refresh_errors_total` and logs: a flag never flips by itself.

Changes (`set_flag`) are made in the caller's transaction and audited there, old -> new.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from openfeature import api as openfeature

from cartwright.audit import service as audit
from cartwright.flags import repository
from cartwright.flags.errors import CheckoutDisabled, FlagNotFound
from cartwright.flags.known import CHECKOUT, KnownFlag, payment_flag
from cartwright.flags.provider import DatabaseFlagProvider
from cartwright.kit import clock, context, ids, metrics
from cartwright.kit.db import Conn, Database, Row

log = structlog.get_logger("cartwright.flags")

# A refresh that takes longer than this counts as failed (the previous values stay).
REFRESH_TIMEOUT_S = 3.0
# While refreshes keep failing, one warning per this many (the counter counts each).
LOG_EVERY_FAILURES = 30
_domains = itertools.count(1)


class Flags:
    """The flags as this process applies them: `enabled(key)` is synchronous and cheap."""

    def __init__(
        self,
        db: Database,
        known: Mapping[str, KnownFlag],
        *,
        refresh_interval_s: float = 1.0,
        retry_after_s: int = 30,
    ) -> None:
        self.known = known
        self._db = db
        self._interval_s = refresh_interval_s
        self._retry_after_s = retry_after_s
        self._provider = DatabaseFlagProvider(known)
        # A domain per instance: a test process may build several platforms.
        self._domain = f"cartwright-{next(_domains)}"
        openfeature.set_provider_and_wait(self._provider, self._domain)
        self._client = openfeature.get_client(self._domain)
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._evaluated: dict[str, bool] = {}  # per snapshot: cleared by each load
        self._export()

    def enabled(self, key: str) -> bool:
        """Whether the known flag `key` is on in this process (KeyError for an unknown key:
        a flag is named in code, and a misspelt one must not pass for "on"). Evaluated
        through OpenFeature once per key and snapshot: the answer cannot change before the
        next refresh loads one, and checkout asks several times per request."""
        found = self._evaluated.get(key)
        if found is None:
            found = self._client.get_boolean_value(key, self.known[key].default)
            self._evaluated[key] = found
        return found

    def switch(self, key: str) -> Callable[[], bool]:
        """`enabled(key)` as a callable, for the code a flag switches (e.g. the kill
        switch of `kit.external.ExternalCall`). The key is checked now."""
        if key not in self.known:
            raise KeyError(f"no feature flag {key!r}")
        return lambda: self.enabled(key)

    def payment_provider_enabled(self, provider: str) -> bool:
        """Whether new authorizations may go to `provider` (`payments.<provider>`)."""
        key = payment_flag(provider)
        return key not in self.known or self.enabled(key)

    def require_checkout(self) -> None:
        """503 `checkout_disabled` while the `checkout` kill switch is off."""
        if not self.enabled(CHECKOUT):
            raise CheckoutDisabled(
                "Checkout is switched off for now; nothing was done. Carts keep working:"
                " try again later.",
                retry_after_s=self._retry_after_s,
            )

    async def start(self) -> None:
        """The first read (raised if it fails: a process does not serve without knowing
        its switches), then the refreshes in the background."""
        await self._load()
        if self._task is None:
            self._task = asyncio.create_task(self._refresh_forever(), name="flag-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> bool:
        """Read the flags again; False (the previous values kept) when the read failed."""
        try:
            await self._load()
        except Exception as exc:  # the database is down or slow: keep what we know
            self._failures += 1
            metrics.flag_refresh_errors.inc()
            if self._failures % LOG_EVERY_FAILURES == 1:
                log.warning(
                    "feature flags could not be read; keeping the last values read",
                    failures=self._failures,
                    error=repr(exc),
                )
            return False
        if self._failures:
            log.info("feature flags read again", after_failures=self._failures)
            self._failures = 0
        return True

    async def _load(self) -> None:
        async with asyncio.timeout(REFRESH_TIMEOUT_S), self._db.connection() as conn:
            rows = await repository.all_flags(conn)
        self._provider.load({r["key"]: bool(r["enabled"]) for r in rows})
        self._evaluated = {}
        self._export()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.refresh()

    def _export(self) -> None:
        for key in self.known:
            metrics.flag_enabled.labels(key).set(1 if self._provider.value(key)[0] else 0)


def _present(flag: KnownFlag, row: Row | None) -> dict[str, Any]:
    return {
        "object": "feature_flag",
        "key": flag.key,
        "enabled": bool(row["enabled"]) if row is not None else flag.default,
        "default": flag.default,
        # `database`: an operator set it; `default`: nobody has, the default applies.
        "source": "database" if row is not None else "default",
        "description": flag.description,
        "updated_at": clock.isoformat(row["updated_at"]) if row is not None else None,
        "updated_by": row["updated_by"] if row is not None else None,
    }


def _known(known: Mapping[str, KnownFlag], key: str) -> KnownFlag:
    flag = known.get(key)
    if flag is None:
        raise FlagNotFound(f"no feature flag {key!r}; the known flags: {', '.join(known)}")
    return flag


async def list_flags(
    conn: Conn,
    known: Mapping[str, KnownFlag],
    *,
    limit: int = 100,
    starting_after: str | None = None,
) -> dict[str, Any]:
    """Every known flag as stored (what every process applies within seconds), in the
    list convention, in the order `known` lists them; `starting_after` is a key."""
    keys = list(known)
    if starting_after is None:
        start = 0
    elif starting_after in known:
        start = keys.index(starting_after) + 1
    else:
        start = len(keys)  # a key that is not a flag: nothing comes after it
    page = keys[start : start + limit]
    rows = {r["key"]: r for r in await repository.all_flags(conn)}
    return {
        "data": [_present(known[k], rows.get(k)) for k in page],
        "has_more": start + limit < len(keys),
    }


async def set_flag(
    conn: Conn, known: Mapping[str, KnownFlag], key: str, *, enabled: bool
) -> dict[str, Any]:
    """Switch a known flag on or off (404 for another key), audited old -> new in the
    caller's transaction. The row is locked while it changes, so two concurrent changes
    record what each one really replaced."""
    flag = _known(known, key)
    now = clock.utcnow()
    await repository.ensure_row(conn, ids.new_id("flag"), key, flag.default, flag.description, now)
    row = await repository.locked(conn, key)
    assert row is not None  # ensured above, in this transaction
    before = bool(row["enabled"])
    info = context.current()
    actor = info.actor_key_id if info is not None else None
    await repository.update(
        conn, key, enabled=enabled, description=flag.description, now=now, updated_by=actor
    )
    changes = {"enabled": {"from": before, "to": enabled}}
    await audit.record(conn, "feature_flag.updated", "feature_flag", key, changes)
    updated = await repository.locked(conn, key)
    return _present(flag, updated)
