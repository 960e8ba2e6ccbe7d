"""The event-bus port: publish messages to topics, consume them in consumer groups.

Semantics every adapter provides (checked by ``tests/ports/bus_suite.py``):

* **Topics and partitions.** A message goes to one partition of its topic, chosen from its
  key; messages with the same key are delivered in the order they were published.
  Publishing to a topic that does not exist yet creates it, with the partitions and
  configuration of the topic catalog when the catalog knows it (one partition otherwise).
* **Consumer groups.** Every group receives every message of the topics it subscribes to;
  members of one group split the partitions between them. A group that subscribes for the
  first time starts from the earliest retained message.
* **At-least-once.** A message's offset is committed only after its handler returned (or
  after the message was dead-lettered). A handler that raises is retried according to its
  ``RetryPolicy`` (with backoff); a handler that raises ``PoisonMessage`` is not retried.
  When retries are exhausted, the message is published to ``<topic>.dlq`` with the
  ``DLQ_*`` headers below and consumption moves on. Handlers must therefore be idempotent.
* **Headers** are preserved byte for byte (order and duplicates included).

Exceptions: ``Unavailable`` when the bus cannot be reached, ``InvalidArgument`` for an
invalid topic name or group. ``publish`` returns once the message is durably accepted
(Kafka: acknowledged by all in-sync replicas).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from lakecache.core.contracts.topics import Topic
from lakecache.core.errors import InvalidArgument, LakeCacheError, NotFound, Unavailable

__all__ = [
    "DLQ_ATTEMPTS",
    "DLQ_ERROR",
    "DLQ_ERROR_TYPE",
    "DLQ_GROUP",
    "DLQ_OFFSET",
    "DLQ_PARTITION",
    "DLQ_TOPIC",
    "EventBus",
    "Header",
    "InvalidArgument",
    "Message",
    "MessageHandler",
    "NotFound",
    "PoisonMessage",
    "RetryPolicy",
    "Subscription",
    "Unavailable",
    "validate_topic_name",
]

# Headers added to a dead-lettered message (values are UTF-8 text).
DLQ_ERROR = "dlq-error"
DLQ_ERROR_TYPE = "dlq-error-type"
DLQ_TOPIC = "dlq-origin-topic"
DLQ_PARTITION = "dlq-origin-partition"
DLQ_OFFSET = "dlq-origin-offset"
DLQ_GROUP = "dlq-consumer-group"
DLQ_ATTEMPTS = "dlq-attempts"

Header = tuple[str, bytes]

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def validate_topic_name(name: str) -> str:
    """Kafka's topic-name rule, applied by every adapter so embedded mode refuses the same names."""
    if not _TOPIC_NAME.match(name) or name in {".", ".."}:
        raise InvalidArgument(
            f"invalid topic name {name!r}: use 1-249 characters from letters, digits, '.', '_' and '-'"
        )
    return name


@dataclass(frozen=True)
class Message:
    """A message as consumed: where it came from and what it carries."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: tuple[Header, ...] = ()
    partition: int = -1
    offset: int = -1
    timestamp_ms: int | None = None

    def header(self, name: str) -> bytes | None:
        """The last value of header ``name``, or None."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


MessageHandler = Callable[[Message], Awaitable[None]]


class PoisonMessage(LakeCacheError):
    """Raised by a handler for a message that can never succeed (it is dead-lettered at once)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing handler is tried before the message is dead-lettered."""

    attempts: int = 3
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def backoff(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failure."""
        return min(self.max_backoff, self.initial_backoff * self.multiplier ** (failed_attempts - 1))


class Subscription(ABC):
    """A running consumer-group member. ``stop`` finishes the message in flight, commits,
    and leaves the group."""

    topics: tuple[str, ...]
    group: str

    @property
    @abstractmethod
    def alive(self) -> bool:
        """True while the member consumes (false after ``stop`` or a fatal error)."""

    @abstractmethod
    async def stop(self) -> None: ...


class EventBus(ABC):
    """Publish/subscribe over topics (see the module docstring for the guarantees)."""

    #: value of the ``messaging.system`` telemetry attribute
    system: ClassVar[str]
    url: str

    @abstractmethod
    async def __aenter__(self) -> EventBus:
        """Connect (the producer, admin client…)."""

    @abstractmethod
    async def __aexit__(self, *exc_info: object) -> None:
        """Stop every subscription of this bus, flush, disconnect."""

    @abstractmethod
    async def ensure_topics(self, topics: Sequence[Topic]) -> None:
        """Create the concrete ``topics`` that do not exist yet (existing ones are left alone)."""

    @abstractmethod
    async def publish(
        self, topic: str, value: bytes | None, *, key: bytes | None = None, headers: Sequence[Header] = ()
    ) -> None:
        """Append a message to ``topic`` and wait until it is durably accepted."""

    @abstractmethod
    async def subscribe(
        self,
        topics: Sequence[str],
        *,
        group: str,
        handler: MessageHandler,
        retry: RetryPolicy = RetryPolicy(),
    ) -> Subscription:
        """Start a member of consumer ``group`` that feeds ``handler`` one message at a time
        (per partition, in order). Returns once the member is running."""

    @abstractmethod
    async def consumer_lag(self, group: str, topic: str) -> int:
        """Messages of ``topic`` not yet committed by ``group`` (all partitions).

        Raises ``NotFound`` if the topic does not exist."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``Unavailable`` unless the bus answers (for readiness probes)."""
