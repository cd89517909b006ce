"""FastAPI dependencies: the platform, the caller (key and signed-in customer), pagination."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.channels import service as channels
from cartwright.channels.service import DEFAULT_CHANNEL
from cartwright.customers import service as customers
from cartwright.customers.errors import CustomerTokenRequired
from cartwright.customers.service import Customer
from cartwright.customers.tokens import CUSTOMER_TOKEN_HEADER
from cartwright.kit import context
from cartwright.kit.errors import Forbidden, ValidationFailed
from cartwright.kit.viewer import Viewer
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
        info.actor_key_id, info.actor_kind = principal.actor
    await ratelimit.enforce(p, principal)
    return principal


def requires(scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
    async def check(request: Request) -> Principal:
        principal = await caller(request)
        principal.require(scope)
        return principal

    return check


@dataclass(frozen=True, slots=True)
class Shopper:
    """The key a request carries and, when it sends a valid customer token, the
    signed-in customer it acts for."""

    principal: Principal
    customer: Customer | None
    channel: str = DEFAULT_CHANNEL

    @property
    def customer_id(self) -> str | None:
        return None if self.customer is None else self.customer.id

    @property
    def viewer(self) -> Viewer:
        return Viewer(
            self.customer_id, sees_all=not self.principal.is_publishable, channel=self.channel
        )


async def signed_in(request: Request) -> Customer | None:
    """The customer of the `Cartwright-Customer-Token` header (401 if it does not verify),
    None without one. Checked after the key, before the body."""
    token = request.headers.get(CUSTOMER_TOKEN_HEADER)
    if token is None:
        return None
    p = platform(request)
    claims = await p.customer_tokens.verify(token)
    async with p.db.connection() as conn:
        found = await customers.find(conn, claims)
    if found is None:
        async with p.db.transaction() as conn:
            found = await customers.sign_in(conn, claims)
    # Stored idempotent answers belong to the key and the customer together (web.idempotent).
    request.state.customer_id = found.id
    return found


CHANNEL_HEADER = "Cartwright-Channel"


async def channel_of(request: Request, principal: Principal) -> str:
    """The channel a request sells in: a publishable key's own (a header naming another is
    403), or for a secret key the `Cartwright-Channel` header (422 if no channel has that
    code), else the default channel. A cached lookup: no query on the hot path."""
    asked = request.headers.get(CHANNEL_HEADER)
    if asked is None or asked == principal.channel:
        return principal.channel
    if principal.is_publishable:
        raise Forbidden(f"This publishable key sells only in the channel {principal.channel!r}.")
    async with platform(request).db.connection() as conn:
        found = await channels.find(conn, asked)
    if found is None:
        raise ValidationFailed.field(CHANNEL_HEADER, f"no channel has the code {asked!r}")
    return found.code


def shopper(scope: Scope | None = None) -> Callable[[Request], Awaitable[Shopper]]:
    """The caller's key (holding `scope`, when given) and the signed-in customer, if any."""

    async def resolve(request: Request) -> Shopper:
        principal = await caller(request)
        if scope is not None:
            principal.require(scope)
        channel = await channel_of(request, principal)
        return Shopper(principal, await signed_in(request), channel)

    return resolve


def customer_shopper(scope: Scope | None = None) -> Callable[[Request], Awaitable[Shopper]]:
    """Like `shopper()`, for routes about the signed-in customer: 401 without a token."""

    async def resolve(request: Request) -> Shopper:
        principal = await caller(request)
        if scope is not None:
            principal.require(scope)
        customer = await signed_in(request)
        if customer is None:
            raise CustomerTokenRequired(
                "Send the signed-in customer's token as `Cartwright-Customer-Token`."
            )
        return Shopper(principal, customer, await channel_of(request, principal))

    return resolve


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
