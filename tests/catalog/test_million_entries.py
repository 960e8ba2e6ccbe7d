"""A 1,000,000-entry commit through the catalog's HTTP API, with the catalog's peak memory measured.

The catalog runs as its own process (`python -m lakecache.catalog`) so its peak RSS (VmHWM)
is its own; the client streams the NDJSON body, so neither side holds the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import aiohttp

from lakecache.catalog.api import ROUTES
from tests.e2e.test_lakecache_up import free_port
from tests.e2e.test_standalone_services import wait_until_healthy
from tests.support.identity import internal_session

ENTRIES = 1_000_000


def peak_rss_mib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024


async def body():
    yield json.dumps({"message": "a million files", "parents": None}).encode() + b"\n"
    batch = []
    for i in range(ENTRIES - 1, -1, -1):  # reverse order: the catalog must sort
        digest = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
        batch.append(f'{{"path":"shard{i % 1000:04d}/img-{i:07d}.jpg","size":{i % 4096},"sha256":"{digest}"}}\n')
        if len(batch) == 10_000:
            yield "".join(batch).encode()
            batch = []
    if batch:
        yield "".join(batch).encode()


async def test_a_million_entry_commit_commits_and_lists_in_bounded_memory(tmp_path):
    port = free_port()
    env = {**os.environ, "LAKECACHE_HOME": str(tmp_path), "LAKECACHE_CATALOG__PORT": str(port)}
    log = (tmp_path / "catalog.log").open("w")  # a file, not a pipe nobody drains
    catalog = subprocess.Popen([sys.executable, "-m", "lakecache.catalog"], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=log, text=True)
    base = f"http://127.0.0.1:{port}/api/v1/datasets"
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", catalog)
        idle = peak_rss_mib(catalog.pid)
        timeout = aiohttp.ClientTimeout(total=900)
        async with internal_session(tmp_path, "catalog", ROUTES, project="big", timeout=timeout) as session:
            async with session.post(base, json={"project": "big", "name": "images"}) as response:
                assert response.status == 201
            started = time.monotonic()
            async with session.post(base + "/big/images/commits", data=body(),
                                    headers={"Content-Type": "application/x-ndjson"}) as response:
                reply = await response.json()
                assert response.status == 201, reply
            commit_seconds = time.monotonic() - started
            assert reply["commit"]["files"] == ENTRIES
            assert reply["commit"]["bytes"] == sum(i % 4096 for i in range(ENTRIES))
            started = time.monotonic()
            async with session.get(base + "/big/images/refs/latest/entries",
                                   params={"prefix": "shard0999/", "limit": "5"}) as response:
                page = await response.json()
            list_seconds = time.monotonic() - started
            assert [e["path"] for e in page["items"]] == [f"shard0999/img-{i:07d}.jpg" for i in range(999, 5999, 1000)]
            async with session.get(base + "/big/images/refs/latest/entries", params={"limit": "2"}) as response:
                first = await response.json()
            assert [e["path"] for e in first["items"]] == ["shard0000/img-0000000.jpg", "shard0000/img-0001000.jpg"]
        peak = peak_rss_mib(catalog.pid)
    finally:
        catalog.send_signal(signal.SIGTERM)
        catalog.wait(timeout=60)
        log.close()
    print(f"\n1M-entry commit through the catalog API: catalog peak RSS {peak} MiB (idle {idle} MiB), "
          f"commit {commit_seconds:.1f}s, list of the last shard {list_seconds:.1f}s")
    # A million entries held as Python objects would take well over a gigabyte.
    assert peak < 400
