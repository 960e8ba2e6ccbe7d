"""A job that reads a cached copy's path without LakeCache (the view mounted, plain file reads)
still keeps the copy in use: the site's cacher sees the read on the volume and the evictor counts
it. Against the whole stack behind the gateway, as ``lakecache up`` runs it."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.clients.test_leases import cached_copy, eviction_view
from tests.support.stack import STACK_SITE, STACK_VOLUME, Stack, gateway_call, served_stack
from tests.support.waiting import eventually

#: The test's sampling period: a read is seen within it.
SAMPLING_SECONDS = 0.2

#: A job that knows only a path: reads one file by name (no directory listing), imports nothing of ours.
JOB = textwrap.dedent("""
    import sys
    with open(sys.argv[1] + "/train/0.bin", "rb") as data:
        assert data.read() == b"zero"
    assert not any(name.startswith("lakecache") for name in sys.modules)
""")


@pytest.fixture
def stack(tmp_path, monkeypatch) -> Iterator[Stack]:
    """The clients' stack (``tests/clients/conftest.py``) with the cacher sampling reads often."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LAKECACHE_CONFIG", raising=False)
    with served_stack(tmp_path / "home", tmp_path / STACK_VOLUME,
                      cacher={"read_sampling_seconds": SAMPLING_SECONDS}) as running:
        monkeypatch.setenv("LAKECACHE_API_URL", running.base_url)
        monkeypatch.setenv("LAKECACHE_TOKEN", running.token)
        monkeypatch.setenv("LAKECACHE_HOME", str(tmp_path / "client-home"))
        monkeypatch.delenv("LAKECACHE_PROJECT", raising=False)
        yield running


def last_read(stack, commit_id: str) -> datetime | None:
    found = eviction_view(stack, "team", commit_id).get("last_read")
    return datetime.fromisoformat(found) if found else None


async def test_a_plain_read_of_the_copys_path_moves_its_last_read(stack, client_settings, tmp_path):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    await eventually(lambda: bool(eviction_view(stack, "team", commit_id)), message="the evictor to see the copy")
    assert last_read(stack, commit_id) is None
    status = gateway_call(stack.base_url, client_settings.bearer_token(), "GET",
                          f"/api/v1/projects/team/sites/{STACK_SITE}/copies/{commit_id}")
    [path] = [volume["path"] for volume in status["volumes"] if volume["volume"] == STACK_VOLUME]
    started = datetime.now().astimezone()

    async def job_read_and_counted() -> bool:
        # The job runs again until its read is counted: a read before the cacher's first look at
        # the new copy only sets its baseline (the fill's own reads look the same).
        job = await asyncio.create_subprocess_exec(sys.executable, "-I", "-c", JOB, path)
        assert await job.wait() == 0
        seen = last_read(stack, commit_id)
        return seen is not None and seen >= started

    await eventually(job_read_and_counted, timeout=30, interval=SAMPLING_SECONDS,
                     message="the evictor to count the job's read")
    read_at = last_read(stack, commit_id)
    assert read_at <= datetime.now().astimezone()
    view = eviction_view(stack, "team", commit_id)  # idle time counts from that read
    assert datetime.fromisoformat(view["last_use"]) == read_at

