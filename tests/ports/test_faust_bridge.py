"""Faust and the aiokafka adapter share the topic catalog and CloudEvents, on the real broker.

The Faust app runs in-process (``await app.start()`` / ``await app.stop()`` on the test's
event loop), next to a ``KafkaEventBus`` that plays the other services.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import faust
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.partitioner import DefaultPartitioner
from faust.exceptions import ValueDecodeError
from faust.types.tuples import Message as FaustMessage

from lakecache.core.adapters.bus.kafka import KafkaEventBus
from lakecache.core.contracts import ROUTES, Event, Topic, dead_letter_topic, decode, encode, new_event
from lakecache.core.contracts.cache import CacheEvictionRequested
from lakecache.core.contracts.usage import DatasetRead
from lakecache.core.ports.bus import (
    DLQ_ATTEMPTS,
    DLQ_ERROR,
    DLQ_ERROR_TYPE,
    DLQ_GROUP,
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_TOPIC,
    Message,
)
from lakecache.core.publishing import EventPublisher
from lakecache.evictor.faust_bridge import CloudEventSchema, catalog_topic, create_app, send_event
from tests.support.waiting import eventually

pytestmark = pytest.mark.kafka

COMMIT = "c" * 64
PARTITIONS = 3


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def read(site: str, reader: str) -> DatasetRead:
    return DatasetRead(project="p", site=site, volume="fast", dataset_id="d-1", commit_id=COMMIT,
                       reader=reader, cache_hit=True, bytes_read=1024)


class Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)


@dataclass
class Evictor:
    """A tiny evictor: counts reads per site and answers each read with an eviction request."""

    app: faust.App
    source: faust.TopicT
    reads: faust.Table
    received: list[Event] = field(default_factory=list)

    def count(self, site: str) -> int:
        return self.reads.get(site, 0)


def build_evictor(broker_url: str, reads_topic: Topic, datadir) -> Evictor:
    app = create_app(unique("test-evictor"), broker_url, datadir=datadir, topic_partitions=reads_topic.partitions,
                     broker_commit_every=1, broker_commit_interval=0.2)
    evictor = Evictor(app, catalog_topic(app, reads_topic), app.Table("reads-per-site", default=int))

    @app.agent(evictor.source)
    async def count_reads(stream):
        async for event in stream:
            evictor.received.append(event)
            data = event.data
            evictor.reads[data.site] += 1
            request = CacheEvictionRequested(
                decision_id=event.id, site=data.site, volume=data.volume, commit_id=data.commit_id,
                dataset_id=data.dataset_id, reason="manual", dry_run=True,
                explanation=f"read {evictor.reads[data.site]} by {data.reader}",
            )
            await send_event(app, new_event(request, service="evictor"))

    return evictor


@pytest.fixture
def topics(monkeypatch) -> tuple[Topic, Topic]:
    """Unique topics for this test, routed through the real catalog lookup (``route``)."""
    reads = Topic(unique("test-faust-reads"), PARTITIONS, "site", timedelta(hours=1))
    evictions = Topic(unique("test-faust-evictions") + ".{site}", PARTITIONS, "commit_id", None)
    monkeypatch.setitem(ROUTES, DatasetRead.event_type, reads)
    monkeypatch.setitem(ROUTES, CacheEvictionRequested.event_type, evictions)
    return reads, evictions


@pytest.fixture
async def bus(kafka_server):
    async with KafkaEventBus.from_url(kafka_server.url, client_id="faust-bridge-test") as bus:
        yield bus


@pytest.fixture
async def evictor(kafka_server, topics, tmp_path):
    reads, _ = topics
    evictor = build_evictor(kafka_server.url, reads, tmp_path / "faust")
    # Faust creates only its internal topics; the source topic is declared from the catalog spec.
    await evictor.source.declare()
    try:
        await evictor.app.start()
        yield evictor
    finally:
        await evictor.app.stop()


def test_schema_decodes_headers_given_as_list_or_dict(tmp_path):
    app = create_app(unique("test-schema"), "kafka://127.0.0.1:1", datadir=tmp_path)
    encoded = encode(new_event(read("site-a", "job-1"), service="sdk"))

    def message(headers, value=encoded.value):
        return FaustMessage("t", 0, 7, 0.0, 0, headers, b"site-a", value, None)

    schema = CloudEventSchema()
    for headers in (encoded.headers, dict(encoded.headers)):
        event = schema.loads_value(app, message(headers))
        assert isinstance(event.data, DatasetRead) and event.data.reader == "job-1"
    with pytest.raises(ValueDecodeError, match=r"t\[0\]@7 is not a valid event"):
        schema.loads_value(app, message(None, b"{}"))


async def test_faust_declares_source_topic_from_catalog_spec(kafka_server, topics, evictor):
    reads, _ = topics
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_server.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([reads.name])
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, reads.name)])
    finally:
        await admin.close()
    assert len(described[0]["partitions"]) == reads.partitions
    entries = {entry[0]: entry[1] for entry in configs[0].resources[0][4]}
    assert {k: entries[k] for k in reads.config()} == reads.config()


async def test_agent_gets_typed_events_counts_them_and_its_events_decode_on_the_bus(bus, topics, evictor):
    _, evictions = topics
    sites = {"site-a": 3, "site-b": 1}
    outputs = [evictions.for_site(site) for site in sites]
    await bus.ensure_topics(outputs)
    answers = Collector()
    await bus.subscribe([t.name for t in outputs], group=unique("g"), handler=answers)

    publisher = EventPublisher(bus, "sdk")
    sent = [await publisher.emit(read(site, f"job-{i}")) for site, n in sites.items() for i in range(n)]

    await eventually(lambda: len(evictor.received) == 4, timeout=30, message="4 reads at the Faust agent")
    assert all(isinstance(event.data, DatasetRead) for event in evictor.received)
    assert sorted(e.id for e in evictor.received) == sorted(e.id for e in sent)
    by_id = {e.id: e for e in evictor.received}
    for original in sent:
        got = by_id[original.id]
        assert (got.type, got.source, got.data) == ("lakecache.dataset.read", "/lakecache/sdk", original.data)
    assert {site: evictor.count(site) for site in sites} == sites

    await eventually(lambda: len(answers.messages) == 4, timeout=30, message="4 eviction requests on the bus")
    partitioner = DefaultPartitioner()
    for message in answers.messages:
        event = decode(message.headers, message.value)
        assert isinstance(event.data, CacheEvictionRequested)
        assert event.type == "lakecache.cache.eviction.requested" and event.source == "/lakecache/evictor"
        assert event.data.decision_id in by_id
        assert message.topic == evictions.for_site(event.data.site).name
        assert message.key == COMMIT.encode()
        # Same bytes and the same partition as KafkaEventBus would have produced.
        assert message.value == encode(event).value
        assert [h for h in message.headers if h[0] != "traceparent"] == encode(event).headers
        assert message.partition == partitioner(message.key, list(range(PARTITIONS)), list(range(PARTITIONS)))
        headers = dict(message.headers)
        assert headers["ce_type"] == b"lakecache.cache.eviction.requested"
        assert headers["ce_specversion"] == b"1.0" and headers["ce_id"] == event.id.encode()
    explanations = sorted(decode(m.headers, m.value).data.explanation.split(" by ")[0] for m in answers.messages)
    assert explanations == ["read 1", "read 1", "read 2", "read 3"]


async def test_poison_message_is_dead_lettered_and_agent_keeps_going(bus, topics, evictor):
    reads, _ = topics
    dlq = dead_letter_topic(reads.name)
    dead = Collector()
    await bus.subscribe([dlq], group=unique("g"), handler=dead)

    no_cloudevent = (b"{not json", [("x-origin", b"test")])
    valid = encode(new_event(read("site-a", "job-1"), service="sdk"))
    bad_json = (b"{broken", valid.headers)
    for value, headers in (no_cloudevent, bad_json):
        await bus.publish(reads.name, value, key=b"site-a", headers=headers)
    after = await EventPublisher(bus, "sdk").emit(read("site-a", "job-2"))

    await eventually(lambda: [e.id for e in evictor.received] == [after.id], timeout=30,
                     message="the valid event after the poison ones at the agent")
    await eventually(lambda: len(dead.messages) == 2, timeout=30, message="2 dead letters")
    for message, (value, headers) in zip(dead.messages, (no_cloudevent, bad_json), strict=True):
        assert message.value == value and message.key == b"site-a"
        assert list(message.headers[: len(headers)]) == headers
        assert message.header(DLQ_TOPIC) == reads.name.encode()
        assert message.header(DLQ_GROUP) == evictor.app.conf.id.encode()
        assert message.header(DLQ_ATTEMPTS) == b"1"
        assert message.header(DLQ_ERROR_TYPE) == b"lakecache.core.ports.bus.PoisonMessage"
        assert b"is not a valid event" in message.header(DLQ_ERROR)
        assert int(message.header(DLQ_PARTITION)) in range(PARTITIONS)
        assert int(message.header(DLQ_OFFSET)) >= 0
    # Both poison messages sat before the valid one in the same partition (same key).
    offsets = [int(m.header(DLQ_OFFSET)) for m in dead.messages]
    assert offsets == sorted(offsets) and len({m.header(DLQ_PARTITION) for m in dead.messages}) == 1
    assert evictor.count("site-a") == 1
