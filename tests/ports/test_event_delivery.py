"""Typed events over both buses: poison messages are dead-lettered, handlers retried."""

import json
import uuid

from lakecache.core.adapters.registry import event_bus_from_url
from lakecache.core.contracts import encode, new_event
from lakecache.core.contracts.usage import DatasetRead
from lakecache.core.dispatch import dispatcher
from lakecache.core.ports.bus import DLQ_ATTEMPTS, DLQ_ERROR, DLQ_TOPIC, RetryPolicy
from lakecache.core.publishing import EventPublisher
from tests.support.waiting import eventually

COMMIT = "cd" * 32
FAST = RetryPolicy(attempts=3, initial_backoff=0.01)


def read_event(site: str) -> DatasetRead:
    return DatasetRead(project="p", site=site, dataset_id="d", commit_id=COMMIT, reader="run-1", cache_hit=False)


async def lag(bus, group, topic):
    return await bus.consumer_lag(group, topic)


async def test_malformed_event_lands_on_dlq_with_headers_and_lag_returns_to_zero(bus_url):
    topic = f"events-{uuid.uuid4().hex[:8]}"
    group = f"g-{uuid.uuid4().hex[:6]}"
    handled, dead = [], []

    async def on_read(event):
        handled.append(event.data.site)

    async def collect(message):
        dead.append(message)

    async with event_bus_from_url(bus_url) as bus:
        await bus.subscribe([topic], group=group, handler=dispatcher({DatasetRead: on_read}), retry=FAST)
        await bus.subscribe([topic + ".dlq"], group=group + "-dlq", handler=collect, retry=FAST)
        # Malformed: a known type whose data fails validation, then a message with no CloudEvents headers.
        bad_data = json.dumps({"site": "Not A Slug!"}).encode()
        await bus.publish(topic, bad_data, key=b"s", headers=[("ce_type", b"lakecache.dataset.read"),
                                                                ("ce_specversion", b"1.0"), ("ce_id", b"x"),
                                                                ("ce_source", b"/t"),
                                                                ("content-type", b"application/json")])
        await bus.publish(topic, b"\xff\xfe", key=b"s")
        valid = encode(new_event(read_event("site-a"), service="test"))
        await bus.publish(topic, valid.value, key=b"site-a", headers=valid.headers)
        await eventually(lambda: handled == ["site-a"] and len(dead) == 2, message="2 dead letters, 1 handled")
        await eventually(lambda: _zero(bus, group, topic), message="lag 0")
    assert {m.header(DLQ_TOPIC) for m in dead} == {topic.encode()}
    assert all(m.header(DLQ_ATTEMPTS) == b"1" for m in dead)
    assert b"invalid data" in dead[0].header(DLQ_ERROR)
    assert b"no ce_type" in dead[1].header(DLQ_ERROR)
    assert dead[0].value == bad_data and dead[1].value == b"\xff\xfe"


async def test_event_handler_failing_twice_then_succeeding_is_committed_once(bus_url):
    site = f"s-{uuid.uuid4().hex[:6]}"
    group = f"g-{uuid.uuid4().hex[:6]}"
    attempts = []

    async def flaky(event):
        if event.data.site != site:
            return
        attempts.append(event.id)
        if len(attempts) < 3:
            raise ConnectionError("store briefly unavailable")

    async with event_bus_from_url(bus_url) as bus:
        await bus.subscribe(["lakecache.usage"], group=group, handler=dispatcher({DatasetRead: flaky}), retry=FAST)
        sent = await EventPublisher(bus, "test").emit(read_event(site))
        await eventually(lambda: _zero(bus, group, "lakecache.usage"), message="committed")
    assert attempts == [sent.id] * 3


async def _zero(bus, group, topic) -> bool:
    return await bus.consumer_lag(group, topic) == 0
