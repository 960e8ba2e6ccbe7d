"""The outbox: an event is published once its change is written, never lost, never invented."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from lakecache.core.adapters.bus.memory import InMemoryEventBus
from lakecache.core.adapters.docs.sqlite import SqliteDocumentStore
from lakecache.core.contracts import decode
from lakecache.core.contracts.catalog import DatasetDeleted
from lakecache.core.errors import Conflict, Unavailable
from lakecache.core.outbox import PENDING_FIELD, Outbox
from lakecache.core.publishing import EventPublisher
from tests.ports.bus_suite import Collector
from tests.support.waiting import eventually

LATER = datetime.now(UTC) + timedelta(hours=1)


class FlakyBus(InMemoryEventBus):
    """The in-memory bus, with an outage switch for the publish side."""

    down = False

    async def publish(self, topic, value, *, key=None, headers=()):
        if self.down:
            raise Unavailable("broker unreachable")
        await super().publish(topic, value, key=key, headers=headers)


@pytest.fixture
async def world(tmp_path):
    bus = FlakyBus(f"outbox-{uuid.uuid4().hex[:6]}")
    async with SqliteDocumentStore.from_url(f"sqlite:///{tmp_path}/s.db") as store, bus:
        seen = Collector()
        await bus.subscribe(["lakecache.catalog"], group="reader", handler=seen)
        yield store, bus, Outbox(store, EventPublisher(bus, "catalog")), seen


def deleted(name: str) -> DatasetDeleted:
    return DatasetDeleted(dataset_id=name, project="p", name=name, deleted_by="ada")


async def change(store, doc_id: str, event) -> None:
    await store.collection("datasets").update_one(
        {"_id": doc_id}, {"$set": {"deleted": True}, "$addToSet": {PENDING_FIELD: event.id}}, upsert=True
    )


async def test_delivered_event_is_published_once_and_leaves_nothing_behind(world):
    store, _, outbox, seen = world
    event = await outbox.prepare(deleted("a"), collection="datasets")
    await change(store, "a", event)
    await outbox.deliver(event, collection="datasets", doc_id="a")
    await eventually(lambda: len(seen.messages) == 1, message="published")
    assert decode(seen.messages[0].headers, seen.messages[0].value).id == event.id
    assert (await store.collection("datasets").find_one({"_id": "a"}))[PENDING_FIELD] == []
    assert await store.collection("outbox").count_documents({}) == 0
    assert await outbox.relay_once(now=LATER) == 0


async def test_event_not_published_during_an_outage_is_relayed_later_with_its_id(world):
    store, bus, outbox, seen = world
    event = await outbox.prepare(deleted("b"), collection="datasets")
    await change(store, "b", event)
    bus.down = True
    await outbox.deliver(event, collection="datasets", doc_id="b")
    assert await outbox.relay_once(now=LATER) == 0  # still down: kept
    assert await store.collection("outbox").count_documents({}) == 1
    bus.down = False
    assert await outbox.relay_once(now=datetime.now(UTC)) == 0  # within the grace period: left alone
    assert await outbox.relay_once(now=LATER) == 1
    await eventually(lambda: len(seen.messages) == 1, message="relayed")
    relayed = decode(seen.messages[0].headers, seen.messages[0].value)
    assert relayed.id == event.id and relayed.data == deleted("b")
    assert (await store.collection("datasets").find_one({"_id": "b"}))[PENDING_FIELD] == []
    assert await outbox.relay_once(now=LATER) == 0


async def test_event_whose_change_never_happened_is_dropped_unpublished(world):
    store, _, outbox, seen = world
    await outbox.prepare(deleted("c"), collection="datasets")  # the process stops here
    assert await outbox.relay_once(now=LATER) == 0
    assert await store.collection("outbox").count_documents({}) == 0
    assert seen.messages == []


async def test_a_unit_of_work_inserts_the_document_and_publishes_its_events(world):
    store, _, outbox, seen = world
    await outbox.insert("datasets", {"_id": "u1", "name": "cats"}, [deleted("u1"), (deleted("u1b"), "subject-1")])
    await eventually(lambda: len(seen.messages) == 2, message="both published")
    assert [decode(m.headers, m.value).subject for m in seen.messages] == [None, "subject-1"]
    assert (await store.collection("datasets").find_one({"_id": "u1"}))[PENDING_FIELD] == []
    assert await store.collection("outbox").count_documents({}) == 0


async def test_a_unit_of_work_that_cannot_insert_publishes_nothing_and_keeps_nothing(world):
    store, _, outbox, seen = world
    await outbox.insert("datasets", {"_id": "u2"})
    with pytest.raises(Conflict):
        await outbox.insert("datasets", {"_id": "u2"}, [deleted("u2")])
    assert await store.collection("outbox").count_documents({}) == 0
    assert await outbox.relay_once(now=LATER) == 0 and seen.messages == []


async def test_a_unit_of_work_update_that_matches_nothing_publishes_nothing(world):
    store, _, outbox, seen = world
    await outbox.insert("datasets", {"_id": "u3", "rev": 1})
    lost = await outbox.update("datasets", {"_id": "u3", "rev": 0}, {"$set": {"rev": 1}}, [deleted("u3")])
    won = await outbox.update("datasets", {"_id": "u3", "rev": 1}, {"$set": {"rev": 2}}, [deleted("u3")])
    assert lost is None and won is not None and won["rev"] == 2
    await eventually(lambda: len(seen.messages) == 1, message="only the change that happened is announced")
    assert await store.collection("outbox").count_documents({}) == 0
    assert (await store.collection("datasets").find_one({"_id": "u3"}))[PENDING_FIELD] == []
