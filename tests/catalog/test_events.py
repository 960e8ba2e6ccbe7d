"""The catalog tells the others what happened: dataset, commit and tag events on lakecache.catalog."""

from __future__ import annotations

from lakecache.core.contracts.catalog import CommitCreated, DatasetCreated, DatasetDeleted, TagMoved
from lakecache.core.dispatch import dispatcher
from tests.catalog.conftest import entry
from tests.support.identity import TEST_SUBJECT
from tests.support.waiting import eventually


async def test_dataset_commit_tag_and_delete_events_are_published(api):
    seen = []

    async def collect(event):
        seen.append(event.data)

    handler = dispatcher({t: collect for t in (DatasetCreated, DatasetDeleted, CommitCreated, TagMoved)})
    subscription = await api.running.resources.bus.subscribe(["lakecache.catalog"], group="collector",
                                                             handler=handler)
    try:
        dataset = await api.create("vision", "cats", tags=["pets"])
        first = await api.committed("vision", "cats", [entry("a", "aa")], message="one", user="ada")
        await api.commit("vision", "cats", [entry("a", "aa")])  # unchanged: no event
        second = await api.committed("vision", "cats", [entry("a", "aa"), entry("b", "b")])
        base = "/api/v1/datasets/vision/cats/tags/v1"
        await api.call("PUT", base, json_body={"ref": first})
        await api.call("PUT", base, json_body={"ref": second, "force": True}, headers={"X-LakeCache-User": "bo"})
        assert (await api.call("DELETE", "/api/v1/datasets/vision/cats")).status == 204
        await eventually(lambda: len(seen) >= 6, message="six catalog events")
    finally:
        await subscription.stop()
    assert [type(e).__name__ for e in seen] == [
        "DatasetCreated", "CommitCreated", "CommitCreated", "TagMoved", "TagMoved", "DatasetDeleted"]
    created, commit, _, tagged, moved, deleted = seen
    assert created.dataset_id == dataset["id"] and created.tags == ["pets"] and created.lake_url == dataset["lake_url"]
    assert (commit.commit_id, commit.files, commit.bytes, commit.author) == (first, 1, 2, "ada")
    assert commit.manifest_url.startswith(dataset["lake_url"] + "/_lakecache/manifests/")
    assert (tagged.commit_id, tagged.previous_commit_id) == (first, None)
    assert (moved.commit_id, moved.previous_commit_id, moved.moved_by) == (second, first, "bo")
    assert deleted.dataset_id == dataset["id"] and deleted.deleted_by == TEST_SUBJECT


async def test_a_commit_made_while_the_bus_is_down_is_announced_by_the_outbox_relay(api, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from lakecache.core.errors import Unavailable

    seen = []

    async def collect(event):
        seen.append(event.data)

    bus = api.running.resources.bus
    subscription = await bus.subscribe(["lakecache.catalog"], group="collector",
                                       handler=dispatcher({CommitCreated: collect}))
    try:
        await api.create("vision", "dogs")
        real_publish = bus.publish

        async def outage(*args, **kwargs):
            raise Unavailable("broker unreachable")

        monkeypatch.setattr(bus, "publish", outage)
        commit_id = await api.committed("vision", "dogs", [entry("a", "aa")])  # the commit itself succeeds
        dataset = await api.catalog.datasets.live("vision", "dogs")
        assert len(dataset["pending_events"]) == 1
        monkeypatch.setattr(bus, "publish", real_publish)
        published = await api.catalog.outbox.relay_once(now=datetime.now(UTC) + timedelta(minutes=5))
        assert published == 1
        await eventually(lambda: any(e.commit_id == commit_id for e in seen), message="relayed commit event")
    finally:
        await subscription.stop()
    assert (await api.catalog.datasets.live("vision", "dogs"))["pending_events"] == []
    assert [e.commit_id for e in seen] == [commit_id]
