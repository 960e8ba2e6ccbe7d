"""Traced and metered event bus: wraps any adapter, so embedded traces look like production.

Spans follow the OpenTelemetry messaging semantic conventions: ``<topic> publish``
(PRODUCER) around a publish, ``<topic> process`` (CONSUMER) around each handler call,
linked by the W3C ``traceparent``/``tracestate`` headers injected into the message.
The contrib aiokafka instrumentation is not used: it would trace only the Kafka adapter
and would duplicate these spans there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, Counter

from lakecache.core.contracts.topics import Topic
from lakecache.core.ports.bus import EventBus, Header, Message, MessageHandler, RetryPolicy, Subscription

_TRACE_HEADERS = {"traceparent", "tracestate", "baggage"}


class _HeaderSetter(Setter[list[Header]]):
    def set(self, carrier: list[Header], key: str, value: str) -> None:
        carrier.append((key, value.encode()))


class _HeaderGetter(Getter[Sequence[Header]]):
    def get(self, carrier: Sequence[Header], key: str) -> list[str] | None:
        values = [v.decode(errors="replace") for k, v in carrier if k == key]
        return values or None

    def keys(self, carrier: Sequence[Header]) -> list[str]:
        return [k for k, _ in carrier]


_SETTER = _HeaderSetter()
_GETTER = _HeaderGetter()


class BusMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "lakecache_bus_published_messages", "Messages published", ["topic"], registry=registry
        )
        self.processed = Counter(
            "lakecache_bus_processed_messages", "Handler calls by outcome", ["topic", "group", "outcome"],
            registry=registry,
        )


class TracedEventBus(EventBus):
    """Delegates to ``inner``, adding spans, trace headers and Prometheus counters."""

    system: ClassVar[str] = "traced"

    def __init__(self, inner: EventBus, tracer_provider: trace.TracerProvider, registry: CollectorRegistry) -> None:
        self.inner = inner
        self.url = inner.url
        self._tracer = tracer_provider.get_tracer("lakecache.bus")
        self._metrics = BusMetrics(registry)

    async def __aenter__(self) -> TracedEventBus:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.inner.__aexit__(*exc_info)

    def _attributes(self, topic: str, operation: str) -> dict[str, str]:
        return {
            "messaging.system": self.inner.system,
            "messaging.destination.name": topic,
            "messaging.operation.type": operation,
            "messaging.operation.name": operation,
        }

    async def ensure_topics(self, topics: Sequence[Topic]) -> None:
        await self.inner.ensure_topics(topics)

    async def publish(
        self, topic: str, value: bytes | None, *, key: bytes | None = None, headers: Sequence[Header] = ()
    ) -> None:
        with self._tracer.start_as_current_span(
            f"{topic} publish", kind=SpanKind.PRODUCER, attributes=self._attributes(topic, "publish")
        ) as span:
            if key is not None:
                span.set_attribute("messaging.kafka.message.key", key.decode(errors="replace"))
            carried = [h for h in headers if h[0] not in _TRACE_HEADERS]
            propagate.inject(carried, setter=_SETTER)
            await self.inner.publish(topic, value, key=key, headers=carried)
        self._metrics.published.labels(topic).inc()

    async def subscribe(
        self, topics: Sequence[str], *, group: str, handler: MessageHandler, retry: RetryPolicy = RetryPolicy()
    ) -> Subscription:
        async def traced(message: Message) -> None:
            parent = propagate.extract(message.headers, getter=_GETTER)
            attributes = {
                **self._attributes(message.topic, "process"),
                "messaging.consumer.group.name": group,
                "messaging.destination.partition.id": str(message.partition),
                "messaging.kafka.offset": message.offset,
            }
            with self._tracer.start_as_current_span(
                f"{message.topic} process", context=parent, kind=SpanKind.CONSUMER, attributes=attributes,
                record_exception=True, set_status_on_exception=True,
            ) as span:
                try:
                    await handler(message)
                except Exception as exc:
                    span.set_status(Status(StatusCode.ERROR, str(exc)))
                    self._metrics.processed.labels(message.topic, group, "error").inc()
                    raise
            self._metrics.processed.labels(message.topic, group, "ok").inc()

        return await self.inner.subscribe(topics, group=group, handler=traced, retry=retry)

    async def consumer_lag(self, group: str, topic: str) -> int:
        return await self.inner.consumer_lag(group, topic)

    async def ping(self) -> None:
        await self.inner.ping()
