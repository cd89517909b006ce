"""Properties of the signature and of the retry schedule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cartwright.webhooks.delivery import backoff_s
from cartwright.webhooks.signing import header, verify

_secret = st.text(min_size=1, max_size=60)


@given(st.lists(_secret, min_size=1, max_size=3), st.binary(max_size=500), st.integers(0, 2**33))
def test_every_signing_secret_verifies_and_nothing_else_does(
    secrets: list[str], body: bytes, at: int
) -> None:
    value = header(secrets, at, body)
    assert value.count("v1=") == len(secrets)
    for secret in secrets:
        assert verify(secret, value, body, now=at)
        assert not verify(secret, value, body + b"x", now=at)
        assert not verify(secret, value, body, now=at + 301)
    assert not verify("".join(secrets) + "-other", value, body, now=at)


@given(
    st.lists(st.floats(1, 1e6), min_size=1, max_size=12),
    st.integers(1, 20),
    st.floats(0, 1, exclude_max=True),
)
def test_the_wait_is_the_schedules_delay_jittered_and_ends_with_it(
    schedule: list[float], attempts: int, rand: float
) -> None:
    wait = backoff_s(tuple(schedule), attempts, lambda: rand)
    if attempts > len(schedule):
        assert wait is None
    else:
        assert wait is not None
        assert 0.8 * schedule[attempts - 1] <= wait <= 1.2 * schedule[attempts - 1]
