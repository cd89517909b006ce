"""The background worker: payment recovery and housekeeping, in a loop.

Runs inside `cartwright serve` (unless `--no-worker`) or alone as `cartwright worker`.
Any number may run at once: each job takes its rows with a lease or a guarded update.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from cartwright.cart import service as cart
from cartwright.checkout import service as checkout
from cartwright.idempotency import service as idempotency
from cartwright.platform import Platform

log = structlog.get_logger("cartwright.worker")


async def _purge_idempotency_keys(p: Platform) -> int:
    async with p.db.transaction() as conn:
        return await idempotency.purge_expired(conn)


# Batches of abandoned carts one pass may delete (the rest wait for the next pass).
CART_PURGE_BATCHES = 20


async def _purge_abandoned_carts(p: Platform) -> int:
    purged = 0
    for _ in range(CART_PURGE_BATCHES):
        async with p.db.transaction() as conn:
            deleted = await cart.purge_abandoned(conn, ttl_days=p.settings.cart_ttl_days)
        purged += deleted
        if deleted < cart.PURGE_BATCH:
            break
    if purged:
        log.info("abandoned carts purged", carts=purged)
    return purged


JOBS: tuple[tuple[str, Callable[[Platform], Awaitable[int]], int], ...] = (
    # (name, job, run every N polls)
    ("payment_recovery", checkout.recover_due, 1),
    ("idempotency_purge", _purge_idempotency_keys, 600),
    ("cart_purge", _purge_abandoned_carts, 600),
)


async def run_once(p: Platform, tick: int = 0) -> int:
    done = 0
    for name, job, every in JOBS:
        if tick % every:
            continue
        try:
            done += await job(p)
        except Exception:  # a failing job must not stop the others; it runs again next poll
            log.exception("worker job failed", job=name)
    return done


async def run_forever(p: Platform, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    tick = 0
    log.info("worker started", poll_interval_s=p.settings.worker_poll_interval_s)
    while not stop.is_set():
        await run_once(p, tick)
        tick += 1
        with contextlib.suppress(TimeoutError):  # the poll interval passed: look again
            await asyncio.wait_for(stop.wait(), timeout=p.settings.worker_poll_interval_s)
