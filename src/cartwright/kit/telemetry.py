"""Spans by name, for any module, without importing `ops` (which wires them to
OpenTelemetry at start-up: `ops.tracing`).

Off by default: `span()` then returns one shared do-nothing object, so the checkout path
pays an attribute lookup and a call per span, nothing more (bench/README.md, "Cost").
When `ops.tracing` turns tracing on, spans go to the OpenTelemetry API: they join the
request's span, are sampled as configured and exported over OTLP.

Attributes are for ids, counts, statuses and names, never a secret, a token, an email
or a card number. `attribute_value` refuses those kinds of value before they reach a
span, and the exporter scrubs whatever an instrumentation recorded (`ops.tracing`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Protocol

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from cartwright.kit.cards import redact_card_numbers

AttributeValue = str | bool | int | float
REFUSED = "[redacted]"
_UNSAFE = re.compile(
    r"[^@\s]+@[^@\s]+"  # an email
    r"|\b(?:sk|pk|otok|whsec|tok)_[A-Za-z0-9_]{3,}"  # keys, order and payment tokens
    r"|\beyJ[A-Za-z0-9_-]{4,}\."  # a JWT
    r"|(?i:bearer)\s"
)


class Span(Protocol):
    def set_attribute(self, key: str, value: AttributeValue) -> None: ...


class _NoSpan:
    """What `span()` gives while tracing is off: enters, exits and records nothing."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        return None


NO_SPAN = _NoSpan()
_tracer: trace.Tracer | None = None


def enable(tracer: trace.Tracer) -> None:
    """Called by `ops.tracing` once the SDK is set up in this process."""
    global _tracer
    _tracer = tracer


def disable() -> None:
    global _tracer
    _tracer = None


def enabled() -> bool:
    return _tracer is not None


def recording() -> bool:
    """Whether a span started here would be recorded: tracing is on, and the current
    span (if any) is sampled. The samplers are parent-based, so a child of an unsampled
    span never is: skipping it outright spares an unsampled request the span objects and
    the scrubbing of their attributes."""
    if _tracer is None:
        return False
    current = trace.get_current_span()
    return current.is_recording() or not current.get_span_context().is_valid


def attribute_value(value: AttributeValue) -> AttributeValue:
    """`value`, unless it looks like a secret, a token, an email or a card number."""
    if isinstance(value, str) and (
        _UNSAFE.search(value) or redact_card_numbers(value, REFUSED) != value
    ):
        return REFUSED
    return value


def span(
    name: str,
    attributes: Mapping[str, AttributeValue] | None = None,
    *,
    link: str | None = None,
) -> AbstractContextManager[Span]:
    """A span named `name`, child of the current one, for the `with` block. `link` is a
    W3C traceparent (from `traceparent()`) the span is linked to: the recovery worker
    links its run to the checkout it finishes."""
    tracer = _tracer
    if tracer is None or not recording():
        return NO_SPAN
    safe = {k: attribute_value(v) for k, v in attributes.items()} if attributes else None
    links = None
    if link is not None:
        linked = trace.get_current_span(
            propagate.extract({"traceparent": link}, context=otel_context.Context())
        ).get_span_context()
        if linked.is_valid:
            links = [trace.Link(linked)]
    return tracer.start_as_current_span(name, attributes=safe, links=links)


def annotate(key: str, value: AttributeValue) -> None:
    """Set an attribute on the current span (the request's, in a route)."""
    if _tracer is None:
        return
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attribute(key, attribute_value(value))


def traceparent() -> str | None:
    """The current span as a W3C traceparent (to store, or to link to later); None when
    tracing is off or the current trace is not sampled."""
    if _tracer is None:
        return None
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid or not ctx.trace_flags.sampled:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (`traceparent`, `tracestate`) to outgoing headers,
    for calls made with a client the instrumentation does not cover."""
    if _tracer is not None:
        propagate.inject(headers)
    return headers


def ids() -> tuple[str, str] | None:
    """The current trace and span ids (hex), for log lines; None outside a span."""
    if _tracer is None:
        return None
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


class _Untraced:
    """The block's HTTP calls are not traced and carry no trace context: calls to other
    companies' servers (outgoing webhooks) must not learn our trace ids."""

    def __enter__(self) -> None:
        self._token = otel_context.attach(
            otel_context.set_value(otel_context._SUPPRESS_HTTP_INSTRUMENTATION_KEY, True)
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        otel_context.detach(self._token)


def untraced_http() -> AbstractContextManager[None]:
    return _Untraced()
