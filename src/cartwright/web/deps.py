"""FastAPI dependencies: the platform, the caller, pagination."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.kit import context
from cartwright.kit.errors import ValidationFailed
from cartwright.platform import Platform
from cartwright.web import ratelimit


def platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


async def caller(request: Request) -> Principal:
    """The authenticated caller, counted against its rate limit (before any body is read)."""
    p = platform(request)
    principal = await p.keys.authenticate(request.headers.get("authorization"))
    request.state.principal = principal
    info = context.current()
    if info is not None:
        info.actor_key_id = principal.key_id
    await ratelimit.enforce(p, principal)
    return principal


def requires(scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
    async def check(request: Request) -> Principal:
        principal = await caller(request)
        principal.require(scope)
        return principal

    return check


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    starting_after: str | None


def page(request: Request) -> Page:
    params = request.query_params
    raw_limit = params.get("limit", "20")
    try:
        limit = int(raw_limit)
    except ValueError:
        raise ValidationFailed.field("limit", "must be an integer from 1 to 100") from None
    if not 1 <= limit <= 100:
        raise ValidationFailed.field("limit", "must be an integer from 1 to 100")
    starting_after = params.get("starting_after") or None
    if starting_after is not None and len(starting_after) > 64:
        raise ValidationFailed.field("starting_after", "is not an id")
    return Page(limit, starting_after)
