"""In-memory event bus for the embedded default (``memory://`` or ``memory://<name>``).

Production code, not a test double: it keeps the port's observable semantics — partitions
chosen by key, per-key order, consumer groups that each see every message and split
partitions between members, offsets committed after the handler, retries and dead-letter
topics, headers preserved — inside one process and one event loop. Buses opened with the
same URL share one broker, which is how the five services of ``lakecache up`` talk.

What it does not do: survive a restart (nothing is persisted), or span processes.
Retention: a partition drops messages every known group has committed, and never keeps
more than ``max_retained`` messages (oldest dropped first), so a long-running embedded
process does not grow without bound.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

from lakecache.core.adapters.bus.delivery import deliver, log_if_crashed
from lakecache.core.contracts.topics import Topic, dead_letter_topic, topic_spec
from lakecache.core.ports.bus import (
    EventBus,
    Header,
    Message,
    MessageHandler,
    NotFound,
    RetryPolicy,
    Subscription,
    validate_topic_name,
)

log = logging.getLogger(__name__)


@dataclass
class _Partition:
    log: deque[Message] = field(default_factory=deque)
    base: int = 0  # offset of log[0]

    @property
    def end(self) -> int:
        return self.base + len(self.log)

    def at(self, offset: int) -> Message | None:
        index = offset - self.base
        return self.log[index] if 0 <= index < len(self.log) else None


@dataclass
class _Group:
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    members: list[_Member] = field(default_factory=list)
    locks: dict[tuple[str, int], asyncio.Lock] = field(default_factory=dict)


class _Broker:
    def __init__(self, max_retained: int) -> None:
        self.max_retained = max_retained
        self.topics: dict[str, list[_Partition]] = {}
        self.groups: dict[str, _Group] = {}
        self.changed = asyncio.Condition()
        self.users = 0
        self._round_robin = itertools.count()

    def create(self, name: str, partitions: int) -> list[_Partition]:
        validate_topic_name(name)
        if name not in self.topics:
            self.topics[name] = [_Partition() for _ in range(max(1, partitions))]
        return self.topics[name]

    def ensure(self, name: str) -> list[_Partition]:
        if name in self.topics:
            return self.topics[name]
        spec = topic_spec(name)
        return self.create(name, spec.partitions if spec else 1)

    async def append(self, topic: str, value: bytes | None, key: bytes | None, headers: Sequence[Header]) -> None:
        partitions = self.ensure(topic)
        index = zlib.crc32(key) % len(partitions) if key is not None else next(self._round_robin) % len(partitions)
        partition = partitions[index]
        partition.log.append(
            Message(topic, value, key, tuple(headers), index, partition.end, int(time.time() * 1000))
        )
        self._trim(topic, index)
        async with self.changed:
            self.changed.notify_all()

    def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        self.groups[group].committed[(topic, partition)] = offset
        self._trim(topic, partition)

    def start_offset(self, group: str, topic: str, partition: int) -> int:
        committed = self.groups[group].committed.get((topic, partition))
        return self.topics[topic][partition].base if committed is None else committed

    def _trim(self, topic: str, index: int) -> None:
        partition = self.topics[topic][index]
        readers = [
            g.committed.get((topic, index), partition.base)
            for g in self.groups.values()
            if any(topic in m.topics for m in g.members)
        ]
        floor = min(readers, default=partition.base)
        floor = max(floor, partition.end - self.max_retained)
        while partition.log and partition.base < floor:
            partition.log.popleft()
            partition.base += 1

    def rebalance(self, group_name: str) -> None:
        group = self.groups[group_name]
        for member in group.members:
            member.assigned = set()
        topics = sorted({t for m in group.members for t in m.topics})
        for topic in topics:
            candidates = [m for m in group.members if topic in m.topics]
            for index in range(len(self.ensure(topic))):
                candidates[index % len(candidates)].assigned.add((topic, index))


_BROKERS: dict[str, _Broker] = {}


class _Member(Subscription):
    def __init__(self, bus: InMemoryEventBus, topics: Sequence[str], group: str, handler: MessageHandler,
                 retry: RetryPolicy) -> None:
        self._bus = bus
        self.topics = tuple(topics)
        self.group = group
        self._handler = handler
        self._retry = retry
        self.assigned: set[tuple[str, int]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_served: tuple[str, int] | None = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"memory-bus:{self.group}")
        self._task.add_done_callback(log_if_crashed)

    def _next(self) -> tuple[tuple[str, int], int] | None:
        # Round-robin over the assigned partitions, starting after the last one served,
        # so a busy partition cannot starve the others.
        broker = self._bus.broker
        ordered = sorted(self.assigned)
        start = next((i + 1 for i, tp in enumerate(ordered) if tp == self._last_served), 0)
        for tp in ordered[start:] + ordered[:start]:
            offset = broker.start_offset(self.group, *tp)
            if offset < broker.topics[tp[0]][tp[1]].end:
                return tp, offset
        return None

    async def _run(self) -> None:
        broker = self._bus.broker
        group = broker.groups[self.group]
        while not self._stopping:
            async with broker.changed:
                await broker.changed.wait_for(lambda: self._stopping or self._next() is not None)
            if self._stopping:
                return
            found = self._next()
            if found is None:
                continue
            tp, _ = found
            # The per-partition lock keeps a rebalance from handing a message in flight
            # to a second member of the group.
            async with group.locks.setdefault(tp, asyncio.Lock()):
                if tp not in self.assigned:
                    continue
                offset = broker.start_offset(self.group, *tp)
                message = broker.topics[tp[0]][tp[1]].at(offset)
                if message is None:  # trimmed by retention
                    broker.commit(self.group, *tp, broker.topics[tp[0]][tp[1]].base)
                    continue
                await deliver(message, self._handler, self._retry, self.group, self._bus.dead_letter)
                broker.commit(self.group, *tp, offset + 1)
                self._last_served = tp

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        broker = self._bus.broker
        async with broker.changed:
            broker.changed.notify_all()
        if self._task is not None:
            await self._task
        group = broker.groups[self.group]
        if self in group.members:
            group.members.remove(self)
            broker.rebalance(self.group)
        async with broker.changed:
            broker.changed.notify_all()


class InMemoryEventBus(EventBus):
    """In-process bus; see the module docstring."""

    system: ClassVar[str] = "memory"

    def __init__(self, name: str = "default", *, max_retained: int = 100_000) -> None:
        self.url = f"memory://{name}"
        self._name = name
        self._max_retained = max_retained
        self._members: list[_Member] = []
        self.broker: _Broker

    @classmethod
    def from_url(cls, url: str, **options: object) -> InMemoryEventBus:
        name = urlsplit(url).netloc or "default"
        return cls(name, **options)  # type: ignore[arg-type]

    async def __aenter__(self) -> InMemoryEventBus:
        broker = _BROKERS.get(self._name)
        if broker is None:
            broker = _BROKERS[self._name] = _Broker(self._max_retained)
        broker.users += 1
        self.broker = broker
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for member in list(self._members):
            await member.stop()
        self._members.clear()
        self.broker.users -= 1
        if self.broker.users == 0:
            _BROKERS.pop(self._name, None)

    async def ensure_topics(self, topics: Sequence[Topic]) -> None:
        for topic in topics:
            self.broker.create(topic.name, topic.partitions)

    async def publish(
        self, topic: str, value: bytes | None, *, key: bytes | None = None, headers: Sequence[Header] = ()
    ) -> None:
        await self.broker.append(topic, value, key, headers)

    async def dead_letter(self, message: Message, headers: list[Header]) -> None:
        await self.broker.append(dead_letter_topic(message.topic), message.value, message.key, headers)

    async def subscribe(
        self, topics: Sequence[str], *, group: str, handler: MessageHandler, retry: RetryPolicy = RetryPolicy()
    ) -> Subscription:
        for topic in topics:
            self.broker.ensure(topic)
        member = _Member(self, topics, group, handler, retry)
        self.broker.groups.setdefault(group, _Group()).members.append(member)
        self.broker.rebalance(group)
        self._members.append(member)
        member.start()
        async with self.broker.changed:
            self.broker.changed.notify_all()
        return member

    async def consumer_lag(self, group: str, topic: str) -> int:
        if topic not in self.broker.topics:
            raise NotFound(f"topic {topic!r} does not exist on {self.url}")
        committed = self.broker.groups.get(group, _Group()).committed
        return sum(
            p.end - committed.get((topic, i), p.base) for i, p in enumerate(self.broker.topics[topic])
        )

    def caught_up(self) -> bool:
        """Whether every consumer group has handled everything published on the topics its
        members read (what follows from a message has been published, or decided against)."""
        for group in self.broker.groups.values():
            for topic in {t for member in group.members for t in member.topics}:
                for index, partition in enumerate(self.broker.topics.get(topic, [])):
                    if group.committed.get((topic, index), partition.base) < partition.end:
                        return False
        return True

    async def ping(self) -> None:
        return None
