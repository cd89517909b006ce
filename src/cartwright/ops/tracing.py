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
from typing import TYPE_CHECKING

from fastapi import FastAPI

from cartwright.kit import telemetry

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

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


def configure(exporter: SpanExporter | None = None) -> bool:
    """Set the SDK up in this process when the environment asks for traces (or when an
    exporter is given, for tests). Returns whether tracing is on. Safe to call again."""
    global _provider
    if _provider is not None:
        return True
    if exporter is None and not wanted():
        return False
    # Imported here on purpose: the SDK, the exporter and the instrumentations cost about
    # a second of start-up, which only a process that traces should pay.
    from cartwright.ops import otel_sdk

    _provider = otel_sdk.build(exporter)
    telemetry.enable(_provider.get_tracer("cartwright"))
    return True


def provider() -> TracerProvider | None:
    return _provider


def instrument(app: FastAPI) -> None:
    """A server span per request (named by its route template), continuing an incoming
    `traceparent`; nothing when tracing is off."""
    if _provider is None:
        return
    from cartwright.ops import otel_sdk

    otel_sdk.instrument(app, _provider)


def shutdown() -> None:
    """Export what is still buffered (at the end of the process)."""
    global _provider
    if _provider is None:
        return
    from cartwright.ops import otel_sdk

    telemetry.disable()
    otel_sdk.shutdown(_provider)
    _provider = None
