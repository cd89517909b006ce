"""The built-in fraud rules: pure functions from what a checkout shows to points and
reasons, and from a score to a decision (ADR 0024). No I/O here: the velocity counts, the
denylist and the external provider's answer are read by `risk.service` and handed in.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# The contract's test hooks (like the sandbox's test tokens): a cart whose email ends so
# is rejected, or sent to review, whatever else it shows.
REJECT_HOOK = "@risk-reject.test"
REVIEW_HOOK = "@risk-review.test"


class Decision(StrEnum):
    ACCEPT = "accept"
    REVIEW = "review"
    REJECT = "reject"


class FailureMode(StrEnum):
    """What the screening decides when the external fraud service cannot answer."""

    OPEN = "open"  # the built-in rules alone; recorded `fraud_fallback: fail_open`
    CLOSED = "closed"  # at least review; recorded `fraud_fallback: fail_closed`


class DenyKind(StrEnum):
    EMAIL = "email"
    EMAIL_DOMAIN = "email_domain"
    ADDRESS = "address"  # a client IP address
    FINGERPRINT = "fingerprint"


class VelocityKind(StrEnum):
    EMAIL = "email"
    ADDRESS = "address"
    FINGERPRINT = "fingerprint"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    points: int
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "points": self.points, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Thresholds:
    review: int
    reject: int

    def decide(self, score: int) -> Decision:
        if score >= self.reject:
            return Decision.REJECT
        if score >= self.review:
            return Decision.REVIEW
        return Decision.ACCEPT


@dataclass(frozen=True, slots=True)
class Points:
    velocity: int = 50
    amount_review: int = 50
    amount_reject: int = 100
    country_mismatch: int = 20


@dataclass(frozen=True, slots=True)
class Signals:
    """What one checkout shows the rules."""

    email: str | None
    currency: str
    amount: int  # minor units
    billing_country: str | None
    shipping_country: str | None
    # The client address, only when it may be counted (`countable_address`).
    client_address: str | None = None
    ip_country: str | None = None  # from the geo lookup seam; None without one
    card_fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    score: int
    decision: Decision
    reasons: tuple[Reason, ...]
    fraud_fallback: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "score": self.score,
            "decision": self.decision.value,
            "reasons": [r.as_json() for r in self.reasons],
        }
        if self.fraud_fallback is not None:
            doc["fraud_fallback"] = self.fraud_fallback
        return doc


def normalize_email(email: str | None) -> str | None:
    return email.strip().lower() if email and email.strip() else None


def email_domain(email: str | None) -> str | None:
    email = normalize_email(email)
    if email is None or "@" not in email:
        return None
    return email.rsplit("@", 1)[1] or None


def countable_address(address: str | None, vouched: bool) -> str | None:
    """The client address when velocity may count it: a public (global) address that a
    trusted proxy vouched for. A loopback, private or link-local address, or the TCP peer
    itself (no trusted proxy in front), is never counted: one machine or one NAT, or a
    misconfigured proxy, must not make every shopper one address."""
    if address is None or not vouched:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    return str(parsed) if parsed.is_global else None


def card_fingerprint(token: str) -> str | None:
    """A stable fingerprint of the card behind a payment token, when the token names one.
    Single-use tokens (`tok_…`, which the sandbox's test tokens all are) name no card
    reusably: none. A reusable payment method id (`pm_…`, a stored-card reference) stands
    for one card: its digest is the fingerprint."""
    token = token.strip()
    if not token or token.startswith("tok_"):
        return None
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def hook_reasons(email: str | None, thresholds: Thresholds) -> list[Reason]:
    email = normalize_email(email) or ""
    if email.endswith(REJECT_HOOK):
        return [Reason("test_reject", thresholds.reject, f"email ends in {REJECT_HOOK}")]
    if email.endswith(REVIEW_HOOK):
        return [Reason("test_review", thresholds.review, f"email ends in {REVIEW_HOOK}")]
    return []


def amount_reasons(
    amount: int, currency: str, limits: Mapping[str, tuple[int, int]], points: Points
) -> list[Reason]:
    limit = limits.get(currency.upper())
    if limit is None:
        return []
    review_from, reject_from = limit
    if amount >= reject_from:
        return [
            Reason(
                "amount_very_high",
                points.amount_reject,
                f"{amount} {currency} (minor units) is at least {reject_from}",
            )
        ]
    if amount >= review_from:
        return [
            Reason(
                "amount_high",
                points.amount_review,
                f"{amount} {currency} (minor units) is at least {review_from}",
            )
        ]
    return []


def country_reasons(signals: Signals, points: Points) -> list[Reason]:
    reasons = []
    billing = (signals.billing_country or "").upper() or None
    shipping = (signals.shipping_country or "").upper() or None
    if billing and shipping and billing != shipping:
        reasons.append(
            Reason(
                "billing_shipping_mismatch",
                points.country_mismatch,
                f"billing country {billing}, shipping country {shipping}",
            )
        )
    ip = (signals.ip_country or "").upper() or None
    against = billing or shipping
    if ip and against and ip != against:
        reasons.append(
            Reason(
                "ip_country_mismatch",
                points.country_mismatch,
                f"client address in {ip}, {'billing' if billing else 'shipping'} in {against}",
            )
        )
    return reasons


def velocity_reasons(over: Iterable[tuple[VelocityKind, int]], points: Points) -> list[Reason]:
    """`over`: each velocity key whose count went past its limit, with that limit."""
    return [
        Reason(
            f"velocity_{kind.value}",
            points.velocity,
            f"more than {limit} checkouts by this {kind.value} in the window",
        )
        for kind, limit in over
    ]


def denylist_reasons(
    signals: Signals, denied: Mapping[DenyKind, frozenset[str]], reject_points: int
) -> list[Reason]:
    checks = (
        (DenyKind.EMAIL, normalize_email(signals.email)),
        (DenyKind.EMAIL_DOMAIN, email_domain(signals.email)),
        (DenyKind.ADDRESS, signals.client_address),
        (DenyKind.FINGERPRINT, signals.card_fingerprint),
    )
    return [
        Reason(f"denylist_{kind.value}", reject_points, f"the {kind.value} is on the denylist")
        for kind, value in checks
        if value is not None and value in denied.get(kind, frozenset())
    ]


def verdict(
    reasons: Sequence[Reason],
    thresholds: Thresholds,
    *,
    provider_score: int | None = None,
    at_least: Decision | None = None,
    fraud_fallback: str | None = None,
) -> Verdict:
    """The score is the sum of the built-in points, or the external provider's score (0 to
    100, scaled to the reject threshold) when higher; `at_least` raises the decision (a
    fail-closed fallback sends to review at least)."""
    score = sum(r.points for r in reasons)
    if provider_score is not None:
        score = max(score, provider_score)
    decision = thresholds.decide(score)
    order = list(Decision)
    if at_least is not None and order.index(at_least) > order.index(decision):
        decision = at_least
    return Verdict(score, decision, tuple(reasons), fraud_fallback)
