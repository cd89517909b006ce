"""Rate limits on the API, applied once the caller is known (`web.deps.caller`), before
the body is read or validated.

Publishable keys are limited per key and client address (a storefront's key is public:
every shopper holds it), secret keys per key (and only when CARTWRIGHT_RATE_LIMIT_SECRET
is set). Every limited answer, and every answer refused for the limit, carries the
`RateLimit-Policy` and `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers); a
refusal is 429 `rate_limited` with `Retry-After`.
"""

from __future__ import annotations

from cartwright.access.service import Principal
from cartwright.kit import context, metrics
from cartwright.kit.errors import RateLimited
from cartwright.kit.ratelimit import Decision
from cartwright.platform import Platform


def _publish(decision: Decision) -> None:
    info = context.current()
    if info is not None:
        info.response_headers.extend(
            (name.lower().encode(), value.encode()) for name, value in decision.headers()
        )


async def enforce(p: Platform, principal: Principal) -> None:
    """Count this request against the caller's limit; RateLimited when it is used up."""
    if principal.is_publishable:
        rate = p.publishable_rate
        info = context.current()
        address = info.client_address if info is not None else None
        key = f"pk:{principal.key_id}:{address or '-'}"
    else:
        if p.secret_rate is None:
            return
        rate = p.secret_rate
        key = f"sk:{principal.key_id}"
    decision = await p.limiter.hit(rate, key)
    if decision is None:  # the backend failed: fail open (logged and counted)
        return
    _publish(decision)
    if not decision.allowed:
        metrics.rate_limited.labels(rate.name).inc()
        raise RateLimited(
            f"Too many requests: this {rate.name} limit allows {rate.count} per"
            f" {rate.window_s} s; try again in {decision.reset_after_s} s.",
            retry_after_s=decision.reset_after_s,
        )


async def check_open_checkouts(p: Platform, principal: Principal) -> None:
    """Before a storefront's checkout reserves anything: refuse when this client address
    already left `open_checkouts_per_address` checkouts awaiting payment in the window."""
    address = _address()
    if address is None or not principal.is_publishable:
        return
    if not await p.limiter.test(p.open_checkouts_rate, f"open:{address}"):
        metrics.rate_limited.labels(p.open_checkouts_rate.name).inc()
        raise RateLimited(
            f"This address has {p.open_checkouts_rate.count} checkouts awaiting payment;"
            " complete or abandon one first.",
            retry_after_s=min(p.open_checkouts_rate.window_s, 60),
        )


async def count_open_checkout(p: Platform, principal: Principal) -> None:
    """A storefront's checkout was answered 202 (awaiting payment, holding stock)."""
    address = _address()
    if address is not None and principal.is_publishable:
        await p.limiter.hit(p.open_checkouts_rate, f"open:{address}")


def _address() -> str | None:
    info = context.current()
    return info.client_address if info is not None else None
