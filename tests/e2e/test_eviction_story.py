"""The eviction story on the five services of `lakecache up`, configured only through the environment,
with the evictor's real clock: a job's lease keeps a copy past its idle TTL; released, the copy is evicted.

The services run in this process through the same runner as `lakecache up` (``run_until_stopped``),
because asking a site for a copy is not on any HTTP route yet (the gateway's ``POST /caches`` will
send ``cache.requested``); that one command goes onto the bus here, everything else is HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import aiohttp
import pytest

from lakecache.cli.services import SERVICES, load_service
from lakecache.core.contracts.cache import CacheRequested
from lakecache.core.runtime import RunningService, run_until_stopped
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.support.http import call
from tests.support.waiting import eventually

SITE, VOLUME = "dgx", "nfs1"
TTL_SECONDS = 2
TICK_SECONDS = 0.2


@pytest.fixture
async def up(tmp_path, monkeypatch):
    """`lakecache up` in this process, with the settings a user would export."""
    volume = tmp_path / VOLUME
    volume.mkdir()
    monkeypatch.chdir(tmp_path)  # no lakecache.toml from the working directory
    monkeypatch.delenv("LAKECACHE_CONFIG", raising=False)
    env = {
        "LAKECACHE_HOME": str(tmp_path / "home"),
        "LAKECACHE_BUS_URL": f"memory://eviction-story-{uuid.uuid4().hex[:8]}",
        "LAKECACHE_CACHER__SITE": SITE,
        # Watermarks at the top: the volume's usage is the shared test disk's, not this test's.
        "LAKECACHE_CACHER__VOLUMES": json.dumps([{"name": VOLUME, "path": str(volume), "high_watermark": 1.0,
                                                  "low_watermark": 0.99}]),
        "LAKECACHE_EVICTOR__TICK_SECONDS": str(TICK_SECONDS),
        **{f"LAKECACHE_{name.upper()}__PORT": "0" for name in SERVICES},
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    definitions = [load_service(name) for name in SERVICES]
    settings = [definition.settings_type() for definition in definitions]
    assert settings[2].evictor.tick_seconds == TICK_SECONDS and settings[1].cacher.site == SITE
    settings[0].home.mkdir(parents=True, exist_ok=True)  # as `lakecache up` does

    started: asyncio.Future[list[RunningService]] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    runner = asyncio.create_task(run_until_stopped(list(zip(definitions, settings, strict=True)), stop=stop,
                                                   on_started=started.set_result))
    try:
        await asyncio.wait([started, runner], timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            runner.result()  # a start-up failure, with its own error
        if not started.done():
            raise AssertionError("the services of `lakecache up` did not start within 60 s")
        running = started.result()
        yield {r.definition.name: r for r in running}, volume
    finally:
        stop.set()
        await asyncio.wait_for(runner, timeout=30)


async def test_a_leased_copy_outlives_its_ttl_and_is_evicted_after_release(up, tmp_path):
    services, volume = up
    catalog, cacher, evictor = services["catalog"], services["cacher"], services["evictor"]
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    for i in range(3):
        (data / "train" / f"{i}.bin").write_bytes(os.urandom(4096))

    client = ClientSettings(api_url=catalog.base_url, cache_dir=tmp_path / "client-cache")
    async with CatalogClient(client) as lakecache:
        await lakecache.create_dataset("vision", "cats")
        commit = (await sync_directory(lakecache, DatasetRef("vision", "cats"), data, message="first")).commit
    copy_path = f"/api/v1/sites/{SITE}/copies/{commit['id']}"
    await cacher.resources.publisher.emit(CacheRequested(
        request_id=uuid.uuid4().hex, project="vision", dataset_id=commit["dataset_id"], dataset="cats",
        commit_id=commit["id"], site=SITE, volume=VOLUME, requester="ada", manifest_url=commit["manifest_url"]))

    async with aiohttp.ClientSession() as http:
        async def copy_state() -> str | None:
            reply = await call(http, cacher.base_url, "GET", copy_path)
            return reply.body.get("state") if reply.status == 200 else None

        async def copy_is(expected: str) -> bool:
            return await copy_state() == expected

        async def explain() -> dict:
            return (await call(http, evictor.base_url, "GET", copy_path + "/eviction")).body

        await eventually(lambda: copy_is("ready"), message="the copy to be ready")
        lease = await call(http, cacher.base_url, "POST", copy_path + "/leases",
                           json_body={"holder": "train-job", "ttl_seconds": 120})
        assert lease.status == 201, lease.body
        # The idle TTL is set after the lease, so a slow start cannot evict the copy before the job holds it.
        ttl = await call(http, evictor.base_url, "PUT", f"/api/v1/sites/{SITE}/ttl",
                         json_body={"scope": "dataset", "target": commit["dataset_id"], "ttl_seconds": TTL_SECONDS})
        assert ttl.status == 202, ttl.body

        async def protected() -> bool:
            found = await explain()
            return found.get("ttl_source") == "dataset" and [x["holder"] for x in found["live_leases"]] == ["train-job"]

        await eventually(protected, message="the evictor to see the lease and the TTL")
        # Proving that nothing happens takes time: let the evictor's clock run well past the TTL.
        await asyncio.sleep(TTL_SECONDS + 10 * TICK_SECONDS)
        assert await copy_state() == "ready"
        assert (await explain())["verdict"].startswith("kept: a job holds a lease on it")
        assert (volume / "vision" / "cats" / commit["id"] / "train" / "0.bin").exists()

        released = await call(http, cacher.base_url, "DELETE", f"{copy_path}/leases/{lease.body['id']}")
        assert released.status == 204
        await eventually(lambda: copy_is("evicted"), timeout=TTL_SECONDS + 15,
                         message="the copy to be evicted after the release")
        assert not (volume / "vision" / "cats" / commit["id"]).exists()
        found = await explain()
        assert found["state"] == "evicted" and found["last_decision"]["reason"] == "ttl-expired"
        async with http.get(evictor.base_url + "/metrics") as response:
            metrics = await response.text()
        assert 'lakecache_evictor_decisions_total{dry_run="false",reason="ttl-expired"} 1.0' in metrics
