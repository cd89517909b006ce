"""The verifier on its own: every check a customer token must pass, and the JWKS cache
(refetch on an unknown kid, at most one fetch in flight, rate-limited refetches)."""

from __future__ import annotations

import asyncio

import pytest

from cartwright.customers.tokens import CustomerTokens, JwksCache
from cartwright.kit.errors import Unauthenticated
from cartwright.kit.settings import Settings
from tests.customers.idp import IdentityProvider, new_key


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(
    idp: IdentityProvider, *, clock: FakeClock | None = None, url: str | None = None
) -> CustomerTokens:
    cache = JwksCache(
        url or idp.jwks_url,
        ttl_s=300,
        refetch_interval_s=30,
        timeout_s=2,
        clock=clock or FakeClock(),
    )
    return CustomerTokens(cache, issuer=idp.issuer, audience=idp.audience, leeway_s=5)


async def refused(tokens: CustomerTokens, token: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        await tokens.verify(token)
    assert caught.value.status == 401
    assert caught.value.code == "unauthenticated"


async def test_valid_rs256_and_es256_tokens_name_their_subject(idp: IdentityProvider) -> None:
    tokens = verifier(idp)
    try:
        rsa = await tokens.verify(idp.token("user-rsa", email="rsa@example.com"))
        ec = await tokens.verify(idp.token("user-ec", key=idp.ec))
    finally:
        await tokens.close()
    assert (rsa.issuer, rsa.subject, rsa.email) == (idp.issuer, "user-rsa", "rsa@example.com")
    assert (ec.subject, ec.email) == ("user-ec", None)


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not_yet_valid",
        "wrong_issuer",
        "wrong_audience",
        "alg_none",
        "hs256_with_public_key",
        "alg_does_not_match_key_type",
        "unknown_kid",
        "garbage",
        "tampered",
    ],
)
async def test_a_token_failing_any_check_is_refused(idp: IdentityProvider, case: str) -> None:
    stranger = new_key("RS256")  # never published
    token = {
        "expired": lambda: idp.token("u", expires_in=-60),
        "not_yet_valid": lambda: idp.token("u", not_before_in=120),
        "wrong_issuer": lambda: idp.token("u", issuer="https://evil.example.test"),
        "wrong_audience": lambda: idp.token("u", audience="another-shop"),
        "alg_none": lambda: idp.none_token("u"),
        "hs256_with_public_key": lambda: idp.hs256_with_public_key("u"),
        "alg_does_not_match_key_type": lambda: idp.rs256_header_on_ec_key("u"),
        "unknown_kid": lambda: idp.token("u", key=stranger),
        "garbage": lambda: "not.a.jwt",
        "tampered": lambda: idp.token("u")[:-4] + "AAAA",
    }[case]()
    tokens = verifier(idp)
    try:
        await refused(tokens, token)
    finally:
        await tokens.close()


async def test_small_clock_skew_is_tolerated(idp: IdentityProvider) -> None:
    tokens = verifier(idp)  # leeway 5 s
    try:
        claims = await tokens.verify(idp.token("skewed", expires_in=-2, not_before_in=2))
    finally:
        await tokens.close()
    assert claims.subject == "skewed"


async def test_without_a_jwks_every_token_is_refused(idp: IdentityProvider) -> None:
    tokens = CustomerTokens.from_settings(Settings(customer_jwks_url=None))
    await refused(tokens, idp.token("anyone"))


async def test_an_unknown_kid_refetches_once_and_concurrent_requests_share_it(
    idp: IdentityProvider,
) -> None:
    clock = FakeClock()
    tokens = verifier(idp, clock=clock)
    try:
        await tokens.verify(idp.token("warm-up"))
        assert tokens.jwks is not None and tokens.jwks.fetches == 1
        fresh = new_key("ES256")
        idp.publish(fresh)
        clock.now += 60  # the last fetch is older than the refetch interval
        results = await asyncio.gather(
            *(tokens.verify(idp.token(f"user-{i}", key=fresh)) for i in range(20))
        )
        assert {r.subject for r in results} == {f"user-{i}" for i in range(20)}
        assert tokens.jwks.fetches == 2  # one fetch for twenty requests
        idp.withdraw(fresh)
    finally:
        await tokens.close()


async def test_unknown_kids_refetch_at_most_once_per_interval(idp: IdentityProvider) -> None:
    clock = FakeClock()
    tokens = verifier(idp, clock=clock)
    stranger = new_key("RS256")
    try:
        await tokens.verify(idp.token("warm-up"))
        for _ in range(5):
            clock.now += 1
            await refused(tokens, idp.token("u", key=stranger))
        # Within the refetch interval of the last fetch: no fetch at all, not one per token.
        assert tokens.jwks is not None and tokens.jwks.fetches == 1
        clock.now += 31
        await refused(tokens, idp.token("u", key=stranger))
        await refused(tokens, idp.token("u", key=stranger))
        assert tokens.jwks.fetches == 2
    finally:
        await tokens.close()


async def test_rotation_old_key_works_until_withdrawn_and_the_cache_refreshes(
    idp: IdentityProvider,
) -> None:
    clock = FakeClock()
    tokens = verifier(idp, clock=clock)
    old, new = new_key("RS256"), new_key("ES256")
    idp.publish(old)
    try:
        await tokens.verify(idp.token("a", key=old))
        idp.publish(new)
        clock.now += 31
        await tokens.verify(idp.token("a", key=new))  # unknown kid: refetched
        await tokens.verify(idp.token("a", key=old))  # the old key still verifies
        idp.withdraw(old)
        await tokens.verify(idp.token("a", key=old))  # cached until the keys are refreshed
        clock.now += 301  # the TTL passes: the next token refreshes the keys
        await refused(tokens, idp.token("a", key=old))
        await tokens.verify(idp.token("a", key=new))
    finally:
        idp.withdraw(new)
        await tokens.close()


async def test_jwks_down_refuses_tokens_and_keeps_keys_it_had(idp: IdentityProvider) -> None:
    clock = FakeClock()
    down = verifier(idp, clock=clock, url="http://127.0.0.1:9/jwks.json")  # nothing listens
    try:
        await refused(down, idp.token("u"))
    finally:
        await down.close()
    tokens = verifier(idp, clock=clock)
    try:
        await tokens.verify(idp.token("u"))
        idp.down = True
        clock.now += 301  # keys expired; the refetch fails: the keys fetched before serve
        assert (await tokens.verify(idp.token("u"))).subject == "u"
    finally:
        idp.down = False
        await tokens.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://idp.example.com/jwks.json", "plain http://"),
        ("ftp://127.0.0.1/jwks.json", "not an http(s) URL"),
    ],
)
def test_settings_refuse_plain_http_off_loopback(url: str, problem: str) -> None:
    settings = Settings(
        customer_jwks_url=url, customer_issuer="https://idp", customer_audience="shop"
    )
    assert any(problem in p for p in settings.customer_token_problems())


def test_settings_accept_https_and_loopback_http() -> None:
    for url in ("https://idp.example.com/jwks", "http://127.0.0.1:8080/jwks", "http://[::1]/k"):
        settings = Settings(
            customer_jwks_url=url, customer_issuer="https://idp", customer_audience="shop"
        )
        assert settings.customer_token_problems() == []
    assert Settings(customer_jwks_url="https://idp/jwks").customer_token_problems() == [
        "CARTWRIGHT_CUSTOMER_ISSUER is not set",
        "CARTWRIGHT_CUSTOMER_AUDIENCE is not set",
    ]
