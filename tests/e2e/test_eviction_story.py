"""The eviction story on the five services of `lakecache up`, configured only through the environment,
with the evictor's real clock, every call through the gateway: a user syncs a dataset and caches it
at a site, a job's lease keeps the copy past its idle TTL; released, the copy is evicted.

The services run in this process through the same runner as `lakecache up` (``run_until_stopped``).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from lakecache.cli.services import SERVICES, load_service
from lakecache.core.runtime import RunningService, run_until_stopped
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.leases import CopyLease
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.support.http import call
from tests.support.stack import create_user
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
        yield {r.definition.name: r for r in running}, volume, settings[0].home
    finally:
        stop.set()
        await asyncio.wait_for(runner, timeout=30)


async def test_a_leased_copy_outlives_its_ttl_and_is_evicted_after_release(up, tmp_path):
    services, volume, home = up
    gateway, evictor = services["gateway"].base_url, services["evictor"]
    admin = (home / "admin-token").read_text().strip()
    token = await asyncio.to_thread(create_user, gateway, admin, "ada", {"vision": "editor"})
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    for i in range(3):
        (data / "train" / f"{i}.bin").write_bytes(os.urandom(4096))

    ada = ClientSettings(api_url=gateway, token=token, home=tmp_path / "no-home", cache_dir=tmp_path / "client-cache")
    async with CatalogClient(ada) as lakecache:
        await lakecache.create_dataset("vision", "cats")
        commit = (await sync_directory(lakecache, DatasetRef("vision", "cats"), data, message="first")).commit
    copy_path = f"/api/v1/projects/vision/sites/{SITE}/copies/{commit['id']}"

    async with aiohttp.ClientSession() as http:
        async def api(who: str, method: str, path: str, body: Any = None) -> Any:
            reply = await call(http, gateway, method, path, json_body=body, headers={"Authorization": f"Bearer {who}"})
            assert reply.status < 300, (method, path, reply.status, reply.body)
            return reply.body

        async def copy_is(expected: str) -> bool:
            return (await api(token, "GET", copy_path))["state"] == expected

        async def explain() -> dict:
            """The evictor's view of the copy; empty until it has seen the copy's cache.ready (it may lag
            behind the gateway's read model)."""
            reply = await call(http, gateway, "GET", copy_path + "/eviction",
                               headers={"Authorization": f"Bearer {token}"})
            assert reply.status in (200, 404), reply.body
            return reply.body if reply.status == 200 else {}

        await api(token, "POST", "/api/v1/caches", {"project": "vision", "dataset": "cats", "site": SITE})
        await eventually(lambda: copy_is("ready"), message="the copy to be ready")
        async with CopyLease(SITE, commit["id"], project="vision", settings=ada, holder="train-job",
                             ttl_seconds=120) as leased:
            assert (leased.path / "train" / "0.bin").read_bytes() == (data / "train" / "0.bin").read_bytes()
            # The idle TTL is set after the lease, so a slow start cannot evict the copy before the job holds it.
            await api(admin, "PUT", f"/api/v1/sites/{SITE}/ttl",
                      {"scope": "dataset", "target": commit["dataset_id"], "ttl_seconds": TTL_SECONDS})

            async def protected_past_its_ttl() -> bool:
                found = await explain()
                if found.get("ttl_source") != "dataset" or [x["holder"] for x in found["live_leases"]] != ["train-job"]:
                    return False
                # The evictor's own clock: its ticks have seen the copy well past the TTL counted from ready.
                since_ready = datetime.fromisoformat(found["now"]) - datetime.fromisoformat(found["ready_at"])
                return since_ready.total_seconds() > TTL_SECONDS + 10 * TICK_SECONDS

            await eventually(protected_past_its_ttl, message="the evictor to keep the leased copy past its TTL")
            found = await explain()
            assert found["state"] == "ready" and found["verdict"].startswith("kept: a job holds a lease on it")
            assert await copy_is("ready") and (leased.path / "train" / "0.bin").exists()

        await eventually(lambda: copy_is("evicted"), timeout=TTL_SECONDS + 15,
                         message="the copy to be evicted after the release")
        assert not leased.path.exists()
        found = await explain()
        assert found["state"] == "evicted" and found["last_decision"]["reason"] == "ttl-expired"
        metrics_token = (home / "keys" / "metrics-token").read_text().strip()
        async with http.get(evictor.base_url + "/metrics", headers={"Authorization": f"Bearer {metrics_token}"}) as r:
            metrics = await r.text()
        assert 'lakecache_evictor_decisions_total{dry_run="false",reason="ttl-expired"} 1.0' in metrics
