"""The background worker: payment recovery and housekeeping, in a loop.

Runs inside `cartwright serve` (unless `--no-worker`) or alone as `cartwright worker`.
Any number may run at once: each job takes its rows with a lease or a guarded update.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog

from cartwright.cart import service as cart
from cartwright.checkout import service as checkout
from cartwright.idempotency import service as idempotency
from cartwright.inventory import service as inventory
from cartwright.kit import metrics
from cartwright.notifications import service as notifications
from cartwright.orders import lifecycle_actions, payment_actions
from cartwright.payments import service as payments
from cartwright.platform import Platform
from cartwright.webhooks import delivery as webhook_delivery
from cartwright.webhooks import dispatcher as webhook_dispatcher
from cartwright.webhooks import service as webhooks

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


async def _count_unknown_payments(p: Platform) -> int:
    """The unknown-payments gauges (database-wide: whichever process wrote last is right)."""
    async with p.db.connection() as conn:
        count, age_s = await payments.unknown_payments(conn)
    metrics.payments_unknown.set(count)
    metrics.payments_unknown_age.set(age_s)
    return 0


async def _dispatch_webhooks(p: Platform) -> int:
    return await webhook_dispatcher.dispatch(p.db)


async def _send_webhooks(p: Platform) -> int:
    """Starts the due posts and returns (they run on while the worker polls again)."""
    return await p.webhooks().send_due()


async def _webhook_gauges(p: Platform) -> int:
    return await webhook_delivery.refresh_gauges(p.db)


async def _relay_events(p: Platform) -> int:
    """The outbox relay, when CARTWRIGHT_BROKER_URL is set (docs/events.md)."""
    return await p.relay().run()


async def _watch_low_stock(p: Platform) -> int:
    return await inventory.watch_low_stock(p.db, default_threshold=p.settings.low_stock_threshold)


async def _purge_webhook_log(p: Platform) -> int:
    purged = 0
    for _ in range(CART_PURGE_BATCHES):
        async with p.db.transaction() as conn:
            deleted = await webhooks.purge_delivery_log(
                conn, retention_days=p.settings.webhook_log_retention_days
            )
        purged += deleted
        if deleted < webhooks.PURGE_BATCH:
            break
    return purged


async def _order_mail(p: Platform) -> int:
    return await p.consumer(notifications.ORDER_MAIL_CONSUMER).run_once()


async def _stock_alerts(p: Platform) -> int:
    return await p.consumer(notifications.STOCK_ALERTS_CONSUMER).run_once()


async def _send_notifications(p: Platform) -> int:
    return await notifications.send_queued(p.db, p.notifier)


JOBS: tuple[tuple[str, Callable[[Platform], Awaitable[int]], int], ...] = (
    # (name, job, run every N polls)
    ("payment_recovery", checkout.recover_due, 1),
    ("payment_operations", payment_actions.settle_due, 1),
    ("order_lifecycle", lifecycle_actions.finish_due, 1),
    ("idempotency_purge", _purge_idempotency_keys, 600),
    ("cart_purge", _purge_abandoned_carts, 600),
    ("webhook_log_purge", _purge_webhook_log, 600),
    ("payment_gauges", _count_unknown_payments, 5),
    ("webhook_dispatch", _dispatch_webhooks, 1),
    ("webhook_sender", _send_webhooks, 1),
    ("webhook_gauges", _webhook_gauges, 5),
    ("low_stock", _watch_low_stock, 2),
    ("event_relay", _relay_events, 1),
    ("order_mail", _order_mail, 1),
    ("stock_alerts", _stock_alerts, 2),
    ("notification_sender", _send_notifications, 1),
)


async def run_once(p: Platform, tick: int = 0) -> int:
    done = 0
    for name, job, every in JOBS:
        if tick % every:
            continue
        try:
            done += await job(p)
        except Exception:  # a failing job must not stop the others; it runs again next poll
            metrics.worker_runs.labels(name, "error").inc()
            log.exception("worker job failed", job=name)
        else:
            metrics.worker_runs.labels(name, "ok").inc()
            metrics.worker_last_run.labels(name).set(time.time())
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
