"""JSON logs through structlog, with secrets redacted from every line.

Standard-library loggers (uvicorn, asyncpg, alembic) go through the same processors, so
every line is JSON and none carries a card number, an API key, an order or customer token,
or the configured admin and secret keys, whatever logged it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from cartwright.kit import telemetry
from cartwright.kit.cards import redact_card_numbers

REDACTED = "[redacted]"
# Bearer keys (sk_/pk_ and a base62 tail), order tokens, webhook secrets, and JWTs
# (customer tokens: three base64url parts, the first starting with '{"' encoded).
_SECRET_PATTERNS = re.compile(
    r"\b(?:sk|pk)_[A-Za-z0-9_]{8,}"
    r"|\botok_[A-Za-z0-9]{8,}"
    r"|\bwhsec_[A-Za-z0-9]{8,}"
    r"|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
    r"|(?i:bearer)\s+[^\s\"',]+"
)


class Redactor:
    """A structlog processor replacing secrets in every string of an event, keys of
    nested dicts and lists included. Exact values (the admin key, the server's secret
    key) are added with `known`."""

    def __init__(self, known: Iterable[str | None] = ()) -> None:
        self._known: list[str] = []
        self.known(*known)

    def known(self, *values: str | None) -> None:
        for value in values:
            if value and len(value) >= 8 and value not in self._known:
                self._known.append(value)

    def text(self, value: str) -> str:
        for secret in self._known:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return redact_card_numbers(_SECRET_PATTERNS.sub(REDACTED, value), REDACTED)

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self._value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._value(v) for v in value]
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace"))
        return value

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        for key, value in event_dict.items():
            if isinstance(value, str | dict | list | tuple | bytes):
                event_dict[key] = self._value(value)
        return event_dict


redactor = Redactor()


def add_trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """`trace_id` and `span_id` of the current span, when tracing is on and in a span."""
    ids = telemetry.ids()
    if ids is not None:
        event_dict.setdefault("trace_id", ids[0])
        event_dict.setdefault("span_id", ids[1])
    return event_dict


def configure_logging(level: str = "info", *, secrets: Iterable[str | None] = ()) -> None:
    """Every logger writes JSON lines to stderr through the redactor. Safe to call again
    (each uvicorn worker process calls it when it builds the app)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    redactor.known(*secrets)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
    ]
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redactor,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # One line per request comes from web.request_context, with the request id.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    # Alembic's plugin set-up chatter is noise; which migrations ran is worth seeing.
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
    logging.getLogger("alembic.runtime.migration").setLevel(numeric)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            redactor,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
