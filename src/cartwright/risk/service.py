"""Fraud screening: the built-in rules, the denylist and the external fraud service give a
score and a decision for a checkout before its payment provider is called (ADR 0024).

The screening adds no database round trip to a checkout: the denylist is read once per
`risk_denylist_ttl_s` per process (and at once in the process that changed it), and the
velocity counts live in the rate limiter's storage, Redis when `redis_url` is set (shared
by every process), else each process's memory (then a documented approximation: N
processes let N times the limit through). The external service, when one is configured,
is called through its `ExternalCall` guard; when it cannot answer the failure mode
decides (open: the built-in verdict, closed: review at least), recorded on the verdict.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from cartwright.audit import service as audit
from cartwright.kit import clock, context, ids, metrics
from cartwright.kit.db import Conn, Database, Row
from cartwright.kit.errors import ValidationFailed
from cartwright.kit.external import CallPolicy, ExternalCall, Unavailable
from cartwright.kit.ratelimit import Limiter, Rate
from cartwright.kit.settings import Settings
from cartwright.risk import repository
from cartwright.risk.errors import DenylistEntryNotFound
from cartwright.risk.providers import FraudProvider, ScreenRequest, SiftProvider
from cartwright.risk.rules import (
    Decision,
    DenyKind,
    FailureMode,
    Points,
    Reason,
    Signals,
    Thresholds,
    VelocityKind,
    Verdict,
    amount_reasons,
    card_fingerprint,
    countable_address,
    country_reasons,
    denylist_reasons,
    hook_reasons,
    normalize_email,
    velocity_reasons,
    verdict,
)

__all__ = [
    "Decision",
    "FailureMode",
    "Screener",
    "ScreenedCheckout",
    "Verdict",
    "add_entry",
    "delete_entry",
    "list_entries",
]

log = structlog.get_logger("cartwright.risk")

# Country of a client address, when a geo lookup is plugged in (none by default).
GeoLookup = Callable[[str], str | None]

for _decision in Decision:  # exported from 0
    metrics.risk_decisions.labels(_decision.value)


@dataclass(frozen=True, slots=True)
class ScreenedCheckout:
    """What the screening is shown of one checkout."""

    order_id: str
    customer_id: str | None
    email: str | None
    amount: int
    currency: str
    billing_country: str | None
    shipping_country: str | None
    token: str


class Denylist:
    """The denylist as this process last read it, read again once older than `ttl_s`."""

    def __init__(self, ttl_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._entries: dict[DenyKind, frozenset[str]] = {}
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._read_at = None

    def _fresh(self) -> bool:
        return self._read_at is not None and self._monotonic() - self._read_at < self._ttl_s

    async def entries(self, db: Database) -> Mapping[DenyKind, frozenset[str]]:
        if self._fresh():
            return self._entries
        async with self._lock:
            if not self._fresh():
                async with db.connection() as conn:
                    rows = await repository.all_entries(conn)
                grouped: dict[DenyKind, set[str]] = {}
                for row in rows:
                    grouped.setdefault(DenyKind(row["kind"]), set()).add(row["value"])
                self._entries = {kind: frozenset(values) for kind, values in grouped.items()}
                self._read_at = self._monotonic()
        return self._entries


def _key(kind: VelocityKind, value: str) -> str:
    # Digested: no email or card reference is written to Redis as it is.
    return f"risk:{kind.value}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


class Screener:
    """One per process (`Platform.screener`)."""

    def __init__(
        self,
        settings: Settings,
        limiter: Limiter,
        *,
        provider: FraudProvider | None = None,
        guard: ExternalCall | None = None,
        geo: GeoLookup | None = None,
        denylist: Denylist | None = None,
    ) -> None:
        if (provider is None) != (guard is None):
            raise ValueError("an external fraud provider is called through its guard")
        self.thresholds = Thresholds(settings.risk_review_score, settings.risk_reject_score)
        self.points = Points(
            velocity=settings.risk_velocity_points,
            amount_review=settings.risk_amount_review_points,
            amount_reject=settings.risk_amount_reject_points,
            country_mismatch=settings.risk_country_mismatch_points,
        )
        self.amount_limits = settings.risk_amount_limits()
        window = settings.risk_velocity_window_s
        self.velocity: dict[VelocityKind, Rate] = {
            kind: Rate(limit, window, f"risk-velocity-{kind.value}")
            for kind, limit in (
                (VelocityKind.EMAIL, settings.risk_velocity_email),
                (VelocityKind.ADDRESS, settings.risk_velocity_address),
                (VelocityKind.FINGERPRINT, settings.risk_velocity_fingerprint),
            )
            if limit > 0
        }
        self.limiter = limiter
        self.provider = provider
        self.guard = guard
        self.geo = geo
        self.denylist = denylist or Denylist(settings.risk_denylist_ttl_s)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        limiter: Limiter,
        *,
        switch: Callable[[], bool] | None = None,
        geo: GeoLookup | None = None,
    ) -> Screener:
        """The screener the settings describe; `switch` is the `fraud.external` kill
        switch (a feature flag), built at the composition root."""
        provider: FraudProvider | None = None
        guard = None
        if settings.risk_provider == "sift" and settings.risk_sift_api_key is not None:
            provider = SiftProvider(
                settings.risk_sift_api_key.get_secret_value(), settings.risk_sift_url
            )
        if provider is not None:
            guard = ExternalCall(
                "fraud",
                provider.name,
                CallPolicy(timeout_s=settings.risk_provider_timeout_s),
                switch=switch,
            )
        return cls(settings, limiter, provider=provider, guard=guard, geo=geo)

    async def aclose(self) -> None:
        if self.provider is not None:
            await self.provider.aclose()

    async def screen(
        self, db: Database, checkout: ScreenedCheckout, *, failure_mode: FailureMode
    ) -> Verdict:
        """Score a checkout and decide. Never raises for the external service: its
        failure is the failure mode's fallback, recorded on the verdict."""
        info = context.current()
        address = countable_address(
            info.client_address if info is not None else None,
            info.client_address_vouched if info is not None else False,
        )
        signals = Signals(
            email=checkout.email,
            currency=checkout.currency,
            amount=checkout.amount,
            billing_country=checkout.billing_country,
            shipping_country=checkout.shipping_country,
            client_address=address,
            ip_country=self.geo(address) if self.geo is not None and address else None,
            card_fingerprint=card_fingerprint(checkout.token),
        )
        reasons: list[Reason] = hook_reasons(checkout.email, self.thresholds)
        denied, over = await asyncio.gather(self.denylist.entries(db), self._velocity(signals))
        reasons += denylist_reasons(signals, denied, self.thresholds.reject)
        reasons += velocity_reasons(over, self.points)
        reasons += amount_reasons(
            checkout.amount, checkout.currency, self.amount_limits, self.points
        )
        reasons += country_reasons(signals, self.points)
        result = await self._with_provider(checkout, signals, reasons, failure_mode)
        metrics.risk_decisions.labels(result.decision.value).inc()
        if result.decision is not Decision.ACCEPT:
            log.info(
                "checkout screened",
                order_id=checkout.order_id,
                decision=result.decision.value,
                score=result.score,
                reasons=[r.code for r in result.reasons],
            )
        return result

    async def _velocity(self, signals: Signals) -> list[tuple[VelocityKind, int]]:
        values = {
            VelocityKind.EMAIL: normalize_email(signals.email),
            VelocityKind.ADDRESS: signals.client_address,
            VelocityKind.FINGERPRINT: signals.card_fingerprint,
        }
        counted = [
            (kind, rate, value)
            for kind, rate in self.velocity.items()
            if (value := values[kind]) is not None
        ]
        decisions = await asyncio.gather(
            *(self.limiter.hit(rate, _key(kind, value)) for kind, rate, value in counted)
        )
        # A limiter whose backend failed answers None: fail open (not counted as over).
        return [
            (kind, rate.count)
            for (kind, rate, _), decided in zip(counted, decisions, strict=True)
            if decided is not None and not decided.allowed
        ]

    async def _with_provider(
        self,
        checkout: ScreenedCheckout,
        signals: Signals,
        reasons: list[Reason],
        failure_mode: FailureMode,
    ) -> Verdict:
        if self.provider is None or self.guard is None:
            return verdict(reasons, self.thresholds)
        provider, request = self.provider, _request(checkout, signals)
        try:
            answer = await self.guard.call(lambda: provider.score(request))
        except Unavailable as why:
            fallback = f"fail_{failure_mode.value}"
            self.guard.fallback(fallback)
            log.warning(
                "fraud provider unavailable; screening with the built-in rules",
                provider=provider.name,
                reason=why.reason.value,
                fallback=fallback,
            )
            reasons = [
                *reasons,
                Reason("provider_unavailable", 0, f"{provider.name}: {why.reason.value}"),
            ]
            at_least = Decision.REVIEW if failure_mode is FailureMode.CLOSED else None
            return verdict(reasons, self.thresholds, at_least=at_least, fraud_fallback=fallback)
        # The provider's 0-100 on our scale: 100 is our reject threshold.
        scaled = round(answer.score * self.thresholds.reject / 100)
        reasons = [
            *reasons,
            *(Reason(f"{provider.name}_reason", 0, text) for text in answer.reasons),
            Reason(f"{provider.name}_score", 0, f"{provider.name} scored {answer.score}/100"),
        ]
        return verdict(reasons, self.thresholds, provider_score=scaled)


def _request(checkout: ScreenedCheckout, signals: Signals) -> ScreenRequest:
    return ScreenRequest(
        order_id=checkout.order_id,
        user_id=checkout.customer_id or normalize_email(checkout.email) or checkout.order_id,
        email=checkout.email,
        amount=checkout.amount,
        currency=checkout.currency,
        client_address=signals.client_address,
        billing_country=checkout.billing_country,
        shipping_country=checkout.shipping_country,
    )


# ------------------------------------------------------------------------------ denylist


def normalize_entry(kind: DenyKind, value: str) -> str:
    """The value as the rules compare it; ValidationFailed when it cannot be one."""
    value = value.strip()
    match kind:
        case DenyKind.EMAIL:
            email = normalize_email(value)
            if email is None or "@" not in email:
                raise ValidationFailed("An email entry needs an email address.")
            return email
        case DenyKind.EMAIL_DOMAIN:
            domain = value.lower().lstrip("@")
            if not domain or "@" in domain or "." not in domain:
                raise ValidationFailed("An email_domain entry is a domain, e.g. example.com.")
            return domain
        case DenyKind.ADDRESS:
            try:
                return str(ipaddress.ip_address(value))
            except ValueError:
                raise ValidationFailed("An address entry is one IP address.") from None
        case DenyKind.FINGERPRINT:
            return value
    raise AssertionError(kind)  # pragma: no cover - every kind is matched


def present_entry(row: Row | Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "risk_denylist_entry",
        "kind": row["kind"],
        "value": row["value"],
        "note": row["note"],
        "created_at": clock.isoformat(row["created_at"]),
    }


async def add_entry(
    conn: Conn, *, kind: DenyKind, value: str, note: str | None
) -> tuple[int, dict[str, Any]]:
    """201 with the new entry, or 200 with the one already listed (audited when new).
    The caller invalidates its screener's denylist once the transaction committed."""
    normalized = normalize_entry(kind, value)
    entry_id = ids.new_id("rdl")
    row = await repository.insert_entry(conn, entry_id, kind, normalized, note, clock.utcnow())
    if row is None:
        existing = await repository.entry_of(conn, kind, normalized)
        assert existing is not None  # ON CONFLICT: it is there
        return 200, present_entry(existing)
    await audit.record(conn, "risk.denylist_added", "risk_denylist", entry_id, {"kind": kind.value})
    return 201, present_entry(row)


async def delete_entry(conn: Conn, entry_id: str) -> dict[str, Any]:
    row = await repository.delete_entry(conn, entry_id)
    if row is None:
        raise DenylistEntryNotFound(f"No denylist entry {entry_id}.")
    await audit.record(
        conn, "risk.denylist_removed", "risk_denylist", entry_id, {"kind": row["kind"]}
    )
    return present_entry(row)


async def list_entries(conn: Conn, *, limit: int, starting_after: str | None) -> dict[str, Any]:
    rows = await repository.list_entries(conn, starting_after=starting_after, limit=limit + 1)
    return {"data": [present_entry(r) for r in rows[:limit]], "has_more": len(rows) > limit}
