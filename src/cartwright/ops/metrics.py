"""Serving the platform's metrics (`kit.metrics`), from one process or many.

With `PROMETHEUS_MULTIPROC_DIR` set (`cartwright serve --workers N` sets one up and removes
it at exit), every process writes its values to files there and any process answers
`/metrics` with the sum; a process that stops marks its live gauges dead. The standalone
worker serves the same on `CARTWRIGHT_WORKER_METRICS_PORT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

from cartwright.kit import metrics
from cartwright.kit.db import Database

POOL_SAMPLE_INTERVAL_S = 5.0


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def registry() -> CollectorRegistry:
    """The registry to read: every process's files in multiprocess mode, else this one's."""
    if multiprocess_dir() is None:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
    return collected


def payload() -> bytes:
    return generate_latest(registry())


def sample_pools(*databases: Database) -> None:
    """Set the pool gauges from the pools of this process."""
    for db in databases:
        stats = db.pool_stats()
        if stats is None:
            continue
        in_use, open_, most = stats
        metrics.db_pool_in_use.labels(db.name).set(in_use)
        metrics.db_pool_open.labels(db.name).set(open_)
        metrics.db_pool_max.labels(db.name).set(most)


async def sample_pools_forever(stop: asyncio.Event, *databases: Database) -> None:
    while not stop.is_set():
        sample_pools(*databases)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=POOL_SAMPLE_INTERVAL_S)


def process_stopped() -> None:
    """This process's live gauges no longer count (multiprocess mode)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
