"""A configured capacity bounds what LakeCache holds on a volume, not what its filesystem holds:
a volume that is a directory of a shared filesystem fills up to its capacity and no further,
and the count of LakeCache's bytes is taken again at start-up and periodically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakecache.core.contracts.cache import CacheEvicted, CacheFailed, CacheReady, CacheSpaceRequested, VolumeReported
from tests.cacher.service.conftest import cacher_settings, running_cacher
from tests.cacher.service.test_eviction import evict
from tests.support.waiting import eventually

CAPACITY = 150_000
FIRST = {"first.bin": os.urandom(100_000)}
SECOND = {"second.bin": os.urandom(60_000)}


@pytest.fixture
def shared_volume(tmp_path) -> Path:
    """A volume directory beside other data, on a filesystem already holding more than CAPACITY."""
    (tmp_path / "other-data.bin").write_bytes(os.urandom(4 << 20))
    root = tmp_path / "nfs1"
    root.mkdir()
    stats = os.statvfs(root)
    assert (stats.f_blocks - stats.f_bavail) * stats.f_frsize > CAPACITY  # the case of the issue
    return root


def settings_for(tmp_path: Path, volume: Path, capacity: int = CAPACITY, **section):
    return cacher_settings(tmp_path / "home", volume, volumes=[
        {"name": "nfs1", "path": str(volume), "capacity_bytes": capacity}], **section)


def pool_bytes(volume: Path) -> int:
    pool = volume / ".lakecache" / "pool"
    return sum(p.stat().st_size for p in pool.rglob("*") if p.is_file())


async def volume_of(api) -> dict:
    reply = await api.call("GET", "/api/v1/sites/dgx/volumes/nfs1")
    assert reply.status == 200, reply.body
    return reply.body


async def test_a_volume_on_a_shared_filesystem_fills_up_to_its_capacity_and_no_further(tmp_path, shared_volume):
    settings = settings_for(tmp_path, shared_volume, space_wait_seconds=0.3, space_poll_seconds=0.05)
    async with running_cacher(settings) as api:
        first = await api.commit(FIRST)
        rid = await api.request(first)
        await eventually(lambda: api.of(CacheReady, rid), message="cache.ready despite the filesystem's usage")
        shown = await volume_of(api)
        assert (shown["capacity_bytes"], shown["cached_bytes"], shown["free_bytes"]) == (CAPACITY, 100_000, 50_000)
        assert shown["used_bytes"] > CAPACITY and shown["filesystem"]["free_bytes"] > CAPACITY

        await eventually(lambda: [e for e in api.of(VolumeReported) if e.data.cached_bytes == 100_000],
                         message="a report of LakeCache's bytes")
        report = [e.data for e in api.of(VolumeReported) if e.data.cached_bytes == 100_000][-1]
        assert (report.capacity_bytes, report.capacity_configured, report.counted_bytes()) == (CAPACITY, True, 100_000)
        assert report.used_bytes > CAPACITY and report.filesystem_free_bytes > CAPACITY

        # 100,000 + 60,000 would pass the capacity: the fill asks for the 10,000 missing, then fails.
        second = await api.commit(SECOND)
        rid = await api.request(second)
        await eventually(lambda: api.of(CacheFailed, rid), message="cache.failed for lack of capacity")
        failed = api.of(CacheFailed, rid)[0].data
        assert failed.retryable and f"configured capacity of {CAPACITY} bytes" in failed.reason, failed.reason
        [asked] = [e.data for e in api.of(CacheSpaceRequested)]
        assert (asked.commit_id, asked.bytes_needed) == (second, 10_000)
        assert pool_bytes(shared_volume) == 100_000

        # Evicting the first copy makes room under the capacity: the second then fits.
        await evict(api, first)
        await eventually(lambda: api.of(CacheEvicted), message="cache.evicted")
        assert (await volume_of(api))["cached_bytes"] == 0
        rid = await api.request(second)
        await eventually(lambda: api.of(CacheReady, rid), message="cache.ready once room was made")
        assert (await volume_of(api))["cached_bytes"] == 60_000 == pool_bytes(shared_volume)


async def test_the_count_is_taken_again_at_start_and_after_pool_files_vanish(tmp_path, shared_volume):
    async with running_cacher(settings_for(tmp_path, shared_volume, 2 * CAPACITY)) as api:
        for files in (FIRST, SECOND):
            rid = await api.request(await api.commit(files))
            await eventually(lambda rid=rid: api.of(CacheReady, rid), message="cache.ready")
        assert (await volume_of(api))["cached_bytes"] == 160_000

    # A restart counts the pool again: the count is in memory, the pool on the volume is the truth.
    settings = settings_for(tmp_path, shared_volume, 2 * CAPACITY, volume_report_seconds=0.1)
    async with running_cacher(settings) as api:
        assert (await volume_of(api))["cached_bytes"] == 160_000
        # An operator deletes content by hand: the next periodic count sees it.
        [gone] = [p for p in (shared_volume / ".lakecache" / "pool").rglob("*")
                  if p.is_file() and p.stat().st_size == 60_000]
        gone.unlink()

        async def recounted() -> bool:
            return (await volume_of(api))["cached_bytes"] == 100_000

        await eventually(recounted, message="the periodic count of the pool")
