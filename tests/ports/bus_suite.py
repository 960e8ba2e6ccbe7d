"""Conformance suite of the event-bus port; every adapter's test module subclasses it.

Fixtures the subclass provides: ``open_bus`` — a callable returning an unopened bus
connected to the same broker each time (to play several processes).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta

import pytest

from lakecache.core.contracts.topics import Topic
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.ports.bus import (
    DLQ_ATTEMPTS,
    DLQ_ERROR,
    DLQ_GROUP,
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_TOPIC,
    Message,
    PoisonMessage,
    RetryPolicy,
)
from tests.support.waiting import eventually

FAST_RETRY = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.05)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Collector:
    """A handler that records what it saw."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def values(self) -> list[bytes | None]:
        return [m.value for m in self.messages]


class BusConformance:
    @pytest.fixture
    async def bus(self, open_bus):
        async with open_bus() as bus:
            yield bus

    async def test_published_message_arrives_with_key_value_and_headers(self, bus):
        topic = unique("t")
        seen = Collector()
        await bus.subscribe([topic], group=unique("g"), handler=seen, retry=FAST_RETRY)
        headers = [("ce_type", b"x.y"), ("dup", b"1"), ("dup", b"2"), ("bin", bytes(range(256)))]
        await bus.publish(topic, b"payload", key=b"k1", headers=headers)
        await eventually(lambda: len(seen.messages) == 1, message="one delivery")
        got = seen.messages[0]
        assert (got.topic, got.value, got.key) == (topic, b"payload", b"k1")
        assert list(got.headers) == headers
        assert got.header("dup") == b"2"
        assert got.offset >= 0 and got.partition >= 0

    async def test_messages_with_one_key_arrive_in_publish_order(self, bus):
        topic = unique("order")
        await bus.ensure_topics([Topic(topic, 3, "k", timedelta(hours=1))])
        seen = Collector()
        await bus.subscribe([topic], group=unique("g"), handler=seen, retry=FAST_RETRY)
        for i in range(60):
            await bus.publish(topic, f"{i % 6}:{i}".encode(), key=f"key{i % 6}".encode())
        await eventually(lambda: len(seen.messages) == 60, message="60 deliveries")
        per_key: dict[bytes, list[int]] = defaultdict(list)
        for m in seen.messages:
            per_key[m.key].append(int(m.value.split(b":")[1]))
        assert len(per_key) == 6
        for sequence in per_key.values():
            assert sequence == sorted(sequence)
        # Six keys over three partitions: more than one partition must be in use.
        assert len({m.partition for m in seen.messages}) > 1
        # One key always maps to one partition.
        for key in per_key:
            assert len({m.partition for m in seen.messages if m.key == key}) == 1

    async def test_every_group_receives_every_message(self, bus):
        topic = unique("fanout")
        first, second = Collector(), Collector()
        await bus.subscribe([topic], group=unique("a"), handler=first, retry=FAST_RETRY)
        await bus.subscribe([topic], group=unique("b"), handler=second, retry=FAST_RETRY)
        for i in range(10):
            await bus.publish(topic, str(i).encode(), key=b"k")
        await eventually(lambda: len(first.messages) == 10 and len(second.messages) == 10, message="both groups")
        assert first.values == second.values == [str(i).encode() for i in range(10)]

    async def test_members_of_one_group_split_partitions_and_lose_nothing(self, open_bus):
        topic = unique("split")
        group = unique("g")
        one, two = Collector(), Collector()
        async with open_bus() as bus_a, open_bus() as bus_b:
            await bus_a.ensure_topics([Topic(topic, 4, "k", timedelta(hours=1))])
            await bus_a.subscribe([topic], group=group, handler=one, retry=FAST_RETRY)
            await bus_b.subscribe([topic], group=group, handler=two, retry=FAST_RETRY)
            expected = {f"m{i}".encode() for i in range(40)}
            for i in range(40):
                await bus_a.publish(topic, f"m{i}".encode(), key=f"k{i}".encode())
            await eventually(lambda: set(one.values) | set(two.values) == expected, message="all 40 messages")
            await eventually(lambda: _lag_is(bus_a, group, topic, 0), message="lag 0")
        assert one.messages and two.messages, "both members of the group must have received partitions"

    async def test_failing_handler_is_retried_then_committed_once(self, bus):
        topic = unique("retry")
        group = unique("g")
        calls: list[bytes | None] = []

        async def flaky(message: Message) -> None:
            calls.append(message.value)
            if len(calls) <= 2:
                raise RuntimeError("transient failure")

        await bus.subscribe([topic], group=group, handler=flaky, retry=FAST_RETRY)
        await bus.publish(topic, b"once", key=b"k")
        await eventually(lambda: _lag_is(bus, group, topic, 0), message="commit after success")
        assert calls == [b"once", b"once", b"once"]
        with pytest.raises(NotFound):
            await bus.consumer_lag(group, topic + ".dlq")

    async def test_exhausted_retries_dead_letter_with_origin_headers_and_move_on(self, bus):
        topic = unique("dlq")
        group = unique("g")
        handled: list[bytes | None] = []

        async def fails_on_bad(message: Message) -> None:
            if message.value == b"bad":
                raise ValueError("cannot handle 'bad'")
            handled.append(message.value)

        dead = Collector()
        await bus.subscribe([topic], group=group, handler=fails_on_bad, retry=FAST_RETRY)
        await bus.subscribe([topic + ".dlq"], group=unique("dlq-reader"), handler=dead, retry=FAST_RETRY)
        await bus.publish(topic, b"bad", key=b"k", headers=[("origin", b"test")])
        await bus.publish(topic, b"good", key=b"k")
        await eventually(lambda: handled == [b"good"] and len(dead.messages) == 1, message="dead letter + next")
        letter = dead.messages[0]
        assert letter.value == b"bad" and letter.key == b"k"
        assert letter.header("origin") == b"test"
        assert letter.header(DLQ_TOPIC) == topic.encode()
        assert letter.header(DLQ_GROUP) == group.encode()
        assert letter.header(DLQ_ATTEMPTS) == b"3"
        assert b"cannot handle 'bad'" in letter.header(DLQ_ERROR)
        assert int(letter.header(DLQ_PARTITION)) >= 0
        assert int(letter.header(DLQ_OFFSET)) >= 0
        await eventually(lambda: _lag_is(bus, group, topic, 0), message="lag back to 0")

    async def test_poison_message_is_dead_lettered_without_retries(self, bus):
        topic = unique("poison")
        group = unique("g")
        calls = 0

        async def refuses(message: Message) -> None:
            nonlocal calls
            calls += 1
            raise PoisonMessage("not an event")

        dead = Collector()
        await bus.subscribe([topic], group=group, handler=refuses, retry=FAST_RETRY)
        await bus.subscribe([topic + ".dlq"], group=unique("r"), handler=dead, retry=FAST_RETRY)
        await bus.publish(topic, b"\x00garbage", key=None)
        await eventually(lambda: len(dead.messages) == 1, message="dead letter")
        assert calls == 1
        assert dead.messages[0].header(DLQ_ATTEMPTS) == b"1"
        await eventually(lambda: _lag_is(bus, group, topic, 0), message="lag back to 0")

    async def test_restarted_member_resumes_after_committed_offset(self, open_bus, bus):
        # ``bus`` stays open throughout: it is the rest of the system (and, for the
        # in-memory adapter, what keeps the process-wide broker alive).
        topic = unique("resume")
        group = unique("g")
        first = Collector()
        async with open_bus() as member:
            sub = await member.subscribe([topic], group=group, handler=first, retry=FAST_RETRY)
            for i in range(5):
                await bus.publish(topic, f"a{i}".encode(), key=b"k")
            await eventually(lambda: len(first.messages) == 5, message="first five")
            await eventually(lambda: _lag_is(bus, group, topic, 0), message="committed")
            await sub.stop()
        for i in range(3):
            await bus.publish(topic, f"b{i}".encode(), key=b"k")
        second = Collector()
        async with open_bus() as member:
            await member.subscribe([topic], group=group, handler=second, retry=FAST_RETRY)
            await eventually(lambda: len(second.messages) >= 3, message="the three new messages")
            await eventually(lambda: _lag_is(bus, group, topic, 0), message="committed again")
        assert second.values == [b"b0", b"b1", b"b2"]

    async def test_new_group_starts_from_earliest_message(self, bus):
        topic = unique("early")
        await bus.publish(topic, b"before", key=b"k")
        seen = Collector()
        await bus.subscribe([topic], group=unique("g"), handler=seen, retry=FAST_RETRY)
        await eventually(lambda: seen.values == [b"before"], message="earlier message")

    async def test_lag_of_unknown_topic_is_not_found(self, bus):
        with pytest.raises(NotFound):
            await bus.consumer_lag(unique("g"), unique("missing"))

    async def test_invalid_topic_name_is_refused(self, bus):
        with pytest.raises(InvalidArgument):
            await bus.publish("bad topic/name", b"x")

    async def test_ping_answers(self, bus):
        await bus.ping()


async def _lag_is(bus, group: str, topic: str, expected: int) -> bool:
    try:
        return await bus.consumer_lag(group, topic) == expected
    except NotFound:
        return False
