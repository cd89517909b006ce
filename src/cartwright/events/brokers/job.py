"""The worker job `event_relay`: runs the outbox relay when `CARTWRIGHT_BROKER_URL` is set.

The broker adapter is made and connected on the first pass (never at start: a broker that is
down must not stop the process), reconnects on the pass after a failure (the relay backs off
meanwhile) and is closed when the platform stops. A run publishes pages of `PAGE` events
until the feed is drained or `BUDGET_S` has passed (so the relay keeps up with a busy
checkout instead of publishing one page per poll), then sets the backlog gauges.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field

import structlog

from cartwright.events import relay
from cartwright.events.brokers import Broker, from_url
from cartwright.kit import ids, metrics
from cartwright.kit.db import Database
from cartwright.kit.settings import Settings

log = structlog.get_logger("cartwright.events.relay")

PAGE = 500  # events read, sent and confirmed together
BUDGET_S = 2.0  # a run goes on publishing full pages for at most this long


def holder_name() -> str:
    """Who holds the relay's lease: this host and process, unique per start."""
    return f"{socket.gethostname()}:{os.getpid()}:{ids.new_id('relay')}"


@dataclass
class RelayJob:
    db: Database
    settings: Settings
    holder: str = field(default_factory=holder_name)
    _relay: relay.Relay | None = field(default=None, repr=False)
    _broker: Broker | None = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        return self.settings.broker_url is not None

    def _the_relay(self) -> relay.Relay:
        if self._relay is None:
            assert self.settings.broker_url is not None
            self._broker = from_url(self.settings.broker_url)
            self._relay = relay.Relay(
                self.db,
                self._broker,
                holder=self.holder,
                batch=PAGE,
                source=self.settings.event_source,
                schema_base_url=self.settings.event_schema_base_url,
            )
        return self._relay

    async def run(self) -> int:
        """Passes until the feed is drained or the budget is spent (events published; 0
        without a broker). A broker failure is counted, logged and raised (the worker counts
        the job's error; the relay backs off)."""
        if not self.enabled:
            return 0
        the_relay = self._the_relay()
        name = the_relay.publisher.name
        published = 0
        deadline = time.monotonic() + BUDGET_S
        try:
            while True:
                page = await the_relay.run_once()
                published += page
                if page < the_relay.batch or time.monotonic() >= deadline:
                    break
        except Exception:
            if published:
                metrics.events_published.labels(name).inc(published)
            metrics.event_relay_errors.labels(name).inc()
            log.warning("event relay: broker failed", broker=name, failures=the_relay.failures)
            raise
        finally:
            count, age_s = await relay.backlog(self.db)
            metrics.outbox_backlog.set(count)
            metrics.outbox_oldest_unpublished.set(age_s)
        if published:
            metrics.events_published.labels(name).inc(published)
        return published

    async def close(self) -> None:
        broker, self._broker, self._relay = self._broker, None, None
        if broker is not None:
            await broker.close()
