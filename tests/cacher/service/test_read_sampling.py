"""The cacher announces a ready copy read on its volume (``cache.reads.observed``), whoever read it:
a job that never imports LakeCache still keeps its copy in use."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from lakecache.cacher.reads import ReadSampler
from lakecache.core.contracts.cache import CacheReadsObserved, CacheReady
from lakecache.core.errors import Unavailable
from tests.cacher.service.conftest import cacher_settings, running_cacher
from tests.support.waiting import bus_settled, eventually

FILES = {"train/0.bin": os.urandom(4000), "train/1.bin": os.urandom(4000)}


async def ready_copy(api) -> str:
    commit = await api.commit(FILES)
    request = await api.request(commit)
    await eventually(lambda: api.of(CacheReady, request), message="the copy to be ready")
    return commit


def observed(api) -> list[CacheReadsObserved]:
    return [event.data for event in api.of(CacheReadsObserved)]


async def test_a_read_of_a_ready_copys_view_is_announced_once_after_the_first_look(tmp_path, volume):
    # Sampling off in the background: the test takes the samples itself.
    async with running_cacher(cacher_settings(tmp_path / "home", volume, read_sampling_seconds=0)) as api:
        commit = await ready_copy(api)
        sampler = ReadSampler(api.cacher)
        view = volume / "team" / "ds" / commit
        assert (view / "train" / "0.bin").read_bytes() == FILES["train/0.bin"]  # before the first look

        assert await sampler.sample() == []
        before = datetime.now(UTC)
        assert (view / "train" / "1.bin").read_bytes() == FILES["train/1.bin"]
        [sent] = await sampler.sample()
        await bus_settled(api.running.resources.bus)

        assert observed(api) == [sent]
        assert (sent.site, sent.volume, sent.project, sent.dataset_id, sent.commit_id) == (
            "dgx", "nfs1", "team", "id-ds", commit)
        assert sent.files_read == 1 and before.replace(microsecond=0) <= sent.read_at <= datetime.now(UTC)
        assert await sampler.sample() == []  # nothing read since


async def test_a_read_not_announced_for_a_broken_bus_is_announced_with_the_next_sample(tmp_path, volume,
                                                                                     monkeypatch):
    async with running_cacher(cacher_settings(tmp_path / "home", volume, read_sampling_seconds=0)) as api:
        commit = await ready_copy(api)
        sampler = ReadSampler(api.cacher)
        await sampler.sample()
        os.listdir(volume / "team" / "ds" / commit)
        publisher = api.cacher.publisher
        emit = publisher.emit

        async def broken(*args, **kwargs):
            raise Unavailable("the bus is down")

        monkeypatch.setattr(publisher, "emit", broken)
        assert await sampler.sample() == []
        monkeypatch.setattr(publisher, "emit", emit)
        [sent] = await sampler.sample()
        assert sent.commit_id == commit and sent.directories_read == 1
