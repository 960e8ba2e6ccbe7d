"""``lakecache.use``: a job reads one commit's cached copy at its site, under a lease, and says
so. Against the whole stack behind the gateway (the ``stack`` fixture)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime

import pytest

import lakecache
from lakecache.core.adapters.objects.local import LocalObjectStore
from lakecache.sdk.errors import CopyNotReady
from lakecache.sdk.gateway import GatewayClient, GatewayNotFound
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.sync import sync_directory
from lakecache.sdk.use import use_async
from tests.clients.helpers import write_tree
from tests.clients.test_leases import FILES, cached_copy, eviction_view, leases_of
from tests.support.stack import STACK_SITE, gateway_call
from tests.support.waiting import eventually


def files_under(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def synced_only(settings, tmp_path) -> str:
    """``team/ds`` synced from ``FILES`` but not cached anywhere; the commit id."""
    async with GatewayClient(settings) as gateway:
        await gateway.create_dataset("team", "ds")
        return (await sync_directory(gateway, DatasetRef("team", "ds"), write_tree(tmp_path / "src", FILES),
                                     message="first")).commit["id"]


def copy_status(stack, settings, commit_id: str) -> dict:
    return gateway_call(stack.base_url, settings.bearer_token(), "GET",
                        f"/api/v1/projects/team/sites/{STACK_SITE}/copies/{commit_id}")


class Run:
    """What ``use`` needs of a ``lakecache.start_run`` run: ``record_input``."""

    def __init__(self) -> None:
        self.inputs: list[tuple] = []

    def record_input(self, dataset: str, commit_id: str, **fields) -> None:
        self.inputs.append((dataset, commit_id, fields))


async def test_a_ready_copy_is_read_under_a_lease_without_touching_the_lake(stack, client_settings, tmp_path,
                                                                           monkeypatch):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    await eventually(lambda: leases_of(stack, "team", commit_id) == [], message="the evictor to see the copy")
    before = copy_status(stack, client_settings, commit_id)
    # The stack runs in this process: every read of the (local) lake, by any service, passes here.
    lake_reads: list[str] = []
    get = LocalObjectStore.get
    monkeypatch.setattr(LocalObjectStore, "get", lambda self, key, **kw: lake_reads.append(key) or get(self, key, **kw))
    run = Run()

    with lakecache.use("team/ds", site=STACK_SITE, settings=client_settings, run=run, holder="job-1") as root:
        assert files_under(root) == FILES
        await eventually(lambda: leases_of(stack, "team", commit_id) == ["job-1"], message="the lease")
    await eventually(lambda: leases_of(stack, "team", commit_id) == [], message="the release")

    assert lake_reads == []
    # No cache request either: the read model still holds the first request.
    assert copy_status(stack, client_settings, commit_id)["requested_at"] == before["requested_at"]
    [(dataset, recorded, fields)] = run.inputs
    assert (dataset, recorded) == ("ds", commit_id)
    assert fields == {"site": STACK_SITE, "volume": "nfs1", "cache_hit": True, "waited_seconds": 0.0}


async def test_an_exception_in_the_block_still_releases_the_lease(stack, client_settings, tmp_path):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    with pytest.raises(RuntimeError, match="training failed"):
        async with use_async(f"team/ds@{commit_id}", site=STACK_SITE, settings=client_settings, holder="job-2"):
            await eventually(lambda: leases_of(stack, "team", commit_id) == ["job-2"], message="the lease")
            raise RuntimeError("training failed")
    await eventually(lambda: leases_of(stack, "team", commit_id) == [], message="the release")


async def test_a_miss_waits_for_the_copy_with_progress_on_stderr(stack, client_settings, tmp_path, capsys):
    commit_id = await synced_only(client_settings, tmp_path)
    run = Run()
    with lakecache.use("team/ds@latest", site=STACK_SITE, settings=client_settings, run=run, timeout=60) as root:
        assert files_under(root) == FILES
    err = capsys.readouterr().err
    assert f"waiting for team/ds@{commit_id[:12]} at site {STACK_SITE}" in err
    assert ": ready" in err and "2/2 files" in err
    [(_, recorded, fields)] = run.inputs
    assert recorded == commit_id and fields["cache_hit"] is False and fields["waited_seconds"] > 0


async def test_on_miss_fail_raises_without_asking_for_the_copy(stack, client_settings, tmp_path):
    commit_id = await synced_only(client_settings, tmp_path)
    with pytest.raises(CopyNotReady) as refused:
        with lakecache.use("team/ds", site=STACK_SITE, settings=client_settings, on_miss="fail"):
            pytest.fail("the block must not run")
    assert (refused.value.state, refused.value.commit_id) == ("missing", commit_id)
    assert "lakecache cache request" in str(refused.value)
    async with GatewayClient(client_settings) as gateway:
        with pytest.raises(GatewayNotFound):  # never requested
            await gateway.copy_status("team", STACK_SITE, commit_id)


async def test_a_read_through_use_moves_the_copys_last_use(stack, client_settings, tmp_path):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    await eventually(lambda: bool(eviction_view(stack, "team", commit_id)), message="the evictor to see the copy")
    assert eviction_view(stack, "team", commit_id)["last_read"] is None
    entered = datetime.now().astimezone()
    with lakecache.use("team/ds", site=STACK_SITE, settings=client_settings):
        pass

    def read_after_entering() -> bool:
        last_read = eviction_view(stack, "team", commit_id)["last_read"]
        return last_read is not None and datetime.fromisoformat(last_read) >= entered

    await eventually(read_after_entering, message="the evictor to count the read")
    view = eviction_view(stack, "team", commit_id)  # idle time counts from the read or, later, the release
    assert datetime.fromisoformat(view["last_use"]) >= datetime.fromisoformat(view["last_read"])


JOB = textwrap.dedent("""
    import sys, time
    import lakecache

    with lakecache.use("team/ds", site=sys.argv[1], lease_seconds=2, holder="job-9"):
        print("READY", flush=True)
        time.sleep(120)
""")


def start_job(stack, token: str) -> subprocess.Popen:
    env = {**os.environ, "LAKECACHE_API_URL": stack.base_url, "LAKECACHE_TOKEN": token}
    job = subprocess.Popen([sys.executable, "-c", JOB, STACK_SITE], stdout=subprocess.PIPE, env=env, text=True)
    assert job.stdout is not None and job.stdout.readline().strip() == "READY"
    return job


@pytest.mark.parametrize(("sent", "exit_status"), [(signal.SIGTERM, 128 + signal.SIGTERM),
                                                   (signal.SIGKILL, -signal.SIGKILL)])
async def test_a_terminated_job_releases_and_a_killed_jobs_lease_expires(stack, client_settings, user_token,
                                                                           tmp_path, sent, exit_status):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    job = start_job(stack, user_token)
    try:
        await eventually(lambda: leases_of(stack, "team", commit_id) == ["job-9"], message="the job's lease")
        job.send_signal(sent)
        assert job.wait(timeout=15) == exit_status
        # SIGTERM: released on the way out; SIGKILL: nobody renews it, it expires (2 s).
        await eventually(lambda: leases_of(stack, "team", commit_id) == [], timeout=15, message="no live lease")
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
