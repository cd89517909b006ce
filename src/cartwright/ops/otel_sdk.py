"""The OpenTelemetry SDK side of `ops.tracing`: imported only by processes that trace
(it costs about a second of start-up per process)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.util.types import Attributes

from cartwright.kit import telemetry


def _scrubbed(attributes: Attributes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if isinstance(value, str):
            out[key] = telemetry.attribute_value(value)
        elif isinstance(value, tuple | list):
            out[key] = tuple(
                telemetry.attribute_value(v) if isinstance(v, str) else v for v in value
            )
        else:
            out[key] = value
    return out


class ScrubbingExporter(SpanExporter):
    """Hands spans to `inner` with every string attribute (of the span, its events and
    links) checked by `kit.telemetry.attribute_value`. Runs on the batch processor's
    thread, off the request path."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([self._scrub(s) for s in spans])

    @staticmethod
    def _scrub(s: ReadableSpan) -> ReadableSpan:
        events = [Event(e.name, _scrubbed(e.attributes), timestamp=e.timestamp) for e in s.events]
        links = [trace.Link(link.context, _scrubbed(link.attributes)) for link in s.links]
        return ReadableSpan(
            name=s.name,
            context=s.context,
            parent=s.parent,
            resource=s.resource,
            attributes=_scrubbed(s.attributes),
            events=events,
            links=links,
            kind=s.kind,
            status=s.status,
            start_time=s.start_time,
            end_time=s.end_time,
            instrumentation_scope=s.instrumentation_scope,
        )

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def build(exporter: SpanExporter | None) -> TracerProvider:
    """A tracer provider exporting through the scrubber to `exporter` (default: OTLP/HTTP
    as the `OTEL_EXPORTER_OTLP_*` variables say), sampled as `OTEL_TRACES_SAMPLER` says;
    outgoing httpx calls instrumented."""
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or "cartwright"})
    provider = TracerProvider(resource=resource)  # sampler from OTEL_TRACES_SAMPLER
    provider.add_span_processor(
        BatchSpanProcessor(ScrubbingExporter(exporter or OTLPSpanExporter()))
    )
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    return provider


def _request_hook(span: trace.Span, scope: dict[str, Any]) -> None:
    if not span.is_recording():
        return
    # The path without its query (a search may hold anything a shopper typed).
    path = scope.get("path", "")
    for key in ("http.target", "http.url", "url.full"):
        span.set_attribute(key, path)


def instrument(app: FastAPI, provider: TracerProvider) -> None:
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        server_request_hook=_request_hook,
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],
    )


def shutdown(provider: TracerProvider) -> None:
    HTTPXClientInstrumentor().uninstrument()
    provider.shutdown()
