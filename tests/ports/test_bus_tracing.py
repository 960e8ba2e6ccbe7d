"""One trace spans publish → consume, through the CloudEvents encoding, on both adapters."""

import uuid

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from lakecache.core.adapters.registry import event_bus_from_url
from lakecache.core.contracts.usage import DatasetRead
from lakecache.core.dispatch import dispatcher
from lakecache.core.publishing import EventPublisher
from lakecache.core.telemetry import configure_telemetry
from lakecache.core.telemetry.bus import TracedEventBus
from tests.support.waiting import eventually

COMMIT = "ab" * 32


async def test_one_trace_spans_publish_and_process(bus_url):
    exporter = InMemorySpanExporter()
    producer_side = configure_telemetry("gateway", extra_processors=(SimpleSpanProcessor(exporter),))
    consumer_side = configure_telemetry("evictor", extra_processors=(SimpleSpanProcessor(exporter),))
    seen = []

    async def on_read(event, *, tracer):
        with tracer.start_as_current_span("evictor records the read"):
            seen.append(event)

    site = f"s-{uuid.uuid4().hex[:6]}"
    async with (
        TracedEventBus(event_bus_from_url(bus_url), producer_side.tracer_provider, CollectorRegistry()) as out_bus,
        TracedEventBus(event_bus_from_url(bus_url), consumer_side.tracer_provider, CollectorRegistry()) as in_bus,
    ):
        await in_bus.subscribe(
            ["lakecache.usage"],
            group=f"evictor-{uuid.uuid4().hex[:6]}",
            handler=dispatcher({DatasetRead: on_read}, tracer=consumer_side.tracer("test")),
        )
        request_tracer = producer_side.tracer("test")
        with request_tracer.start_as_current_span("POST /api/v1/reads", kind=SpanKind.SERVER) as root:
            await EventPublisher(out_bus, "gateway").emit(
                DatasetRead(project="p", site=site, dataset_id="d", commit_id=COMMIT, reader="run-1", cache_hit=True)
            )
        await eventually(lambda: any(e.data.site == site for e in seen), message="event consumed")
        await eventually(lambda: any(s.name == "evictor records the read" for s in exporter.get_finished_spans()),
                         message="handler span")

    trace_id = root.get_span_context().trace_id
    spans = {s.name: s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id}
    publish = spans["lakecache.usage publish"]
    process = spans["lakecache.usage process"]
    handler = spans["evictor records the read"]
    assert publish.kind is SpanKind.PRODUCER and process.kind is SpanKind.CONSUMER
    assert publish.parent.span_id == root.get_span_context().span_id
    assert process.parent.span_id == publish.context.span_id
    assert handler.parent.span_id == process.context.span_id
    assert publish.resource.attributes["service.name"] == "lakecache-gateway"
    assert process.resource.attributes["service.name"] == "lakecache-evictor"
    expected_system = "memory" if bus_url.startswith("memory") else "kafka"
    assert process.attributes["messaging.system"] == expected_system
    assert process.attributes["messaging.destination.name"] == "lakecache.usage"
    assert process.attributes["messaging.operation.type"] == "process"
