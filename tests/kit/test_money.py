"""Properties of `cartwright.kit.money`: exact integer arithmetic, rounding, allocation."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cartwright.kit.money import (
    CurrencyMismatch,
    Money,
    allocate,
    apply_rate_bp,
    is_currency,
    round_half_up_div,
)

amounts = st.integers(min_value=-(10**18), max_value=10**18)
weights = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30)
positive_weights = weights.filter(lambda w: sum(w) > 0)
denominators = st.integers(min_value=1, max_value=10**12)
rates_bp = st.integers(min_value=0, max_value=100_000)


def half_up(value: Fraction) -> int:
    """The oracle: round to the nearest integer, halves away from zero."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole = magnitude.numerator // magnitude.denominator
    if magnitude - whole >= Fraction(1, 2):
        whole += 1
    return sign * whole


# ---------------------------------------------------------------- round_half_up_div


@given(amounts, denominators)
@example(5, 10)
@example(-5, 10)
@example(15, 10)
@example(-15, 10)
@example(4, 10)
@example(0, 7)
@example(10**40 + 1, 2)
def test_round_half_up_div_matches_exact_rounding(numerator: int, denominator: int) -> None:
    assert round_half_up_div(numerator, denominator) == half_up(Fraction(numerator, denominator))


@given(amounts, denominators)
def test_round_half_up_div_is_within_half_and_symmetric(numerator: int, denominator: int) -> None:
    result = round_half_up_div(numerator, denominator)
    assert type(result) is int
    assert abs(result * denominator - numerator) * 2 <= denominator
    assert round_half_up_div(-numerator, denominator) == -result


@given(amounts, denominators)
def test_round_half_up_div_is_exact_on_multiples(quotient: int, denominator: int) -> None:
    assert round_half_up_div(quotient * denominator, denominator) == quotient


@pytest.mark.parametrize("denominator", [0, -1, -100])
def test_round_half_up_div_needs_a_positive_denominator(denominator: int) -> None:
    with pytest.raises(ValueError):
        round_half_up_div(10, denominator)


# ---------------------------------------------------------------- apply_rate_bp


def test_apply_rate_bp_worked_examples() -> None:
    assert apply_rate_bp(250, 1900) == 48  # 47.5 rounds up
    assert apply_rate_bp(-250, 1900) == -48  # ... and away from zero
    assert apply_rate_bp(5997, 1900) == 1139  # 1139.43
    assert apply_rate_bp(500, 1900) == 95
    assert apply_rate_bp(1, 5000) == 1  # 0.5
    assert apply_rate_bp(1, 4999) == 0
    assert apply_rate_bp(12345, 0) == 0
    assert apply_rate_bp(12345, 10_000) == 12345


@given(amounts, rates_bp)
@example(250, 1900)
@example(-250, 1900)
@example(1, 5000)
def test_apply_rate_bp_matches_exact_rounding(amount: int, rate: int) -> None:
    result = apply_rate_bp(amount, rate)
    assert type(result) is int
    assert result == half_up(Fraction(amount * rate, 10_000))


@given(
    st.integers(min_value=0, max_value=10**15), st.integers(min_value=0, max_value=10**15), rates_bp
)
def test_apply_rate_bp_is_monotonic_and_nearly_additive(a: int, b: int, rate: int) -> None:
    low, high = sorted((a, b))
    assert apply_rate_bp(low, rate) <= apply_rate_bp(high, rate)
    # Rounding each part on its own differs from rounding the sum by at most one unit.
    assert abs(apply_rate_bp(a + b, rate) - apply_rate_bp(a, rate) - apply_rate_bp(b, rate)) <= 1


@given(amounts)
def test_apply_rate_bp_identity_and_zero(amount: int) -> None:
    assert apply_rate_bp(amount, 10_000) == amount
    assert apply_rate_bp(amount, 0) == 0
    assert apply_rate_bp(0, 1900) == 0


# ---------------------------------------------------------------- allocate


@given(amounts, weights)
def test_allocate_sums_exactly(total: int, parts_weights: list[int]) -> None:
    parts = allocate(total, parts_weights)
    assert len(parts) == len(parts_weights)
    assert all(type(p) is int for p in parts)
    assert sum(parts) == total


@given(amounts, weights)
def test_allocate_is_deterministic(total: int, parts_weights: list[int]) -> None:
    assert allocate(total, parts_weights) == allocate(total, list(parts_weights))
    assert allocate(total, tuple(parts_weights)) == allocate(total, parts_weights)


@given(amounts, positive_weights)
def test_allocate_is_proportional_within_one_unit(total: int, parts_weights: list[int]) -> None:
    weight_sum = sum(parts_weights)
    for part, weight in zip(allocate(total, parts_weights), parts_weights, strict=True):
        exact = Fraction(total * weight, weight_sum)
        assert abs(part - exact) < 1
        if weight == 0:
            assert part == 0


@given(amounts, positive_weights)
def test_allocate_of_a_negative_total_mirrors_the_positive(
    total: int, parts_weights: list[int]
) -> None:
    assert allocate(-total, parts_weights) == [-p for p in allocate(total, parts_weights)]


@given(amounts, positive_weights, st.integers(min_value=1, max_value=1000))
def test_allocate_depends_only_on_weight_ratios(
    total: int, parts_weights: list[int], factor: int
) -> None:
    assert allocate(total, [w * factor for w in parts_weights]) == allocate(total, parts_weights)


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=50))
def test_allocate_equal_weights_gives_extra_units_to_the_first(total: int, count: int) -> None:
    parts = allocate(total, [1] * count)
    base, extra = divmod(total, count)
    assert parts == [base + 1] * extra + [base] * (count - extra)


def test_allocate_worked_examples() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(1000, [5997, 250]) == [960, 40]
    assert allocate(5, [0, 0]) == [5, 0]  # nothing to weigh by: all to the first
    assert allocate(0, [3, 7]) == [0, 0]


@pytest.mark.parametrize("bad", [[], [1, -1], [-5]])
def test_allocate_refuses_bad_weights(bad: list[int]) -> None:
    with pytest.raises(ValueError):
        allocate(100, bad)


# ---------------------------------------------------------------- Money

currencies = st.sampled_from(["EUR", "USD", "JPY", "BHD"])


@given(amounts, amounts, currencies)
def test_money_adds_and_subtracts_exactly_in_one_currency(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert x + y == Money(a + b, currency)
    assert x - y == Money(a - b, currency)
    assert (x + y) - y == x
    assert x + Money.zero(currency) == x
    assert (x + y).as_dict() == {"amount": a + b, "currency": currency}


@given(amounts, st.integers(min_value=0, max_value=10_000), currencies)
def test_money_times_quantity(amount: int, quantity: int, currency: str) -> None:
    assert Money(amount, currency).times(quantity) == Money(amount * quantity, currency)


def test_money_refuses_mixed_currencies() -> None:
    with pytest.raises(CurrencyMismatch):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(CurrencyMismatch):
        Money(1, "EUR") - Money(1, "JPY")


def test_known_currencies() -> None:
    assert is_currency("EUR") and is_currency("JPY")
    assert not is_currency("eur") and not is_currency("XXX") and not is_currency("")
