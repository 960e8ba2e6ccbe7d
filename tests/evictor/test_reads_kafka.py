"""Reads seen on the volume in production's runtime: the cacher on Kafka announces a plain read of
a copy's view, and the evictor's Faust app counts it as the copy's last read."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest

from lakecache.cacher.bootstrap import SERVICE as CACHER
from lakecache.core.contracts.cache import CacheReadsObserved, CacheReady
from lakecache.core.runtime import start_service
from lakecache.evictor.api import ROUTES as EVICTOR_ROUTES
from lakecache.evictor.bootstrap import SERVICE as EVICTOR
from tests.cacher.service.conftest import running_cacher
from tests.support.http import call
from tests.support.identity import internal_session
from tests.support.waiting import eventually

pytestmark = pytest.mark.kafka

FILES = {"train/a.bin": os.urandom(6000), "train/b.bin": os.urandom(2000)}
SAMPLING_SECONDS = 0.3


async def test_a_plain_read_on_the_volume_reaches_the_faust_evictor(tmp_path, kafka_server):
    volume = tmp_path / "nfs1"
    volume.mkdir()
    site = f"s{uuid.uuid4().hex[:8]}"  # the topics are shared with other tests: a site of its own
    cacher_settings = CACHER.settings_type(home=tmp_path / "cacher", bus_url=kafka_server.url, cacher={
        "port": 0, "site": site, "volumes": [{"name": "nfs1", "path": str(volume)}],
        "read_sampling_seconds": SAMPLING_SECONDS})
    (tmp_path / "cacher").mkdir()
    (tmp_path / "evictor").mkdir()
    evictor_settings = EVICTOR.settings_type(home=tmp_path / "evictor", bus_url=kafka_server.url,
                                             evictor={"port": 0, "tick_seconds": 1})
    async with running_cacher(cacher_settings) as api, start_service(EVICTOR, evictor_settings) as evictor, \
            internal_session(tmp_path / "evictor", "evictor", EVICTOR_ROUTES) as session:
        commit = await api.commit(FILES)
        request = await api.request(commit, site=site)
        await eventually(lambda: api.of(CacheReady, request), timeout=60, message="cache.ready over Kafka")
        copy = f"/api/v1/projects/team/sites/{site}/copies/{commit}/eviction"

        async def explained() -> dict:
            reply = await call(session, evictor.base_url, "GET", copy)
            return reply.body if reply.status == 200 else {}

        async def ready_in_evictor() -> bool:
            return (await explained()).get("state") == "ready"

        await eventually(ready_in_evictor, timeout=120, message="the Faust evictor to see the copy ready")
        started = datetime.now(UTC)

        def read_and_seen() -> bool:
            # Read again until the cacher has armed the view (its first look is a baseline only).
            assert (volume / "team" / "ds" / commit / "train" / "a.bin").read_bytes() == FILES["train/a.bin"]
            return any(e.data.commit_id == commit and e.data.read_at >= started.replace(microsecond=0)
                       for e in api.of(CacheReadsObserved))

        await eventually(read_and_seen, timeout=30, interval=SAMPLING_SECONDS, message="cache.reads.observed")

        async def counted() -> bool:
            last_read = (await explained()).get("last_read")
            return last_read is not None and datetime.fromisoformat(last_read) >= started.replace(microsecond=0)

        await eventually(counted, timeout=60, message="the Faust evictor to count the read")
        seen = {e.data.read_at for e in api.of(CacheReadsObserved) if e.data.commit_id == commit}
        assert datetime.fromisoformat((await explained())["last_read"]) in seen
