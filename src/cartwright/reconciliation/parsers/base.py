"""The normalized line every parser produces, and the checks they share."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from cartwright.kit.errors import ValidationFailed
from cartwright.kit.money import CURRENCY_EXPONENTS, is_currency

MAX_ID = 255


class LineKind(StrEnum):
    CAPTURE = "capture"  # money taken from a shopper (gross > 0)
    REFUND = "refund"  # money given back (gross < 0)
    CHARGEBACK = "chargeback"  # taken back by the shopper's bank (a dispute opened)
    CHARGEBACK_REVERSAL = "chargeback_reversal"  # given back (the dispute won; gross > 0)
    FEE = "fee"  # a fee charged on its own, outside any payment
    PAYOUT = "payout"  # money sent from the provider's balance to our bank
    ADJUSTMENT = "adjustment"  # anything else the provider booked


class ReportFormat(StrEnum):
    SANDBOX = "sandbox"  # the sandbox's daily settlement CSV (docs/sandbox-psp.md)
    STRIPE = "stripe"  # Stripe's balance transactions, API-shaped or the itemized report


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One line of a provider's report, in our terms. Amounts are minor units of
    `currency`; `gross` is signed as the provider's balance sees it (a refund is negative)
    and `net = gross - fee`."""

    provider: str
    line_id: str  # the provider's id of the line: unique per provider
    kind: LineKind
    our_reference: str | None  # our id of what it is about (operation or payment), if told
    our_payment: str | None  # our payment id, if told (the merchant reference)
    source_id: str | None  # the provider's id of the object (capture, refund, dispute)
    provider_payment: str | None  # the provider's id of the payment
    currency: str
    gross: int
    fee: int
    net: int
    occurred_at: datetime
    line_number: int  # in the file, the header being line 1


@dataclass(frozen=True, slots=True)
class Report:
    format: ReportFormat
    lines: list[ReportLine]


class BadReport(ValidationFailed):
    """The file is not a valid report; nothing of it was stored."""

    @classmethod
    def at(cls, line_number: int, message: str, column: str | None = None) -> BadReport:
        where = f"line {line_number}" + (f", column {column}" if column else "")
        return cls(
            f"The report is not valid: {where}: {message}",
            errors=[
                {
                    "field": f"report.line[{line_number}]" + (f".{column}" if column else ""),
                    "message": message,
                }
            ],
            extensions={"line": line_number},
        )


def rows(text: str, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """The CSV's rows as dicts with their line numbers, after checking the header has
    every `required` column (`BadReport` at line 1 otherwise)."""
    if "\x00" in text:
        raise BadReport.at(1, "the file contains a NUL character")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise BadReport.at(1, "the file is empty; it needs a header line") from None
    except csv.Error as exc:
        raise BadReport.at(1, f"not CSV ({exc})") from None
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise BadReport.at(1, "missing columns: " + ", ".join(missing))
    try:
        for values in reader:
            number = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise BadReport.at(
                    number, f"{len(values)} fields where the header has {len(header)}"
                )
            row = dict(zip(header, (v.strip() for v in values), strict=True))
            yield number, row
    except csv.Error as exc:
        raise BadReport.at(reader.line_num, f"not CSV ({exc})") from None


def text_field(
    number: int, row: dict[str, str], column: str, *, required: bool = True
) -> str | None:
    value = row.get(column, "")
    if not value:
        if required:
            raise BadReport.at(number, "is empty", column)
        return None
    if len(value) > MAX_ID:
        raise BadReport.at(number, f"longer than {MAX_ID} characters", column)
    return value


def integer(number: int, row: dict[str, str], column: str) -> int:
    value = row.get(column, "")
    try:
        if not value or not value.lstrip("-").isdigit():
            raise ValueError
        parsed = int(value)
    except ValueError:
        raise BadReport.at(number, f"{value!r} is not a whole number", column) from None
    if abs(parsed) >= 2**62:
        raise BadReport.at(number, f"{value!r} is out of range", column)
    return parsed


def decimal_minor(number: int, row: dict[str, str], column: str, currency: str) -> int:
    """A decimal amount in major units ("12.34") as minor units of `currency`; more
    decimals than the currency has is refused, never rounded."""
    value = row.get(column, "")
    try:
        amount = Decimal(value)
        if not amount.is_finite() or "e" in value.lower():
            raise InvalidOperation
    except InvalidOperation:
        raise BadReport.at(number, f"{value!r} is not a decimal amount", column) from None
    minor = amount.scaleb(CURRENCY_EXPONENTS[currency])
    if minor != minor.to_integral_value():
        raise BadReport.at(number, f"{value!r} has more decimals than {currency} has", column)
    parsed = int(minor)
    if abs(parsed) >= 2**62:
        raise BadReport.at(number, f"{value!r} is out of range", column)
    return parsed


def currency_code(number: int, row: dict[str, str], column: str = "currency") -> str:
    value = row.get(column, "").upper()
    if not is_currency(value):
        raise BadReport.at(number, f"{row.get(column, '')!r} is not a currency we know", column)
    return value


def timestamp(number: int, row: dict[str, str], column: str) -> datetime:
    """ISO 8601 (a time without a zone is UTC) or Unix seconds."""
    value = row.get(column, "")
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise BadReport.at(number, f"{value!r} is not a time", column) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def check_net(number: int, gross: int, fee: int, net: int) -> None:
    if net != gross - fee:
        raise BadReport.at(number, f"net {net} is not gross {gross} minus fee {fee}", "net")


class UniqueIds:
    """Refuses a line id seen before in the same file."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def check(self, number: int, line_id: str) -> None:
        first = self._seen.setdefault(line_id, number)
        if first != number:
            raise BadReport.at(number, f"id {line_id!r} repeats line {first}", "id")
