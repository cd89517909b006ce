"""Card numbers are recognised (13-19 digits, spaces or dashes, Luhn) and redacted."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cartwright.kit.cards import is_card_number, luhn_valid, redact_card_numbers


def _with_check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError("some check digit always fits")


@given(st.text("0123456789", min_size=12, max_size=18))
def test_every_luhn_valid_number_of_13_to_19_digits_is_a_card_number(body: str) -> None:
    number = _with_check_digit(body)
    assert is_card_number(number)
    grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    assert is_card_number(grouped)
    assert is_card_number(grouped.replace(" ", "-"))
    redacted = redact_card_numbers(f"token={grouped};")
    assert redacted == "token=[redacted card];"


@given(st.text("0123456789", min_size=12, max_size=18))
def test_a_wrong_check_digit_is_not_a_card_number(body: str) -> None:
    number = _with_check_digit(body)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not is_card_number(wrong)
    assert redact_card_numbers(wrong) == wrong


def test_too_short_too_long_and_tokens_are_not_card_numbers() -> None:
    assert not is_card_number("4242424242")  # 10 digits
    assert not is_card_number("4" * 20)
    assert not is_card_number("tok_visa")
    assert not is_card_number("4242  4242 4242 4242")  # two spaces: not a grouping
    assert redact_card_numbers("order 1001 of 2026-12-02") == "order 1001 of 2026-12-02"
