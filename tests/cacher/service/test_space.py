"""A fill that lacks space asks for it once, waits a bounded time, then retries once or fails."""

from __future__ import annotations

import os

import pytest

from lakecache.cacher.volume.layout import SpaceInfo, VolumeLayout
from lakecache.core.contracts.cache import CacheFailed, CacheReady, CacheSpaceRequested
from tests.cacher.service.conftest import cacher_settings, running_cacher
from tests.support.waiting import eventually

FILES = {"big.bin": os.urandom(50_000)}


@pytest.fixture
def free(monkeypatch) -> list[int]:
    """The free bytes every volume reports (statvfs stand-in), changeable by the test."""
    free = [0]
    monkeypatch.setattr(VolumeLayout, "space", lambda self: SpaceInfo(10**12, free[0]))
    return free


async def test_a_fill_waits_for_space_the_evictor_frees_and_then_succeeds(tmp_path, volume, free):
    settings = cacher_settings(tmp_path / "home", volume, space_wait_seconds=30, space_poll_seconds=0.05)
    async with running_cacher(settings) as api:
        commit = await api.commit(FILES)
        rid = await api.request(commit)
        await eventually(lambda: api.of(CacheSpaceRequested), message="cache.space.requested")
        asked = api.of(CacheSpaceRequested)[0].data
        assert (asked.volume, asked.commit_id, asked.bytes_needed) == ("nfs1", commit, 50_000)
        free[0] = 10**9
        await eventually(lambda: api.of(CacheReady, rid), message="cache.ready after space was freed")
        assert len(api.of(CacheSpaceRequested)) == 1


async def test_a_fill_still_lacking_space_after_the_wait_fails_with_needed_and_free(tmp_path, volume, free):
    free[0] = 1000
    settings = cacher_settings(tmp_path / "home", volume, space_wait_seconds=0.2, space_poll_seconds=0.05)
    async with running_cacher(settings) as api:
        commit = await api.commit(FILES)
        rid = await api.request(commit)
        await eventually(lambda: api.of(CacheFailed, rid), message="cache.failed")
        failed = api.of(CacheFailed, rid)[0].data
        assert failed.retryable and "needs 50000 bytes" in failed.reason and "only 1000 were free" in failed.reason
        assert len(api.of(CacheSpaceRequested)) == 1
        assert (await api.copy(commit))["state"] == "failed"


async def test_space_running_out_in_the_middle_of_a_fill_asks_for_what_the_fill_had_left(tmp_path, volume, free,
                                                                                          monkeypatch):
    import errno

    from lakecache.cacher.fill import fetcher

    files = {f"part-{i}.bin": os.urandom(20_000) for i in range(3)}
    free[0] = 10**9  # enough when the fill plans; then the disk fills up under it

    def disk_full(*args, **kwargs):
        free[0] = 0
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fetcher, "_write_at", disk_full)
    settings = cacher_settings(tmp_path / "home", volume, space_wait_seconds=0.2, space_poll_seconds=0.05)
    async with running_cacher(settings) as api:
        commit = await api.commit(files)
        rid = await api.request(commit)
        await eventually(lambda: api.of(CacheFailed, rid), message="cache.failed")
        [asked] = [e.data for e in api.of(CacheSpaceRequested)]
        # What the fill still had to fetch (it fetched nothing), not a token byte.
        assert asked.bytes_needed == 60_000
