"""What one sandbox server is configured with, and the faults it injects.

`Faults` can change while the server runs (`PUT /_sandbox/settings`), so a test can start
and end an outage in the middle of a load; everything else is fixed at start.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any


class InvalidSettings(ValueError):
    """A value the sandbox cannot run with (a rate outside 0..1, a negative delay)."""


@dataclass(slots=True)
class Faults:
    latency_ms: int = 0  # added before every answer of the wire API
    error_rate: float = 0.0  # share of requests answered 503 before anything is done
    timeout_rate: float = 0.0  # share answered after `slow_response_s`, having acted
    # How late a `tok_timeout` (or a `timeout_rate`) answer comes: longer than the
    # merchant's timeout, so it sees one.
    slow_response_s: float = 7.0
    webhook_duplicate_rate: float = 0.0  # share of webhook events delivered twice
    webhook_reorder_rate: float = 0.0  # share held back, so later events overtake them
    webhook_reorder_delay_s: float = 2.0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        for name in (
            "error_rate",
            "timeout_rate",
            "webhook_duplicate_rate",
            "webhook_reorder_rate",
        ):
            _share(name, getattr(self, name))
        if self.latency_ms < 0 or self.slow_response_s < 0 or self.webhook_reorder_delay_s < 0:
            raise InvalidSettings("latency_ms and delays must not be negative")

    def happens(self, rate: float) -> bool:
        """Whether an event of probability `rate` happens this time (0 never, 1 always)."""
        return rate > 0 and (rate >= 1 or self._random.random() < rate)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes` (a subset of `as_dict()`), all or nothing."""
        known = self.as_dict()
        unknown = set(changes) - set(known)
        if unknown:
            raise InvalidSettings(f"unknown settings: {', '.join(sorted(unknown))}")
        candidate = Faults(**{**known, **changes})  # checks every value before any applies
        for name, value in candidate.as_dict().items():
            setattr(self, name, value)


def _share(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise InvalidSettings(f"{name} must be from 0 to 1")


@dataclass(slots=True)
class SandboxConfig:
    api_key: str = "sk_sandbox_test"
    # Where webhooks go (None: nowhere; the embedded sandbox posts into the platform).
    webhook_url: str | None = None
    webhook_secret: str = "whsec_sandbox_test"
    # The address shoppers reach this server at, for redirect pages.
    public_url: str = "http://127.0.0.1:8100"
    # First retry of a failed webhook delivery; doubled each attempt up to `webhook_retry_max_s`.
    webhook_retry_s: float = 1.0
    webhook_retry_max_s: float = 300.0
    faults: Faults = field(default_factory=Faults)
