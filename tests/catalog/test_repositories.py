"""The catalog's repositories on the embedded store: each method with a rule of its own, and the
events a change announces (or, when it loses, does not)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from lakecache.catalog.repositories import (
    CommitRepository,
    CopyRepository,
    DatasetRepository,
    ImportLocationRepository,
    LeaseRepository,
    TagRepository,
)
from lakecache.core.adapters.bus.memory import InMemoryEventBus
from lakecache.core.adapters.docs.sqlite import SqliteDocumentStore
from lakecache.core.contracts import EventData, decode
from lakecache.core.contracts.catalog import CommitCreated, DatasetCreated, DatasetDeleted, TagMoved
from lakecache.core.outbox import Outbox
from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.publishing import EventPublisher
from tests.ports.bus_suite import Collector
from tests.support.waiting import bus_settled


@dataclass
class Stores:
    store: DocumentStore
    bus: InMemoryEventBus
    seen: Collector
    datasets: DatasetRepository
    commits: CommitRepository
    tags: TagRepository
    import_locations: ImportLocationRepository
    copies: CopyRepository
    leases: LeaseRepository

    async def announced(self) -> list[EventData]:
        """Every event published so far, once every consumer has caught up."""
        await bus_settled(self.bus)
        return [decode(m.headers, m.value).data for m in self.seen.messages]

    async def unpublished(self) -> int:
        """Events prepared in the outbox and not (yet) published or dropped."""
        return await self.store.collection("outbox").count_documents({})


@pytest.fixture
async def repos(tmp_path) -> AsyncIterator[Stores]:
    bus = InMemoryEventBus(f"repositories-{uuid.uuid4().hex[:6]}")
    async with SqliteDocumentStore.from_url(f"sqlite:///{tmp_path}/catalog.db") as store, bus:
        seen = Collector()
        await bus.subscribe(["lakecache.catalog"], group="reader", handler=seen)
        outbox = Outbox(store, EventPublisher(bus, "catalog"))
        stores = Stores(store, bus, seen, DatasetRepository(store, outbox), CommitRepository(store),
                        TagRepository(store, outbox), ImportLocationRepository(store), CopyRepository(store),
                        LeaseRepository(store))
        for repository in (stores.datasets, stores.commits, stores.tags, stores.import_locations, stores.copies,
                           stores.leases):
            await repository.create_indexes()
        yield stores


def created(dataset_id: str, project: str = "vision", name: str = "cats") -> DatasetCreated:
    return DatasetCreated(dataset_id=dataset_id, project=project, name=name, owner="ada",
                          lake_url=f"file:///lake/{project}/{name}", description="", tags=[])


async def add_dataset(repos: Stores, project: str = "vision", name: str = "cats", **fields: Any) -> dict[str, Any]:
    dataset_id = uuid.uuid4().hex
    values = {"description": "", "tags": [], **fields}
    doc = await repos.datasets.add(dataset_id=dataset_id, project=project, name=name, owner="ada",
                                   lake_url=f"file:///lake/{project}/{name}", lake_prefix=f"{project}/{name}",
                                   event=created(dataset_id, project, name), **values)
    assert doc is not None
    return doc


def commit_created(dataset: dict[str, Any], commit_id: str) -> CommitCreated:
    return CommitCreated(dataset_id=dataset["_id"], project=dataset["project"], dataset=dataset["name"],
                         commit_id=commit_id, parents=[], message="m", author="ada", files=0, bytes=0,
                         manifest_url=f"{dataset['lake_url']}/_lakecache/manifests/{commit_id}")


A, B, C = "a" * 64, "b" * 64, "c" * 64


# datasets


async def test_a_dataset_added_under_a_live_name_is_refused_and_announces_nothing(repos):
    first = await add_dataset(repos)
    dataset_id = uuid.uuid4().hex
    again = await repos.datasets.add(dataset_id=dataset_id, project="vision", name="cats", description="", tags=[],
                                     owner="bo", lake_url="file:///lake/vision/cats2", lake_prefix="vision/cats2",
                                     event=created(dataset_id))
    assert again is None
    assert await repos.datasets.by_id(dataset_id) is None
    assert await repos.unpublished() == 0
    assert [e.dataset_id for e in await repos.announced()] == [first["_id"]]


async def test_a_deleted_dataset_frees_its_name_stays_readable_by_id_and_is_deleted_once(repos):
    old = await add_dataset(repos)
    event = DatasetDeleted(dataset_id=old["_id"], project="vision", name="cats", deleted_by="ada")
    assert await repos.datasets.mark_deleted(old, "ada", event) is True
    assert await repos.datasets.live("vision", "cats") is None
    kept = await repos.datasets.by_id(old["_id"])
    assert kept is not None and kept["deleted"] is True and kept["deleted_by"] == "ada"
    assert await repos.datasets.mark_deleted(old, "bo", event.model_copy(update={"deleted_by": "bo"})) is False
    new = await add_dataset(repos)
    assert (await repos.datasets.live("vision", "cats"))["_id"] == new["_id"] != old["_id"]
    assert [type(e).__name__ for e in await repos.announced()] == ["DatasetCreated", "DatasetDeleted",
                                                                   "DatasetCreated"]
    assert await repos.unpublished() == 0


async def test_a_head_swap_that_lost_the_race_changes_nothing_and_announces_nothing(repos):
    dataset = await add_dataset(repos)
    assert await repos.datasets.move_head(dataset, None, A, commit_created(dataset, A)) is True
    # A second writer that read the empty head too: its swap must lose.
    assert await repos.datasets.move_head(dataset, None, B, commit_created(dataset, B)) is False
    assert (await repos.datasets.by_id(dataset["_id"]))["head"] == A
    assert await repos.datasets.move_head(dataset, A, C, commit_created(dataset, C)) is True
    commits = [e.commit_id for e in await repos.announced() if isinstance(e, CommitCreated)]
    assert commits == [A, C]
    assert await repos.unpublished() == 0
    assert (await repos.datasets.by_id(dataset["_id"]))["pending_events"] == []


async def test_the_head_of_a_deleted_dataset_does_not_move(repos):
    dataset = await add_dataset(repos)
    await repos.datasets.mark_deleted(dataset, "ada", DatasetDeleted(dataset_id=dataset["_id"], project="vision",
                                                                     name="cats", deleted_by="ada"))
    assert await repos.datasets.move_head(dataset, None, A, commit_created(dataset, A)) is False
    assert (await repos.datasets.by_id(dataset["_id"]))["head"] is None
    assert await repos.unpublished() == 0


async def test_describe_changes_only_what_it_is_given_and_only_live_datasets(repos):
    await add_dataset(repos, description="cats", tags=["pets"])
    changed = await repos.datasets.describe("vision", "cats", tags=["animals"])
    assert changed is not None and (changed["description"], changed["tags"]) == ("cats", ["animals"])
    cleared = await repos.datasets.describe("vision", "cats", description="")
    assert (cleared["description"], cleared["tags"]) == ("", ["animals"])
    assert await repos.datasets.describe("vision", "dogs", description="x") is None


async def test_live_datasets_are_listed_in_name_order_after_the_cursor_without_deleted_ones(repos):
    for project, name, tags in [("vision", "cats", ["pets"]), ("vision", "ants", []), ("audio", "dogs", ["pets"]),
                                ("vision", "owls", ["pets"])]:
        await add_dataset(repos, project, name, tags=tags)
    gone = await repos.datasets.live("vision", "owls")
    await repos.datasets.mark_deleted(gone, "ada", DatasetDeleted(dataset_id=gone["_id"], project="vision",
                                                                  name="owls", deleted_by="ada"))

    def names(docs):
        return [f"{d['project']}/{d['name']}" for d in docs]

    assert names(await repos.datasets.live_page(project=None, tag=None, after=None, limit=10)) == [
        "audio/dogs", "vision/ants", "vision/cats"]
    assert names(await repos.datasets.live_page(project=None, tag=None, after="vision/ants", limit=10)) == [
        "vision/cats"]
    assert names(await repos.datasets.live_page(project="vision", tag="pets", after=None, limit=10)) == [
        "vision/cats"]
    assert names([d async for d in repos.datasets.live_in_order(project=None, tag="pets", after="audio/dogs")]) == [
        "vision/cats"]
    assert len(await repos.datasets.locations()) == 4  # deleted datasets keep their location


# commits


async def test_a_commit_recorded_again_returns_the_first_record(repos):
    dataset = await add_dataset(repos)
    fields = dict(parents=[], author="ada", files=1, bytes=2, manifest_url="u", manifest_key="k",
                  entries_digest="d")
    first, recorded = await repos.commits.add(dataset, commit_id=A, message="first attempt", **fields)
    assert recorded is True
    again, recorded = await repos.commits.add(dataset, commit_id=A, message="retry", **fields)
    assert recorded is False and again["message"] == "first attempt" and again == first
    await repos.commits.remove(dataset["_id"], A)
    assert await repos.commits.by_id(dataset["_id"], A) is None


async def test_a_commit_prefix_finds_exactly_the_ids_that_start_with_it(repos):
    dataset, other = await add_dataset(repos), await add_dataset(repos, name="dogs")
    fields = dict(parents=[], message="m", author="ada", files=0, bytes=0, manifest_url="u", manifest_key="k",
                  entries_digest="d")
    for commit_id in ("ab" + "0" * 62, "abf" + "0" * 61, "ac" + "0" * 62):
        await repos.commits.add(dataset, commit_id=commit_id, **fields)
    await repos.commits.add(other, commit_id="ab" + "1" * 62, **fields)
    found = await repos.commits.with_prefix(dataset["_id"], "ab", limit=10)
    assert [c["id"] for c in found] == ["ab" + "0" * 62, "abf" + "0" * 61]
    assert len(await repos.commits.with_prefix(dataset["_id"], "a", limit=2)) == 2


# tags


def tag_moved(dataset: dict[str, Any], commit_id: str, previous: str | None) -> TagMoved:
    return TagMoved(dataset_id=dataset["_id"], project="vision", dataset="cats", tag="v1", commit_id=commit_id,
                    previous_commit_id=previous, moved_by="ada")


async def test_a_tag_added_twice_is_refused_the_second_time_and_announced_once(repos):
    dataset = await add_dataset(repos)
    assert (await repos.tags.add(dataset["_id"], "v1", A, "ada", tag_moved(dataset, A, None)))["commit_id"] == A
    assert await repos.tags.add(dataset["_id"], "v1", B, "bo", tag_moved(dataset, B, None)) is None
    assert (await repos.tags.by_name(dataset["_id"], "v1"))["commit_id"] == A
    assert [e.commit_id for e in await repos.announced() if isinstance(e, TagMoved)] == [A]
    assert await repos.unpublished() == 0


async def test_a_tag_move_from_a_stale_read_loses_and_announces_nothing(repos):
    dataset = await add_dataset(repos)
    await repos.tags.add(dataset["_id"], "v1", A, "ada", tag_moved(dataset, A, None))
    read = await repos.tags.by_name(dataset["_id"], "v1")
    moved = await repos.tags.move(read, B, "bo", tag_moved(dataset, B, A))
    assert moved is not None and (moved["commit_id"], moved["moved_by"]) == (B, "bo")
    assert await repos.tags.move(read, C, "cy", tag_moved(dataset, C, A)) is None  # read before bo's move
    assert (await repos.tags.by_name(dataset["_id"], "v1"))["commit_id"] == B
    assert [e.commit_id for e in await repos.announced() if isinstance(e, TagMoved)] == [A, B]
    assert await repos.unpublished() == 0
