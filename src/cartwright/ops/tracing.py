"""OpenTelemetry for a Cartwright process: the SDK, the OTLP/HTTP exporter, the request
spans of the API, outgoing httpx calls, and the seam (`kit.telemetry`) the modules use.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set,
and always off with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Everything
else is the standard `OTEL_*` configuration, read by the SDK itself: `OTEL_SERVICE_NAME`
(default `cartwright`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` (default
`parentbased_always_on`; `parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG=0.1`
keeps one trace in ten), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
`OTEL_BSP_*` for the batching. An incoming W3C `traceparent` is continued.

No attribute leaves the process with a secret, a token, an email or a card number in it:
the exporter passes every attribute through `kit.telemetry.attribute_value`, whatever
recorded it (our spans, the ASGI and httpx instrumentations, exception events).
"""

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

_provider: TracerProvider | None = None


def wanted() -> bool:
    """Whether this process's environment asks for traces."""
    env = os.environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


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


def configure(exporter: SpanExporter | None = None) -> bool:
    """Set the SDK up in this process when the environment asks for traces (or when an
    exporter is given, for tests). Returns whether tracing is on. Safe to call again."""
    global _provider
    if _provider is not None:
        return True
    if exporter is None:
        if not wanted():
            return False
        exporter = OTLPSpanExporter()
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or "cartwright"})
    provider = TracerProvider(resource=resource)  # sampler from OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(ScrubbingExporter(exporter)))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    telemetry.enable(provider.get_tracer("cartwright"))
    _provider = provider
    return True


def _request_hook(span: trace.Span, scope: dict[str, Any]) -> None:
    if not span.is_recording():
        return
    # The path without its query (a search may hold anything a shopper typed).
    span.set_attribute("http.target", scope.get("path", ""))
    for key in ("http.url", "url.full"):
        span.set_attribute(key, scope.get("path", ""))


def instrument(app: FastAPI) -> None:
    """A server span per request (named by its route template), continuing an incoming
    `traceparent`; nothing when tracing is off."""
    if _provider is None:
        return
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        server_request_hook=_request_hook,
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],
    )


def shutdown() -> None:
    """Export what is still buffered (at the end of the process)."""
    global _provider
    if _provider is None:
        return
    telemetry.disable()
    HTTPXClientInstrumentor().uninstrument()
    _provider.shutdown()
    _provider = None
