"""Rate limits counted in Redis (shared by every process) or in memory (one process).

A thin layer over the `limits` library's async sliding-window counter. A limit is written
`<count>/<second|minute|hour>` (settings) or built from a count and a window in seconds.
When the counting backend fails (Redis unreachable, slow), the limiter fails open: the
request goes on, a warning is logged (at most every few seconds) and a metric counts it.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from cartwright.kit import metrics

log = structlog.get_logger("cartwright.ratelimit")

_RATE = re.compile(r"^\s*([1-9][0-9]{0,8})\s*/\s*(second|minute|hour)\s*$")
_WINDOWS = {"second": 1, "minute": 60, "hour": 3600}
# A counting call that takes longer than this fails open: a limit must never slow or
# stop the API when its backend does.
BACKEND_TIMEOUT_S = 0.25
_WARN_EVERY_S = 10.0


class InvalidRate(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` requests per `window_s` seconds, named for the RateLimit-Policy header."""

    count: int
    window_s: int
    name: str

    @property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.count, self.window_s, namespace=self.name)

    def policy_header(self) -> str:
        # draft-ietf-httpapi-ratelimit-headers: a structured-field list of policies.
        return f'"{self.name}";q={self.count};w={self.window_s}'


def parse_rate(value: str, name: str) -> Rate:
    """`<count>/<second|minute|hour>`, e.g. `1000/second`; InvalidRate otherwise."""
    match = _RATE.match(value)
    if match is None:
        raise InvalidRate(
            f"{value!r} is not a rate; write <count>/<second|minute|hour>, e.g. 1000/second"
        )
    return Rate(int(match.group(1)), _WINDOWS[match.group(2)], name)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rate: Rate
    remaining: int
    # Seconds until one more request would be allowed (at least 1), for Retry-After.
    reset_after_s: int

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("RateLimit-Policy", self.rate.policy_header()),
            ("RateLimit", f'"{self.rate.name}";r={self.remaining};t={self.reset_after_s}'),
        ]


def storage_for(redis_url: str | None) -> Storage:
    if not redis_url:
        return MemoryStorage()
    # `limits` takes `async+redis://…`; the setting is the ordinary `redis://…` URL.
    uri = redis_url if redis_url.startswith("async+") else "async+" + redis_url
    return RedisStorage(
        uri,
        wrap_exceptions=True,
        key_prefix="cartwright",
        stream_timeout=BACKEND_TIMEOUT_S,
        connect_timeout=BACKEND_TIMEOUT_S,
    )


class Limiter:
    """Counts hits per key under a `Rate`. One per process (`Platform.limiter`)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        # In memory a hit and the window's count are exact and cost nothing; in Redis
        # the count is read in the same round trip as the hit (concurrently), so
        # `remaining` may not yet include requests in flight.
        self._exact = isinstance(storage, MemoryStorage)
        self._last_warning = -math.inf

    @property
    def backend(self) -> str:
        return "memory" if self._exact else "redis"

    async def hit(self, rate: Rate, key: str) -> Decision | None:
        """Count one request; None when the backend failed (the request goes on)."""
        item = rate.item
        try:
            async with asyncio.timeout(BACKEND_TIMEOUT_S * 2):
                if self._exact:
                    allowed = await self._strategy.hit(item, key)
                    stats = await self._strategy.get_window_stats(item, key)
                else:
                    allowed, stats = await asyncio.gather(
                        self._strategy.hit(item, key),
                        self._strategy.get_window_stats(item, key),
                    )
        except Exception as exc:  # noqa: BLE001 - any backend failure fails open
            self._failed_open(exc)
            return None
        remaining = max(0, stats.remaining - (0 if self._exact or not allowed else 1))
        if allowed:
            reset = max(1, math.ceil(stats.reset_time - time.time()))
        else:
            reset = self._retry_after(rate, stats.reset_time)
        return Decision(allowed, rate, remaining, reset)

    async def test(self, rate: Rate, key: str) -> bool:
        """Whether one more hit would be allowed, without counting it (fails open)."""
        try:
            async with asyncio.timeout(BACKEND_TIMEOUT_S * 2):
                return await self._strategy.test(rate.item, key)
        except Exception as exc:  # noqa: BLE001 - any backend failure fails open
            self._failed_open(exc)
            return True

    @staticmethod
    def _retry_after(rate: Rate, reset_time: float) -> int:
        wait = reset_time - time.time()
        if not math.isfinite(wait) or wait <= 0:
            wait = rate.window_s
        return max(1, min(rate.window_s, math.ceil(wait)))

    def _failed_open(self, exc: BaseException) -> None:
        metrics.rate_limiter_failures.inc()
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            log.warning("rate limiter backend failed; requests are not limited", error=repr(exc))
