"""Providers' settlement reports, each turned into the same `ReportLine`s.

`parse(provider_format, text)` picks the parser; a file that is not a valid report of its
format raises `BadReport` (422, with the line number) before anything is stored.
"""

from __future__ import annotations

from cartwright.reconciliation.parsers.base import (
    BadReport,
    LineKind,
    Report,
    ReportFormat,
    ReportLine,
)
from cartwright.reconciliation.parsers.sandbox import parse_sandbox
from cartwright.reconciliation.parsers.stripe import parse_stripe

__all__ = ["BadReport", "LineKind", "Report", "ReportFormat", "ReportLine", "parse"]


def parse(provider: str, report_format: ReportFormat, text: str) -> Report:
    match report_format:
        case ReportFormat.SANDBOX:
            return parse_sandbox(provider, text)
        case ReportFormat.STRIPE:
            return parse_stripe(provider, text)
