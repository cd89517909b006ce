"""The fee schedules: the setting's forms, and the default holding the sandbox's own
formula for every amount."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartwright.kit.settings import Settings
from cartwright.reconciliation.matching import expected_fee
from cartwright.reconciliation.parsers import LineKind
from cartwright.sandbox_psp.books import capture_fee


@given(st.integers(min_value=1, max_value=10**13))
def test_the_default_schedule_is_the_sandboxs_own_fee(amount: int) -> None:
    schedules = Settings(provider_fees="").provider_fee_schedules()
    for provider in ("sandbox", "sandbox_failover"):
        assert expected_fee(schedules, provider, LineKind.CAPTURE, amount) == capture_fee(amount)
        assert expected_fee(schedules, provider, LineKind.REFUND, -amount) == 0
    assert expected_fee(schedules, "stripe", LineKind.CAPTURE, amount) is None


def test_a_schedule_per_provider_rounds_half_up() -> None:
    settings = Settings(provider_fees='{"stripe": {"percent_bp": 290, "fixed": 30}}')
    schedules = settings.provider_fee_schedules()
    assert schedules == {"stripe": (290, 30)}
    # 2.9 % of 50 is 1.45: rounded half up to 1, plus 30; of 150 it is 4.35 → 4.
    assert expected_fee(schedules, "stripe", LineKind.CAPTURE, 50) == 31
    assert expected_fee(schedules, "stripe", LineKind.CAPTURE, 1000) == 59
    assert expected_fee(schedules, "sandbox", LineKind.CAPTURE, 1000) is None
    assert settings.configuration_problems() == []


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "[1, 2]",
        '{"stripe": {"percent": 290}}',
        '{"stripe": {"percent_bp": -1}}',
        '{"stripe": {"percent_bp": 20000}}',
        '{"stripe": {"fixed": 1.5}}',
        '{"stripe": 3}',
    ],
)
def test_a_bad_schedule_stops_the_process(value: str) -> None:
    problems = Settings(provider_fees=value).configuration_problems()
    assert [p for p in problems if p.startswith("CARTWRIGHT_PROVIDER_FEES")], problems
