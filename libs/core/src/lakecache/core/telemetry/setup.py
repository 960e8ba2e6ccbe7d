"""Per-service telemetry: a tracer provider (with its ``service.name``) and a Prometheus registry.

Each service gets its own provider and registry instead of the process-global ones, so the
five services of ``lakecache up`` still appear as five services in traces and metrics.
Traces are exported over OTLP/HTTP only when an endpoint is configured; without one spans
are still created (trace context still propagates) but go nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import aiohttp
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry


@dataclass
class Telemetry:
    service: str
    tracer_provider: TracerProvider
    registry: CollectorRegistry

    def tracer(self, name: str):
        return self.tracer_provider.get_tracer(name)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()


def _package_version() -> str:
    try:
        return version("lakecache-core")
    except PackageNotFoundError:  # running from a source tree without metadata
        return "0+unknown"


def configure_telemetry(
    service: str,
    *,
    otlp_endpoint: str | None = None,
    environment: str | None = None,
    site: str | None = None,
    extra_processors: tuple[SpanProcessor, ...] = (),
) -> Telemetry:
    """Create the telemetry of one service.

    ``otlp_endpoint`` (e.g. ``http://collector:4318``) turns on OTLP/HTTP span export;
    ``extra_processors`` lets tests attach an in-memory exporter.
    """
    attributes = {
        "service.name": f"lakecache-{service}",
        "service.namespace": "lakecache",
        "service.version": _package_version(),
    }
    if environment:
        attributes["deployment.environment.name"] = environment
    if site:
        attributes["lakecache.site"] = site
    provider = TracerProvider(resource=Resource.create(attributes))
    if otlp_endpoint:
        # Imported here: the exporter pulls in protobuf, which most test runs never need.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    return Telemetry(service=service, tracer_provider=provider, registry=CollectorRegistry())


def instrument_pymongo(telemetry: Telemetry) -> None:
    """Trace MongoDB commands with the contrib PyMongo instrumentation.

    PyMongo's command listeners are process-global, so the first service to ask owns the
    spans; in production each service has its own process, and the embedded default uses
    SQLite, so the spans carry the right ``service.name`` where it matters.
    """
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    instrumentor = PymongoInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=telemetry.tracer_provider)


def traced_client_session(telemetry: Telemetry, **options: Any) -> aiohttp.ClientSession:
    """An aiohttp client session whose requests are CLIENT spans of this service and carry
    the W3C trace headers (contrib aiohttp-client instrumentation, per-service provider)."""
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config

    trace_config = create_trace_config(tracer_provider=telemetry.tracer_provider)
    return aiohttp.ClientSession(trace_configs=[trace_config, *options.pop("trace_configs", [])], **options)
