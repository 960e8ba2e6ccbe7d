"""The eviction story on production adapters: the cacher on Kafka, S3 (versitygw) and MongoDB
(FerretDB), the evictor as its Faust app on the same Kafka, both on real clocks."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta

import pytest

from lakecache.cacher.bootstrap import SERVICE as CACHER
from lakecache.core.contracts.cache import CacheEvicted, CacheReady
from lakecache.core.runtime import runner, start_service
from lakecache.evictor.api import POLICIES_KEY
from lakecache.evictor.api import ROUTES as EVICTOR_ROUTES
from lakecache.evictor.bootstrap import SERVICE as EVICTOR
from tests.cacher.helpers import tree_of
from tests.cacher.service.conftest import running_cacher
from tests.support.http import call
from tests.support.identity import internal_session
from tests.support.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.s3, pytest.mark.mongo]

FILES = {"train/a.bin": os.urandom(60_000), "train/b.bin": os.urandom(25_000)}
TTL = 4  # seconds of idleness before eviction (the volume's TTL)


async def test_a_leased_copy_outlives_its_ttl_and_goes_once_released(tmp_path, kafka_server, s3_server, mongo_server,
                                                                     monkeypatch):
    volume = tmp_path / "nfs1"
    volume.mkdir()
    bucket = await s3_server.new_bucket("evict")
    # PyMongo's command listener is process-global: leave it to the tracing test in tests/ports.
    monkeypatch.setattr(runner, "instrument_document_store", lambda url, telemetry: None)
    site = f"s{uuid.uuid4().hex[:8]}"
    cacher_settings = CACHER.settings_type(
        home=tmp_path / "cacher", bus_url=kafka_server.url, lake_url=f"s3://{bucket}", **s3_server.lake_settings(),
        cacher={"port": 0, "site": site, "volumes": [{"name": "nfs1", "path": str(volume), "ttl_seconds": TTL}],
                "store_url": mongo_server.url.replace("/?", f"/cacher_{uuid.uuid4().hex[:8]}?", 1)},
    )
    (tmp_path / "evictor").mkdir()
    evictor_settings = EVICTOR.settings_type(home=tmp_path / "evictor", bus_url=kafka_server.url,
                                             evictor={"port": 0, "tick_seconds": 1})
    async with running_cacher(cacher_settings) as api, start_service(EVICTOR, evictor_settings) as evictor, \
            internal_session(tmp_path / "evictor", "evictor", EVICTOR_ROUTES) as session:
        commit = await api.commit(FILES, options=cacher_settings.lake_options_for(f"s3://{bucket}"))
        rid = await api.request(commit, site=site)
        await eventually(lambda: api.of(CacheReady, rid), timeout=60, message="cache.ready over Kafka")
        copies = f"/api/v1/projects/team/sites/{site}/copies/{commit}"
        lease = await api.call("POST", f"{copies}/leases", json_body={"holder": "job-1", "ttl_seconds": 600})
        assert lease.status == 201, lease.body

        def evictions() -> list:  # the topic is shared with other tests: only this site's
            return [event.data for event in api.of(CacheEvicted) if event.data.site == site]

        async def explained() -> dict:
            reply = await call(session, evictor.base_url, "GET", f"{copies}/eviction")
            return reply.body if reply.status == 200 else {}

        async def leased_in_evictor() -> bool:
            found = await explained()
            return found.get("state") == "ready" and bool(found.get("live_leases"))

        # The Faust app joins its group and consumes the copy's history, lease included.
        await eventually(leased_in_evictor, timeout=120, message="the evictor to see the ready, leased copy")
        # Wait for the evictor's own clock (its ticks) to pass the TTL with a tick to spare: had the
        # lease not protected the copy, that tick would have decided it.
        ready_at = datetime.fromisoformat((await explained())["ready_at"])
        policies = evictor.app[POLICIES_KEY]

        async def ticked_past_ttl() -> bool:
            clock = (await policies.state(site)).clock
            return clock is not None and clock > ready_at + timedelta(seconds=TTL + 2)

        await eventually(ticked_past_ttl, timeout=60, message="the evictor's ticks to pass the copy's TTL")
        verdict = await explained()
        assert verdict["last_decision"] is None and "lease" in verdict["verdict"], verdict
        assert (await api.call("GET", copies)).body["state"] == "ready" and evictions() == []
        assert tree_of(volume / "team" / "ds" / commit) == FILES

        released = await api.call("DELETE", f"{copies}/leases/{lease.body['id']}")
        assert released.status == 204
        await eventually(evictions, timeout=60, message="cache.evicted after the release")
        evicted = evictions()[0]
        assert evicted.reason == "ttl-expired" and evicted.bytes_freed == sum(len(d) for d in FILES.values())
        assert not (volume / "team" / "ds" / commit).exists()
        assert (await api.call("GET", copies)).body["state"] == "evicted"
        assert len(evictions()) == 1
