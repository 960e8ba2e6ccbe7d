"""A cacher stopped in the middle of a fill resumes it from its recorded state when it starts again."""

from __future__ import annotations

import os

from lakecache.core.contracts.cache import CacheReady
from tests.cacher.helpers import tree_of
from tests.cacher.service.conftest import cacher_settings, copy_path, running_cacher
from tests.support.waiting import eventually

FILES = {f"part/{i:02}.bin": os.urandom(20_000) for i in range(12)}


async def test_a_copy_left_filling_by_a_stopped_cacher_becomes_ready_after_restart(tmp_path, volume):
    settings = cacher_settings(tmp_path / "home", volume)
    async with running_cacher(settings, delay=0.5) as api:
        commit = await api.commit(FILES)
        rid = await api.request(commit)

        async def filling() -> bool:
            reply = await api.call("GET", copy_path(commit))
            return reply.status == 200 and reply.body["state"] == "filling" and api.gets("_lakecache/objects/") > 0

        await eventually(filling, message="the fill to start")
    # Stopped mid-fill: the record says filling, nothing is published.
    assert not (volume / "team" / "ds" / commit).exists()

    async with running_cacher(settings) as again:
        assert (await again.copy(commit))["state"] in ("filling", "ready")
        await eventually(lambda: again.of(CacheReady, rid), message="cache.ready after the restart")
        assert tree_of(volume / "team" / "ds" / commit) == FILES
        assert (await again.copy(commit))["state"] == "ready"
