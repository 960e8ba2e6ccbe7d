"""Repositories without events — the copies/leases read model and import locations — on the
embedded store: the rules each method keeps on its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from lakecache.catalog.repositories import CopyRepository, ImportLocationRepository, LeaseRepository
from lakecache.core.adapters.docs.sqlite import SqliteDocumentStore
from lakecache.core.ports.docstore import DocumentStore

NOW = datetime(2030, 1, 1, tzinfo=UTC)
COPY = {"dataset_id": "d1", "site": "dgx", "volume": "nfs1", "commit_id": "a" * 64}


@pytest.fixture
async def store(tmp_path) -> AsyncIterator[DocumentStore]:
    async with SqliteDocumentStore.from_url(f"sqlite:///{tmp_path}/catalog.db") as opened:
        yield opened


@pytest.fixture
async def copies(store) -> CopyRepository:
    repository = CopyRepository(store)
    await repository.create_indexes()
    return repository


@pytest.fixture
async def leases(store) -> LeaseRepository:
    repository = LeaseRepository(store)
    await repository.create_indexes()
    return repository


async def acquire(leases: LeaseRepository, lease_id: str, expires_at: datetime, dataset_id: str = "d1") -> None:
    await leases.record_acquired(lease_id=lease_id, dataset_id=dataset_id, site="dgx", volume="nfs1",
                                 commit_id="a" * 64, holder=f"job-{lease_id}", expires_at=expires_at)


async def test_a_copy_reported_ready_twice_is_recorded_once_and_forgotten_when_evicted(copies):
    await copies.record_ready(**COPY, project="vision", fill_id="f-1")
    await copies.record_ready(**COPY, project="vision", fill_id="f-1")
    await copies.record_ready(**{**COPY, "dataset_id": "d2"}, project="vision", fill_id="f-2")  # same commit
    held = await copies.of_dataset("d1", limit=10)
    assert [(c["site"], c["volume"], c["commit_id"], c["fill_id"]) for c in held] == [
        ("dgx", "nfs1", "a" * 64, "f-1")]
    await copies.record_evicted(**COPY)
    assert await copies.of_dataset("d1", limit=10) == []
    assert len(await copies.of_dataset("d2", limit=10)) == 1


async def test_a_redelivered_acquisition_does_not_shorten_a_renewed_lease(leases):
    await acquire(leases, "l1", NOW + timedelta(minutes=5))
    await leases.record_renewed(lease_id="l1", expires_at=NOW + timedelta(minutes=10))
    await acquire(leases, "l1", NOW + timedelta(minutes=5))  # redelivered
    assert [x["holder"] for x in await leases.live_of_dataset("d1", NOW + timedelta(minutes=9), limit=10)] == [
        "job-l1"]


async def test_a_renewal_never_shortens_a_lease_and_one_without_acquisition_records_nothing(leases):
    await acquire(leases, "l1", NOW + timedelta(minutes=10))
    await leases.record_renewed(lease_id="l1", expires_at=NOW + timedelta(minutes=1))
    assert len(await leases.live_of_dataset("d1", NOW + timedelta(minutes=9), limit=10)) == 1
    await leases.record_renewed(lease_id="unknown", expires_at=NOW + timedelta(hours=1))
    assert [x["_id"] for x in await leases.live_of_dataset("d1", NOW, limit=10)] == ["l1"]


async def test_only_unexpired_leases_of_the_dataset_are_live_and_released_ones_are_gone(leases):
    await acquire(leases, "old", NOW - timedelta(seconds=1))
    await acquire(leases, "now", NOW)
    await acquire(leases, "live", NOW + timedelta(seconds=1))
    await acquire(leases, "other", NOW + timedelta(hours=1), dataset_id="d2")
    assert [x["_id"] for x in await leases.live_of_dataset("d1", NOW, limit=10)] == ["live"]
    await leases.record_released(lease_id="live")
    assert await leases.live_of_dataset("d1", NOW, limit=10) == []


async def test_an_import_location_name_is_taken_once_and_removed_once(store):
    locations = ImportLocationRepository(store)
    await locations.create_indexes()
    added = await locations.add("vision", "raw", "s3://import/raw", "ada")
    assert added is not None and added["url"] == "s3://import/raw" and added["created_by"] == "ada"
    assert await locations.add("vision", "raw", "s3://elsewhere", "bo") is None
    await locations.add("audio", "raw", "s3://audio", "ada")
    assert [x["url"] for x in await locations.of_project("vision")] == ["s3://import/raw"]
    assert len(await locations.of_every_project()) == 2
    assert await locations.remove("vision", "raw") is True
    assert await locations.remove("vision", "raw") is False
    assert await locations.by_name("vision", "raw") is None
