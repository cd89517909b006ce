"""Traces: a server exporting OTLP/HTTP to a receiver this test runs, and the seam in
process (outgoing httpx calls carry the trace, attributes carry no secret)."""

from __future__ import annotations

import asyncio
import gzip
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cartwright.kit import telemetry
from cartwright.migrations.runner import upgrade
from cartwright.ops import tracing
from tests.conftest import ADMIN_KEY, SECRET_KEY, Server, start_server
from tests.factories import checkout, create_product, ready_cart


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    links: list[str]  # trace ids


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver: decodes each `/v1/traces` protobuf body it is sent."""

    url: str
    spans: list[ReceivedSpan] = field(default_factory=list)

    def of_trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in self.spans if s.trace_id == trace_id]

    def wait_for(self, names: set[str], trace_id: str, timeout: float = 20) -> list[ReceivedSpan]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            spans = self.of_trace(trace_id)
            if names <= {s.name for s in spans}:
                return spans
            time.sleep(0.1)
        raise AssertionError((names, sorted({s.name for s in self.of_trace(trace_id)})))


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    spans: list[ReceivedSpan] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert self.path == "/v1/traces", self.path
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    for s in scope.spans:
                        spans.append(
                            ReceivedSpan(
                                name=s.name,
                                trace_id=s.trace_id.hex(),
                                span_id=s.span_id.hex(),
                                parent_span_id=s.parent_span_id.hex(),
                                kind=s.kind,
                                attributes={a.key: _value(a.value) for a in s.attributes},
                                links=[link.trace_id.hex() for link in s.links],
                            )
                        )
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{httpd.server_address[1]}", spans)
    finally:
        httpd.shutdown()


@pytest.fixture
def traced_server(receiver: Receiver, tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path / 'traced.db'}"
    upgrade(url)
    server = start_server(
        url,
        tmp_path / "traced.log",
        extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_SERVICE_NAME": "cartwright-test",
            "CARTWRIGHT_LOG_LEVEL": "info",
        },
    )
    try:
        yield server
    finally:
        server.stop()


def _assert_nothing_secret(spans: list[ReceivedSpan], *secrets_: str) -> None:
    for s in spans:
        for key, value in s.attributes.items():
            text = str(value)
            for secret in secrets_:
                assert secret not in text, (s.name, key, value)


CHECKOUT_SPANS = {
    "POST /v1/carts/{cart_id}/checkout",
    "checkout.read",
    "checkout.commit_1",
    "checkout.provider_call",
    "payments.authorize",
    "checkout.commit_2",
    "db.batch",
}


async def test_a_checkout_continues_the_callers_trace(
    traced_server: Server, receiver: Receiver
) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    async with httpx.AsyncClient(
        base_url=traced_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as admin:
        sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
        cart_id = (await ready_cart(admin, [(sku, 1)]))["id"]
        response = await admin.post(
            f"/v1/carts/{cart_id}/checkout",
            json={"payment": {"method": "card", "token": "tok_visa"}},
            headers={
                "Idempotency-Key": uuid.uuid4().hex,
                "traceparent": f"00-{trace_id}-{parent_id}-01",
            },
        )
    assert response.status_code == 201, response.text

    spans = receiver.wait_for(CHECKOUT_SPANS, trace_id)
    by_name = {s.name: s for s in spans}
    request_span = by_name["POST /v1/carts/{cart_id}/checkout"]
    assert request_span.parent_span_id == parent_id  # continued, not a new trace
    assert request_span.attributes["cartwright.request_id"] == response.headers["request-id"]
    assert request_span.attributes["http.route"] == "/v1/carts/{cart_id}/checkout"
    # The steps hang under the request; the provider's call under the step that makes it.
    ids = {s.span_id: s for s in spans}

    def ancestors(s: ReceivedSpan) -> set[str]:
        seen = set()
        while s.parent_span_id in ids:
            s = ids[s.parent_span_id]
            seen.add(s.name)
        return seen

    for step in ("checkout.read", "checkout.commit_1", "checkout.provider_call"):
        assert request_span.name in ancestors(by_name[step]), step
    assert "checkout.provider_call" in ancestors(by_name["payments.authorize"])
    assert by_name["payments.authorize"].attributes["payment.outcome"] in ("captured", "authorized")
    batches = [s for s in spans if s.name == "db.batch"]
    assert any("checkout.commit_1" in ancestors(s) for s in batches)
    assert any("checkout.commit_2" in ancestors(s) for s in batches)
    _assert_nothing_secret(
        spans, "tok_visa", "ada@example.com", ADMIN_KEY, SECRET_KEY, response.json()["access_token"]
    )

    # The request's log line names the trace and span it ran in.
    lines = [json.loads(line) for line in traced_server.log_path.read_text().splitlines()]
    request_lines = [
        line
        for line in lines
        if line.get("event") == "request"
        and line.get("request_id") == response.headers["request-id"]
    ]
    assert request_lines and request_lines[0]["trace_id"] == trace_id, request_lines
    assert request_lines[0]["span_id"] == request_span.span_id


async def test_recovery_links_its_run_to_the_checkouts_trace(
    traced_server: Server, receiver: Receiver
) -> None:
    trace_id = secrets.token_hex(16)
    async with httpx.AsyncClient(
        base_url=traced_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as admin:
        sku = (await create_product(admin, stock=2))["variants"][0]["sku"]
        cart_id = (await ready_cart(admin, [(sku, 1)]))["id"]
        response = await admin.post(
            f"/v1/carts/{cart_id}/checkout",
            json={"payment": {"method": "card", "token": "tok_timeout"}},
            headers={
                "Idempotency-Key": uuid.uuid4().hex,
                "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
            },
        )
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 20
    linked: list[ReceivedSpan] = []
    while time.monotonic() < deadline and not linked:
        linked = [s for s in receiver.spans if s.name == "checkout.recover" and trace_id in s.links]
        await asyncio.sleep(0.2)
    assert linked, sorted({s.name for s in receiver.spans})
    recovery = linked[0]
    assert recovery.trace_id != trace_id  # a run of its own, linked to the checkout
    names = {s.name for s in receiver.of_trace(recovery.trace_id)}
    assert "payments.retrieve" in names, names


async def test_a_checkout_with_a_traceparent_but_tracing_off_answers_as_usual(
    admin: httpx.AsyncClient,
) -> None:
    sku = (await create_product(admin, stock=1))["variants"][0]["sku"]
    cart_id = (await ready_cart(admin, [(sku, 1)]))["id"]
    admin.headers["traceparent"] = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    try:
        assert (await checkout(admin, cart_id)).status_code == 201
    finally:
        del admin.headers["traceparent"]


@pytest.fixture
def in_process_tracing() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure(exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()
    assert not telemetry.enabled()


def test_outgoing_httpx_calls_carry_the_trace(in_process_tracing: InMemorySpanExporter) -> None:
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("traceparent"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with telemetry.span("webhook.send"):
            trace_id = telemetry.ids()
            httpx.get(f"http://127.0.0.1:{httpd.server_address[1]}/hook")
            injected = telemetry.inject({})
    finally:
        httpd.shutdown()
    assert trace_id is not None
    assert seen and seen[0] is not None and seen[0].split("-")[1] == trace_id[0], seen
    assert injected["traceparent"].split("-")[1] == trace_id[0]


def test_no_secret_leaves_in_an_attribute(in_process_tracing: InMemorySpanExporter) -> None:
    unsafe = {
        "email": "ada@example.com",
        "card": "4242 4242 4242 4242",
        "key": "sk_live_abcdefghijkl",
        "payment_token": "tok_visa",
        "order_token": "otok_abcdefghijkl",
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        "header": "Bearer abc",
    }
    with telemetry.span("t", {**unsafe, "order.id": "ord_123", "count": 3}) as span:
        span.set_attribute("later", "ada@example.com")  # set directly: the exporter scrubs
        telemetry.annotate("annotated", "sk_test_abcdefghijkl")
    provider = tracing.provider()
    assert provider is not None
    provider.force_flush()
    exported = in_process_tracing.get_finished_spans()
    assert len(exported) == 1
    attributes = dict(exported[0].attributes or {})
    for key in (*unsafe, "later", "annotated"):
        assert attributes[key] == telemetry.REFUSED, (key, attributes[key])
    assert attributes["order.id"] == "ord_123" and attributes["count"] == 3


def test_the_seam_is_inert_when_tracing_is_off() -> None:
    assert not telemetry.enabled()
    assert telemetry.span("x", {"a": 1}) is telemetry.NO_SPAN
    with telemetry.span("x") as span:
        span.set_attribute("a", "b")
    assert telemetry.traceparent() is None and telemetry.ids() is None
    assert telemetry.inject({}) == {}


def test_an_unsampled_trace_records_no_child_spans(
    in_process_tracing: InMemorySpanExporter,
) -> None:
    """Children of a span the sampler dropped are skipped outright (the samplers are
    parent-based): an unsampled request pays for no span objects and no scrubbing."""
    unsampled = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=0x1234, span_id=0x5678, is_remote=True, trace_flags=trace.TraceFlags(0)
        )
    )
    with trace.use_span(unsampled):
        assert not telemetry.recording()
        assert telemetry.span("checkout.read", {"email": "ada@example.com"}) is telemetry.NO_SPAN
    # A root, or a child of a sampled span, is recorded as before.
    assert telemetry.recording()
    with telemetry.span("root"):
        assert telemetry.recording()
        with telemetry.span("child"):
            pass
    provider = tracing.provider()
    assert provider is not None
    provider.force_flush()
    assert sorted(s.name for s in in_process_tracing.get_finished_spans()) == ["child", "root"]
