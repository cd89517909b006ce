"""Customer tokens: JWTs from the merchant's OpenID Connect provider, verified with PyJWT.

A token is accepted only when all of this holds:
- its header names `alg` RS256 or ES256 (never `none`, never an HMAC: a verifier that took
  HS256 could be fooled with the public key as the shared secret) and a `kid`;
- the key of that `kid` in the provider's JWKS is of the matching type (RSA for RS256, EC
  P-256 for ES256) and, if the JWK names an `alg`, the same one;
- the signature verifies, `iss` and `aud` are the configured ones, `exp` is in the future
  and `nbf` (if present) in the past, within `customer_clock_skew_s`; `sub` is present.

Keys are cached for `ttl_s`. A `kid` not in the cache triggers a refetch (the provider
rotated its keys), at most once per `refetch_interval_s`, and concurrent requests share
one fetch in flight. When the JWKS cannot be fetched, the keys fetched before stay in use;
with none, every token is refused (401) and guests are unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import orjson
import structlog

from cartwright.kit.errors import Unauthenticated
from cartwright.kit.settings import Settings

log = structlog.get_logger("cartwright.customers.tokens")

CUSTOMER_TOKEN_HEADER = "cartwright-customer-token"
# Each accepted `alg` and the key type (and curve) it must be verified with.
ALGORITHMS: dict[str, tuple[str, str | None]] = {"RS256": ("RSA", None), "ES256": ("EC", "P-256")}
MAX_TOKEN_LENGTH = 8192
MAX_JWKS_BYTES = 256 * 1024
MAX_SUBJECT_LENGTH = 255
MAX_EMAIL_LENGTH = 320


@dataclass(frozen=True, slots=True)
class CustomerClaims:
    """Who a verified token names: the customer is (issuer, subject)."""

    issuer: str
    subject: str
    email: str | None


class _Refused(Exception):
    """Why a token is not accepted (logged, never shown: the client sees one 401)."""


def _refused(detail: str = "The customer token is not valid.") -> Unauthenticated:
    return Unauthenticated(detail)


@dataclass(frozen=True, slots=True)
class _Key:
    kty: str
    crv: str | None
    alg: str | None
    key: Any  # the cryptography public key PyJWT verifies with


def _parse_jwks(document: Any) -> dict[str, _Key]:
    """Usable signing keys by `kid`; keys of other types, uses or shapes are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set")
    keys: dict[str, _Key] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict):
            continue
        kid, kty = jwk.get("kid"), jwk.get("kty")
        if not isinstance(kid, str) or kty not in ("RSA", "EC"):
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        alg = jwk.get("alg")
        if alg is not None and alg not in ALGORITHMS:
            continue
        try:
            parsed = jwt.PyJWK(jwk)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            continue
        keys[kid] = _Key(kty, jwk.get("crv"), alg, parsed.key)
    return keys


class JwksCache:
    """The provider's keys, fetched with httpx (timeout, size limit, no redirects)."""

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float,
        refetch_interval_s: float,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._ttl_s = ttl_s
        self._refetch_interval_s = refetch_interval_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._keys: dict[str, _Key] = {}
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._in_flight: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.fetches = 0  # how many fetches were started (for tests and metrics)

    async def key(self, kid: str) -> _Key | None:
        now = self._clock()
        expired = now - self._fetched_at >= self._ttl_s
        if (expired or kid not in self._keys) and self._may_fetch(now):
            await self._refresh()
        return self._keys.get(kid)

    def _may_fetch(self, now: float) -> bool:
        # A fetch is in flight (join it), or the last attempt is long enough ago.
        return self._in_flight is not None or now - self._attempted_at >= self._refetch_interval_s

    async def _refresh(self) -> None:
        if self._in_flight is None:
            self._attempted_at = self._clock()
            self.fetches += 1
            task = asyncio.create_task(self._fetch())
            self._in_flight = task
            task.add_done_callback(self._landed)
        # Shielded: a caller that gives up (its request was canceled) does not cancel the
        # fetch the others wait for.
        with contextlib.suppress(Exception):
            await asyncio.shield(self._in_flight)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._in_flight = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("customer JWKS fetch failed", url=self._url, error=repr(task.exception()))

    async def _fetch(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False)
        async with self._client.stream("GET", self._url) as response:
            if response.status_code != 200:
                raise RuntimeError(f"JWKS answered {response.status_code}")
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise RuntimeError("JWKS document too large")
        keys = _parse_jwks(orjson.loads(body))
        self._keys = keys
        self._fetched_at = self._clock()

    async def close(self) -> None:
        if self._in_flight is not None:
            self._in_flight.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class CustomerTokens:
    """Verifies `Cartwright-Customer-Token` headers; without a JWKS URL it refuses all."""

    def __init__(
        self,
        jwks: JwksCache | None,
        *,
        issuer: str | None,
        audience: str | None,
        leeway_s: float,
    ) -> None:
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._leeway_s = leeway_s

    @classmethod
    def from_settings(cls, settings: Settings) -> CustomerTokens:
        jwks = None
        if settings.customer_jwks_url:
            jwks = JwksCache(
                settings.customer_jwks_url,
                ttl_s=settings.customer_jwks_ttl_s,
                refetch_interval_s=settings.customer_jwks_refetch_interval_s,
                timeout_s=settings.customer_jwks_timeout_s,
            )
        return cls(
            jwks,
            issuer=settings.customer_issuer,
            audience=settings.customer_audience,
            leeway_s=settings.customer_clock_skew_s,
        )

    @property
    def jwks(self) -> JwksCache | None:
        return self._jwks

    async def verify(self, token: str) -> CustomerClaims:
        """The token's claims, or `Unauthenticated` (401) for any failed check."""
        if self._jwks is None or not self._issuer or not self._audience:
            raise _refused("Customer sign-in is not configured on this platform.")
        try:
            return await self._verify(self._jwks, self._issuer, self._audience, token)
        except _Refused as why:
            log.info("customer token refused", reason=str(why))
            raise _refused() from None

    async def _verify(
        self, jwks: JwksCache, issuer: str, audience: str, token: str
    ) -> CustomerClaims:
        token = token.strip()
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise _Refused("empty or oversized token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _Refused(f"malformed: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise _Refused(f"algorithm {alg!r} is not accepted")
        if not isinstance(kid, str) or not kid:
            raise _Refused("no kid")
        key = await jwks.key(kid)
        if key is None:
            raise _Refused(f"unknown kid {kid!r}")
        kty, crv = ALGORITHMS[alg]
        if key.kty != kty or (crv is not None and key.crv != crv):
            raise _Refused(f"{alg} token for a {key.kty} key")
        if key.alg is not None and key.alg != alg:
            raise _Refused(f"{alg} token for a key of {key.alg}")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer,
                leeway=self._leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise _Refused(f"{type(exc).__name__}: {exc}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 1 <= len(subject) <= MAX_SUBJECT_LENGTH:
            raise _Refused("sub is not a string of 1 to 255 characters")
        return CustomerClaims(issuer, subject, _email(claims))

    async def close(self) -> None:
        if self._jwks is not None:
            await self._jwks.close()


def _email(claims: dict[str, Any]) -> str | None:
    """The token's `email`, unless the provider says it is not verified."""
    email = claims.get("email")
    if not isinstance(email, str) or not 3 <= len(email) <= MAX_EMAIL_LENGTH or "@" not in email:
        return None
    if claims.get("email_verified") is False:
        return None
    return email
