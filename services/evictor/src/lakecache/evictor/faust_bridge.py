"""Faust on the shared contracts: the topic catalog, CloudEvents binary mode and dead letters.

Faust agents see the same typed ``Event`` objects that ``dispatcher`` hands to aiokafka
handlers, and what Faust produces is byte for byte what ``KafkaEventBus`` produces (same
``ce_*`` headers, JSON value, key and partitioner), so either side can consume the other's
events. Undecodable messages go to ``<topic>.dlq`` with the ``dlq-*`` headers of
``lakecache.core.adapters.bus.delivery``. See docs/adr/0003-faust-shares-contracts.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit
from weakref import WeakKeyDictionary

import faust
from faust.exceptions import ValueDecodeError
from faust.types import AppT, RecordMetadata
from faust.types import Message as FaustMessage
from opentelemetry import propagate

from lakecache.core.adapters.bus.delivery import dead_letter_headers
from lakecache.core.contracts import Event, EventData, Topic, decode, encode, route
from lakecache.core.contracts.topics import dead_letter_topic
from lakecache.core.errors import ConfigurationError
from lakecache.core.ports.bus import Header, Message, PoisonMessage

log = logging.getLogger(__name__)

_DLQ_ATTEMPTS = 1  # decoding is deterministic: retrying a poison message cannot help
_DLQ_PARTITIONS = 1  # as KafkaEventBus creates dead-letter topics

# Declared topics per app, so each topic is created once and reused by every send.
_declared: WeakKeyDictionary[AppT, dict[str, faust.TopicT]] = WeakKeyDictionary()


def _headers(message: FaustMessage) -> list[Header]:
    # aiokafka hands Faust a sequence of (name, bytes); Faust's own test helpers and some
    # transports use a dict. Both are accepted; a dict cannot hold duplicates anyway.
    raw = message.headers
    if raw is None:
        return []
    items: Iterable[tuple[str, Any]] = raw.items() if isinstance(raw, Mapping) else raw
    return [(str(name), bytes(value) if value is not None else b"") for name, value in items]


def bus_message(message: FaustMessage) -> Message:
    """A Faust message as the bus port's ``Message`` (for ``dead_letter_headers``)."""
    timestamp = getattr(message, "timestamp", None)
    return Message(
        topic=message.topic,
        value=message.value,
        key=message.key,
        headers=tuple(_headers(message)),
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(timestamp * 1000) if timestamp is not None else None,
    )


class CloudEventSchema(faust.Schema):
    """Decodes key and value as raw bytes and the value plus headers into a typed ``Event``."""

    def __init__(self) -> None:
        super().__init__(key_serializer="raw", value_serializer="raw", allow_empty=False)

    def loads_value(self, app: AppT, message: FaustMessage, *, loads: Any = None, serializer: Any = None) -> Any:
        try:
            return decode(_headers(message), message.value)
        except Exception as exc:  # noqa: BLE001 - any message that cannot become an event is poison
            # Same wording and type as ``dispatcher`` raises, so dead letters from Faust and
            # from aiokafka consumers look alike to whoever replays them.
            poison = PoisonMessage(
                f"{message.topic}[{message.partition}]@{message.offset} is not a valid event: {exc}"
            )
            raise ValueDecodeError(str(poison)) from poison


class CatalogTopic(faust.Topic):
    """A Faust topic that dead-letters undecodable messages instead of failing the agent.

    Faust's default hands the error to the agent's stream, which crashes the agent; the
    conductor has acked the message by then, so the error is all that is left of it.
    """

    async def on_value_decode_error(self, exc: Exception, message: FaustMessage) -> None:
        error = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
        origin = bus_message(message)
        group = self.app.conf.id
        log.error("dead-lettering %s[%s]@%s for Faust app %s: %s",
                  origin.topic, origin.partition, origin.offset, group, error)
        await dead_letter(self.app, origin, dead_letter_headers(origin, error, _DLQ_ATTEMPTS, group))

    async def on_key_decode_error(self, exc: Exception, message: FaustMessage) -> None:
        # Keys are raw bytes and cannot fail to decode; kept symmetrical for safety.
        await self.on_value_decode_error(exc, message)


def catalog_topic(app: AppT, topic: Topic) -> CatalogTopic:
    """The Faust topic of a concrete catalog ``topic`` (partitions, retention, cleanup
    policy from the spec; raw key; values decoded to ``Event``).

    Raises ``ValueError`` for a per-site family: pass ``topic.for_site(site)``.
    """
    if topic.per_site:
        raise ValueError(f"topic {topic.name!r} is a per-site family; use topic.for_site(<site>) first")
    return CatalogTopic(
        app,
        topics=[topic.name],
        schema=CloudEventSchema(),
        partitions=topic.partitions,
        retention=topic.retention,
        compacting=topic.compacted,
        # ``config`` wins over Faust's own flags on creation; it also says "keep forever"
        # (retention.ms=-1) for retention None, which Faust cannot express.
        config=topic.config(),
    )


async def declared_topic(app: AppT, topic: Topic) -> faust.TopicT:
    """``catalog_topic(app, topic)``, created on the broker on first use (needs the producer)."""
    topics = _declared.setdefault(app, {})
    found = topics.get(topic.name)
    if found is None:
        found = catalog_topic(app, topic)
        await found.declare()
        topics[topic.name] = found
    return found


async def dead_letter(app: AppT, message: Message, headers: list[Header]) -> None:
    """Publish ``message`` unchanged to ``<topic>.dlq`` with ``headers`` and wait for the ack."""
    target = await declared_topic(app, Topic(dead_letter_topic(message.topic), _DLQ_PARTITIONS, "", None))
    sent = await target.send(key=message.key, value=message.value, headers=headers, force=True)
    await sent


async def send_event(app: AppT, event: Event[EventData], *, wait: bool = True) -> Any:
    """Route ``event`` by the topic catalog, encode it as a CloudEvent and send it through
    Faust's producer, with the W3C trace context of the current span.

    With ``wait`` it returns the broker's ``RecordMetadata``; without, a future of it (Faust
    flushes its producer before committing offsets, so at-least-once holds either way).
    """
    spec, key = route(event)
    encoded = encode(event)
    headers = list(encoded.headers)
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    headers.extend((name, value.encode()) for name, value in carrier.items())
    topic = await declared_topic(app, spec)
    sent = await topic.send(key=key, value=encoded.value, headers=headers)
    if not wait:
        return sent
    metadata: RecordMetadata = await sent
    return metadata


def faust_broker(url: str) -> tuple[list[str], dict[str, Any]]:
    """``kafka://h1:p1,h2:p2?client_id=…&replication=N`` as Faust broker URLs plus settings."""
    parts = urlsplit(url)
    if parts.scheme != "kafka" or not parts.netloc:
        raise ConfigurationError(f"Faust needs a Kafka URL like kafka://host:9092, got {url!r}")
    hosts = [host for host in parts.netloc.split(",") if host]
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    settings: dict[str, Any] = {
        # Without a replication hint, as many replicas as brokers listed, at most three
        # (KafkaEventBus asks the cluster instead; an app factory must not do I/O).
        "topic_replication_factor": int(query.get("replication", min(3, len(hosts)))),
    }
    if "client_id" in query:
        settings["broker_client_id"] = query["client_id"]
    return [f"kafka://{host}" for host in hosts], settings


def create_app(app_id: str, broker_url: str, *, datadir: str | os.PathLike[str], topic_partitions: int = 6,
               store: str = "memory://", **conf: Any) -> faust.App:
    """A Faust app on the project's bus URL, configured for the catalog's topics.

    ``topic_partitions`` must equal the partitions of the source topics (tables are
    co-partitioned with them); the catalog's keyed-by-site topics have 6. The web server is
    off unless ``web_enabled=True`` (with ``web_port``) is passed. ``datadir`` is where Faust
    keeps its table state; it is required because Faust's default is the working directory.
    No I/O happens here.
    """
    brokers, broker_settings = faust_broker(broker_url)
    settings: dict[str, Any] = {
        **broker_settings,
        "store": store,
        "datadir": os.fspath(datadir),
        "topic_partitions": topic_partitions,
        "topic_allow_declare": True,
        "processing_guarantee": "at_least_once",
        "autodiscover": False,
        "web_enabled": False,
        **conf,
    }
    return faust.App(app_id, broker=brokers, **settings)
