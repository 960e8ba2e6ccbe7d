"""Deleting is refused while a cached copy or a live lease exists (read model fed by events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lakecache.core.contracts.cache import CacheEvicted, CacheReady
from lakecache.core.contracts.usage import LeaseAcquired, LeaseReleased, LeaseRenewed
from tests.catalog.conftest import entry
from tests.support.waiting import eventually

DATASET = "/api/v1/datasets/vision/cats"


async def _setup(api):
    dataset = await api.create("vision", "cats")
    commit = await api.committed("vision", "cats", [entry("a", "a")])
    return dataset["id"], commit


def _ready(dataset_id: str, commit: str, volume: str = "nfs1") -> CacheReady:
    return CacheReady(fill_id="fill-1", project="vision", dataset_id=dataset_id, commit_id=commit, site="dgx",
                      volume=volume, path=f"/mnt/{volume}/{commit}", files=1, size_bytes=1, bytes_fetched=1,
                      bytes_deduplicated=0, duration_seconds=0.1)


async def test_cached_copy_blocks_delete_until_evicted(api):
    dataset_id, commit = await _setup(api)
    publisher = api.running.resources.publisher
    ready = _ready(dataset_id, commit)
    await publisher.emit(ready)
    await publisher.emit(ready)  # a redelivery changes nothing
    await eventually(lambda: api.stored("copies").count_documents({"dataset_id": dataset_id}), message="copy recorded")
    refused = await api.call("DELETE", DATASET)
    assert refused.status == 409 and refused.body["type"] == "urn:lakecache:problem:dataset-in-use"
    assert "1 cached copy on dgx/nfs1" in refused.body["detail"] and "evict" in refused.body["detail"]
    assert (await api.call("GET", DATASET)).status == 200
    await publisher.emit(CacheEvicted(decision_id="d-1", site="dgx", volume="nfs1", commit_id=commit,
                                      dataset_id=dataset_id, reason="ttl-expired", bytes_freed=1))

    async def gone():
        return await api.stored("copies").count_documents({"dataset_id": dataset_id}) == 0

    await eventually(gone, message="copy removed")
    assert (await api.call("DELETE", DATASET)).status == 204


async def test_live_lease_blocks_delete_until_released(api):
    dataset_id, commit = await _setup(api)
    publisher = api.running.resources.publisher
    soon = datetime.now(UTC) + timedelta(minutes=5)
    await publisher.emit(LeaseAcquired(lease_id="lease-1", project="vision", site="dgx", volume="nfs1",
                                       dataset_id=dataset_id, commit_id=commit, holder="job-42", ttl_seconds=300,
                                       expires_at=soon))
    await publisher.emit(LeaseRenewed(lease_id="lease-1", site="dgx", volume="nfs1", commit_id=commit,
                                      expires_at=soon + timedelta(minutes=5)))

    async def renewed():
        lease = await api.stored("leases").find_one({"_id": "lease-1"})
        return lease is not None and lease["expires_at"] > soon

    await eventually(renewed, message="lease recorded and renewed")
    refused = await api.call("DELETE", DATASET)
    assert refused.status == 409 and "job-42" in refused.body["detail"]
    await publisher.emit(LeaseReleased(lease_id="lease-1", site="dgx", volume="nfs1", commit_id=commit))

    async def released():
        return await api.stored("leases").count_documents({}) == 0

    await eventually(released, message="lease released")
    assert (await api.call("DELETE", DATASET)).status == 204


async def test_expired_lease_does_not_block_delete(api):
    dataset_id, commit = await _setup(api)
    await api.running.resources.publisher.emit(LeaseAcquired(
        lease_id="lease-old", project="vision", site="dgx", volume="nfs1", dataset_id=dataset_id, commit_id=commit,
        holder="job-crashed", ttl_seconds=60, expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    await eventually(lambda: api.stored("leases").count_documents({}), message="lease recorded")
    assert (await api.call("DELETE", DATASET)).status == 204


async def test_copies_of_another_dataset_with_the_same_commit_do_not_block(api):
    dataset_id, commit = await _setup(api)
    other = await api.create("vision", "cats-twin")
    assert await api.committed("vision", "cats-twin", [entry("a", "a")]) == commit
    await api.running.resources.publisher.emit(_ready(other["id"], commit))
    await eventually(lambda: api.stored("copies").count_documents({}), message="copy recorded")
    assert (await api.call("DELETE", DATASET)).status == 204
    assert (await api.call("DELETE", "/api/v1/datasets/vision/cats-twin")).status == 409
