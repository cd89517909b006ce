"""With tracing on, a webhook delivery is traced on our side (`webhooks.deliver`) but the
request to the receiver carries no trace context: another company's server must not learn
our trace ids."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cartwright.kit import telemetry
from cartwright.ops import tracing
from tests.webhooks.support import Receiver, Rig


@pytest.fixture
def in_process_tracing() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure(exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()
    assert not telemetry.enabled()


async def test_a_delivery_carries_no_trace_context(
    rig: Rig, receiver: Receiver, in_process_tracing: InMemorySpanExporter
) -> None:
    await rig.endpoint(receiver.url)
    (event_id,) = await rig.emit(1)
    await rig.dispatch()
    rig.sender()
    with telemetry.span("test.outer"):
        await rig.flush()
    assert receiver.count(event_id) == 1
    assert receiver.traceparents == [None]
    provider = tracing.provider()
    assert provider is not None
    provider.force_flush()
    names = {s.name for s in in_process_tracing.get_finished_spans()}
    assert "webhooks.deliver" in names
    assert not any(n.startswith("POST") for n in names), names
