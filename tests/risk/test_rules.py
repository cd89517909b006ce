"""The built-in fraud rules as pure functions (ADR 0024), with property tests where the
rule is arithmetic: the score is the sum of the points, the decision grows with it."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given

from cartwright.kit.netaddr import parse_networks, vouched
from cartwright.kit.settings import Settings
from cartwright.risk.providers import ScreenRequest, micros, parse_sift_answer, sift_event
from cartwright.risk.rules import (
    Decision,
    DenyKind,
    Points,
    Reason,
    Signals,
    Thresholds,
    VelocityKind,
    amount_reasons,
    card_fingerprint,
    countable_address,
    country_reasons,
    denylist_reasons,
    hook_reasons,
    velocity_reasons,
    verdict,
)

THRESHOLDS = Thresholds(review=50, reject=80)
POINTS = Points()


def _signals(**overrides: object) -> Signals:
    base: dict[str, object] = {
        "email": "ada@example.com",
        "currency": "EUR",
        "amount": 5_000,
        "billing_country": "DE",
        "shipping_country": "DE",
    }
    return Signals(**{**base, **overrides})  # type: ignore[arg-type]


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_the_score_is_the_sum_of_the_points_and_decides_by_the_thresholds(
    points: list[int],
) -> None:
    reasons = [Reason(f"r{i}", p, "") for i, p in enumerate(points)]
    result = verdict(reasons, THRESHOLDS)
    assert result.score == sum(points)
    expected = (
        Decision.REJECT
        if sum(points) >= 80
        else Decision.REVIEW
        if sum(points) >= 50
        else Decision.ACCEPT
    )
    assert result.decision is expected
    assert result.as_json()["reasons"] == [r.as_json() for r in reasons]


@given(st.integers(min_value=0, max_value=500), st.integers(min_value=0, max_value=500))
def test_more_points_never_decide_less(a: int, b: int) -> None:
    order = list(Decision)
    low, high = sorted((a, b))
    assert order.index(THRESHOLDS.decide(low)) <= order.index(THRESHOLDS.decide(high))


@given(st.integers(min_value=0, max_value=200))
def test_failing_closed_decides_review_at_least_and_never_lowers_a_reject(score: int) -> None:
    result = verdict([Reason("x", score, "")], THRESHOLDS, at_least=Decision.REVIEW)
    assert result.decision is (Decision.REJECT if score >= 80 else Decision.REVIEW)


def test_the_contract_test_emails() -> None:
    assert verdict(hook_reasons("A@Risk-Reject.TEST", THRESHOLDS), THRESHOLDS).decision is (
        Decision.REJECT
    )
    assert verdict(hook_reasons("b@risk-review.test", THRESHOLDS), THRESHOLDS).decision is (
        Decision.REVIEW
    )
    assert hook_reasons("ada@example.com", THRESHOLDS) == []
    assert hook_reasons(None, THRESHOLDS) == []


@given(
    st.integers(min_value=1, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=2 * 10**9),
)
def test_amount_thresholds_per_currency_in_minor_units(
    review_from: int, extra: int, amount: int
) -> None:
    reject_from = review_from + extra
    limits = {"JPY": (review_from, reject_from)}
    (reason,) = amount_reasons(amount, "JPY", limits, POINTS) or [None]
    if amount >= reject_from:
        assert reason is not None and reason.code == "amount_very_high"
    elif amount >= review_from:
        assert reason is not None and reason.code == "amount_high"
    else:
        assert reason is None
    # Another currency has no threshold: no reason, whatever the amount.
    assert amount_reasons(amount, "EUR", limits, POINTS) == []


def test_amount_thresholds_are_read_from_the_settings() -> None:
    settings = Settings(risk_amount_thresholds="eur:100000:500000, JPY:20000:90000")
    assert settings.risk_amount_limits() == {"EUR": (100_000, 500_000), "JPY": (20_000, 90_000)}
    for bad in ("EUR:1", "EUR:5:1", "EURO:1:2", "EUR:x:2", "EUR:0:2"):
        problems = Settings(risk_amount_thresholds=bad).configuration_problems()
        assert any("CARTWRIGHT_RISK_AMOUNT_THRESHOLDS" in p for p in problems), bad
    assert Settings().risk_amount_limits() == {}


def test_country_mismatches() -> None:
    assert country_reasons(_signals(), POINTS) == []
    (billing,) = country_reasons(_signals(shipping_country="FR"), POINTS)
    assert billing.code == "billing_shipping_mismatch" and billing.points == 20
    # The client address's country only counts when a geo lookup gave one.
    assert country_reasons(_signals(ip_country=None), POINTS) == []
    (ip,) = country_reasons(_signals(ip_country="NG"), POINTS)
    assert ip.code == "ip_country_mismatch"
    assert country_reasons(_signals(ip_country="de"), POINTS) == []


def test_the_denylist_matches_email_domain_address_and_fingerprint() -> None:
    denied = {
        DenyKind.EMAIL: frozenset({"mallory@example.com"}),
        DenyKind.EMAIL_DOMAIN: frozenset({"fraud.test"}),
        DenyKind.ADDRESS: frozenset({"203.0.113.9"}),
        DenyKind.FINGERPRINT: frozenset({"fp1"}),
    }
    assert denylist_reasons(_signals(), denied, 80) == []
    assert [
        r.code for r in denylist_reasons(_signals(email=" Mallory@Example.com"), denied, 80)
    ] == ["denylist_email"]
    assert [r.code for r in denylist_reasons(_signals(email="x@FRAUD.test"), denied, 80)] == [
        "denylist_email_domain"
    ]
    both = denylist_reasons(
        _signals(client_address="203.0.113.9", card_fingerprint="fp1"), denied, 80
    )
    assert [r.code for r in both] == ["denylist_address", "denylist_fingerprint"]
    assert verdict(both[:1], THRESHOLDS).decision is Decision.REJECT


def test_velocity_reasons_name_the_key_over_its_limit() -> None:
    (reason,) = velocity_reasons([(VelocityKind.ADDRESS, 30)], POINTS)
    assert reason.code == "velocity_address" and reason.points == POINTS.velocity
    assert "30" in reason.detail


def test_only_public_addresses_vouched_for_by_a_trusted_proxy_are_counted() -> None:
    assert countable_address("203.0.113.9", vouched=True) is None  # documentation range
    assert countable_address("8.8.8.8", vouched=True) == "8.8.8.8"
    assert countable_address("8.8.8.8", vouched=False) is None  # the TCP peer itself
    for private in ("127.0.0.1", "::1", "10.1.2.3", "192.168.0.7", "172.16.5.5", "fe80::1"):
        assert countable_address(private, vouched=True) is None, private
    assert countable_address("not-an-ip", vouched=True) is None
    assert countable_address(None, vouched=True) is None


def test_an_address_is_vouched_for_only_through_a_trusted_proxy() -> None:
    trusted = parse_networks("10.0.0.0/8")
    assert vouched("8.8.8.8", "10.0.0.5", trusted)
    assert not vouched("8.8.8.8", "8.8.8.8", trusted)  # no proxy: the peer
    assert not vouched("8.8.8.8", "198.51.100.1", trusted)  # the peer is not trusted
    assert not vouched("10.0.0.9", "10.0.0.5", trusted)  # every hop a proxy
    assert not vouched("8.8.8.8", "10.0.0.5", ())  # no proxies configured
    assert not vouched("8.8.8.8", None, trusted)


def test_the_sandbox_test_tokens_carry_no_card_fingerprint() -> None:
    for token in ("tok_visa", "tok_declined", "tok_3ds_required", "tok_timeout", " "):
        assert card_fingerprint(token) is None
    assert card_fingerprint("pm_1Abc") == card_fingerprint("pm_1Abc")
    assert card_fingerprint("pm_1Abc") != card_fingerprint("pm_2Abc")


@given(st.integers(min_value=0, max_value=10**12))
def test_micros_are_millionths_of_the_major_unit(amount: int) -> None:
    assert micros(amount, "EUR") == amount * 10_000
    assert micros(amount, "JPY") == amount * 1_000_000
    assert micros(amount, "BHD") == amount * 1_000


def test_the_sift_event_and_answer_mapping() -> None:
    event = sift_event(
        ScreenRequest("ord_1", "cus_1", "a@b.cd", 1_299, "EUR", "8.8.8.8", "DE", "FR")
    )
    assert event["$type"] == "$create_order" and event["$amount"] == 12_990_000
    assert event["$ip"] == "8.8.8.8" and event["$shipping_address"] == {"$country": "FR"}
    bare = sift_event(ScreenRequest("ord_1", "u", None, 5, "JPY", None, None, None))
    assert set(bare) == {"$type", "$user_id", "$order_id", "$amount", "$currency_code"}
    assert (
        parse_sift_answer(
            200, b'{"status": 0, "score_response": {"scores": {"payment_abuse": {"score": 0.5}}}}'
        ).score
        == 50
    )
