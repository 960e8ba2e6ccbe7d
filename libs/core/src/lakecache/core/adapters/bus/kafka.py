"""Kafka event bus on aiokafka (``kafka://host:port[,host:port][?client_id=…&replication=N]``).

* Producer: idempotent, ``acks=all`` — a publish returns once all in-sync replicas have it,
  and retries cannot duplicate or reorder messages within a partition.
* Consumers: one aiokafka consumer per subscription, auto-commit off. Each poll's records
  are handled partition by partition, in order; the partition's offset is committed after
  its records were handled (or dead-lettered). A crash before the commit redelivers them.
* Rebalance: the revocation callback waits for the batch in flight, so a partition is
  committed before it moves to another member; a commit that still loses the race
  (``CommitFailedError``) only means redelivery, which handlers tolerate.
* Topics: created through the admin client with the partitions and configuration of the
  topic catalog; publishing to a topic not yet created creates it first, so production
  clusters can keep ``auto.create.topics.enable=false``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaConnectionError, KafkaError

from lakecache.core.adapters.bus.delivery import deliver, log_if_crashed
from lakecache.core.contracts.topics import Topic, dead_letter_topic, topic_spec
from lakecache.core.errors import ConfigurationError
from lakecache.core.ports.bus import (
    EventBus,
    Header,
    Message,
    MessageHandler,
    NotFound,
    RetryPolicy,
    Subscription,
    Unavailable,
    validate_topic_name,
)

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36
_MAX_RECORDS = 100
_MIN_PAUSE, _MAX_PAUSE = 0.5, 30.0
_DLQ_PARTITIONS = 1


class _Revocation(ConsumerRebalanceListener):
    def __init__(self, subscription: _KafkaSubscription) -> None:
        self._subscription = subscription

    async def on_partitions_revoked(self, revoked: object) -> None:
        # Wait for the batch in flight: it commits before the partitions move on.
        async with self._subscription.processing:
            pass

    async def on_partitions_assigned(self, assigned: object) -> None:
        return None


class _KafkaSubscription(Subscription):
    def __init__(self, bus: KafkaEventBus, topics: Sequence[str], group: str, handler: MessageHandler,
                 retry: RetryPolicy) -> None:
        self._bus = bus
        self.topics = tuple(topics)
        self.group = group
        self._handler = handler
        self._retry = retry
        self.processing = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bus.bootstrap,
            group_id=group,
            client_id=f"{bus.client_id}-{group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=_MAX_RECORDS,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer.subscribe(list(self.topics), listener=_Revocation(self))
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"kafka-bus:{self.group}")
        self._task.add_done_callback(log_if_crashed)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        pause = _MIN_PAUSE
        while not self._stopping.is_set():
            try:
                batches = await self._consumer.getmany(timeout_ms=200, max_records=_MAX_RECORDS)
                for tp, records in batches.items():
                    async with self.processing:
                        await self._handle_batch(tp, records)
                    if self._stopping.is_set():
                        return
                pause = _MIN_PAUSE
            except (KafkaError, Unavailable) as exc:
                # The broker (or the dead-letter publish) failed: the failed record was
                # rewound in _handle_batch, so waiting and polling again loses nothing.
                log.warning("consumer of group %s: %s; retrying in %.1fs", self.group, exc, pause)
                await asyncio.sleep(pause)
                pause = min(_MAX_PAUSE, pause * 2)

    async def _handle_batch(self, tp: TopicPartition, records: list) -> None:
        next_offset = None
        try:
            for record in records:
                if self._stopping.is_set() or tp not in self._consumer.assignment():
                    break
                message = Message(
                    topic=record.topic,
                    value=record.value,
                    key=record.key,
                    headers=tuple(record.headers or ()),
                    partition=record.partition,
                    offset=record.offset,
                    timestamp_ms=record.timestamp,
                )
                try:
                    await deliver(message, self._handler, self._retry, self.group, self._bus.dead_letter)
                except (KafkaError, Unavailable):
                    # Not handled and not dead-lettered: fetch it again on the next poll.
                    self._consumer.seek(tp, record.offset)
                    raise
                next_offset = record.offset + 1
        finally:
            if next_offset is not None:
                await self._commit(tp, next_offset)

    async def _commit(self, tp: TopicPartition, next_offset: int) -> None:
        try:
            await self._consumer.commit({tp: next_offset})
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("commit of %s@%d for group %s lost to a rebalance; the records will be "
                        "delivered again: %s", tp, next_offset, self.group, exc)

    async def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._task is not None:
            try:
                await self._task
            except KafkaError as exc:
                log.warning("consumer of group %s ended with %s", self.group, exc)
        await self._consumer.stop()


class KafkaEventBus(EventBus):
    """Kafka adapter; see the module docstring."""

    system: ClassVar[str] = "kafka"

    def __init__(self, bootstrap: str, *, client_id: str = "lakecache", replication: int | None = None,
                 request_timeout_ms: int = 30_000) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.url = f"kafka://{bootstrap}"
        self._replication = replication
        self._request_timeout_ms = request_timeout_ms
        self._subscriptions: list[_KafkaSubscription] = []
        self._known_topics: set[str] = set()
        self._topic_lock = asyncio.Lock()
        self._producer: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None

    @classmethod
    def from_url(cls, url: str, **options: object) -> KafkaEventBus:
        parts = urlsplit(url)
        if not parts.netloc:
            raise ConfigurationError(f"Kafka URL {url!r} names no broker: use kafka://host:port[,host:port]")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if "client_id" in query:
            options.setdefault("client_id", query["client_id"])
        if "replication" in query:
            options.setdefault("replication", int(query["replication"]))
        return cls(parts.netloc, **options)  # type: ignore[arg-type]

    async def __aenter__(self) -> KafkaEventBus:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            request_timeout_ms=self._request_timeout_ms,
        )
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-admin",
            request_timeout_ms=self._request_timeout_ms,
        )
        try:
            await self._producer.start()
            await self._admin.start()
        except KafkaConnectionError as exc:
            await self.__aexit__(None, None, None)
            raise Unavailable(f"cannot reach Kafka at {self.bootstrap}: {exc}; check LAKECACHE_BUS_URL") from exc
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for subscription in self._subscriptions:
            await subscription.stop()
        self._subscriptions.clear()
        if self._offsets is not None:
            await self._offsets.stop()
        if self._producer is not None:
            await self._producer.stop()
        if self._admin is not None:
            await self._admin.close()

    async def _replication_factor(self) -> int:
        if self._replication is None:
            brokers = (await self._admin.describe_cluster())["brokers"]  # type: ignore[union-attr]
            self._replication = min(3, len(brokers))
        return self._replication

    async def ensure_topics(self, topics: Sequence[Topic]) -> None:
        async with self._topic_lock:
            missing = [t for t in topics if validate_topic_name(t.name) not in self._known_topics]
            if not missing:
                return
            replication = await self._replication_factor()
            response = await self._admin.create_topics(  # type: ignore[union-attr]
                [NewTopic(t.name, t.partitions, replication, topic_configs=t.config()) for t in missing]
            )
            for name, code, *message in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise Unavailable(f"could not create Kafka topic {name!r}: error {code} {message}")
            self._known_topics.update(t.name for t in missing)

    async def _ensure_topic(self, name: str) -> None:
        if name not in self._known_topics:
            spec = topic_spec(name) or Topic(name, _DLQ_PARTITIONS, "", None)
            await self.ensure_topics([Topic(name, spec.partitions, spec.key_field, spec.retention, spec.compacted)])

    async def publish(
        self, topic: str, value: bytes | None, *, key: bytes | None = None, headers: Sequence[Header] = ()
    ) -> None:
        await self._ensure_topic(topic)
        try:
            await self._producer.send_and_wait(topic, value, key=key, headers=list(headers))  # type: ignore[union-attr]
        except KafkaError as exc:
            raise Unavailable(f"publishing to Kafka topic {topic!r} failed: {exc}") from exc

    async def dead_letter(self, message: Message, headers: list[Header]) -> None:
        await self.publish(dead_letter_topic(message.topic), message.value, key=message.key, headers=headers)

    async def subscribe(
        self, topics: Sequence[str], *, group: str, handler: MessageHandler, retry: RetryPolicy = RetryPolicy()
    ) -> Subscription:
        for topic in topics:
            await self._ensure_topic(topic)
        subscription = _KafkaSubscription(self, topics, group, handler, retry)
        await subscription.start()
        self._subscriptions.append(subscription)
        return subscription

    async def consumer_lag(self, group: str, topic: str) -> int:
        described = await self._admin.describe_topics([topic])  # type: ignore[union-attr]
        partitions = [p["partition"] for d in described if d["error_code"] == 0 for p in d["partitions"]]
        if not partitions:
            raise NotFound(f"Kafka topic {topic!r} does not exist")
        if self._offsets is None:
            self._offsets = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-lag")
            await self._offsets.start()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = await self._offsets.end_offsets(tps)
        committed = await self._admin.list_consumer_group_offsets(group, partitions=tps)  # type: ignore[union-attr]
        lag = 0
        for tp in tps:
            position = committed.get(tp)
            start = position.offset if position is not None and position.offset >= 0 else 0
            lag += max(0, ends[tp] - start)
        return lag

    async def ping(self) -> None:
        try:
            await self._admin.describe_cluster()  # type: ignore[union-attr]
        except KafkaError as exc:
            raise Unavailable(f"Kafka at {self.bootstrap} does not answer: {exc}") from exc
