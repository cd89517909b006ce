"""Recognising card numbers (PANs), so none is ever stored or logged.

Cartwright never needs a card number: providers tokenize cards in the shopper's browser.
A value that looks like one (13 to 19 digits, spaces or dashes allowed between them,
passing the Luhn check) was pasted where a token belongs and is refused or redacted.
"""

from __future__ import annotations

import re

# 13-19 digits, each optionally followed by one space or dash (but not ending with one).
CARD_LIKE = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return text.replace(" ", "").replace("-", "")


def is_card_number(value: str) -> bool:
    """The whole value is a card number (possibly with spaces or dashes)."""
    stripped = value.strip()
    if CARD_LIKE.fullmatch(stripped) is None:
        return False
    return luhn_valid(_digits(stripped))


def redact_card_numbers(text: str, replacement: str = "[redacted card]") -> str:
    """`text` with every card-like run of digits that passes Luhn replaced."""
    if not any(c.isdigit() for c in text):
        return text
    return CARD_LIKE.sub(
        lambda m: replacement if luhn_valid(_digits(m.group())) else m.group(), text
    )
