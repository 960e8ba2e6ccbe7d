"""``lakecache job run``: a command run on a cached commit under a lease, tracked as a run whose
job token the command logs with. The real CLI in a subprocess against the whole stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.error

import pytest

from lakecache.sdk.gateway import GatewayClient
from tests.clients.test_leases import FILES, cached_copy, leases_of
from tests.clients.test_use import synced_only
from tests.support.stack import STACK_SITE, gateway_call
from tests.support.waiting import eventually

#: The command the job runs: it reports what it was given, reads the data, logs through the job
#: token's run, waits for the test's go-ahead (a file), then exits with the status asked for.
COMMAND = textwrap.dedent("""
    import json, os, pathlib, sys, time
    import lakecache

    out, go, status = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
    root = pathlib.Path(os.environ["LAKECACHE_DATA_DIR"])
    files = {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}
    with lakecache.start_run(experiment="ignored", params={"inner": "1"}) as run:
        run.log_metric("loss", 0.5, step=1)
        attached = run.attached
    env = {k: v for k, v in os.environ.items() if k.startswith("LAKECACHE_")}
    out.write_text(json.dumps({"env": env, "files": files, "attached": attached}))
    while not go.exists():
        time.sleep(0.05)
    sys.exit(status)
""")


CLI = "import sys; from lakecache.cli.main import app; sys.argv[0] = 'lakecache'; app()"


def job_run(stack, token: str, tmp_path, *args: str, status: int = 0) -> subprocess.Popen:
    env = {**os.environ, "LAKECACHE_API_URL": stack.base_url, "LAKECACHE_TOKEN": token}
    return subprocess.Popen([sys.executable, "-c", CLI, "job", "run", *args, "--",
                             sys.executable, "-c", COMMAND, str(tmp_path / "out.json"), str(tmp_path / "go"),
                             str(status)], env=env, stderr=subprocess.PIPE, text=True)


def finish(job: subprocess.Popen, tmp_path, timeout: float = 60) -> tuple[int, str]:
    (tmp_path / "go").touch()
    try:
        _, err = job.communicate(timeout=timeout)
    finally:
        if job.poll() is None:
            job.kill()
    return job.returncode, err


def reported(tmp_path) -> dict:
    path = tmp_path / "out.json"
    return json.loads(path.read_text()) if path.exists() else {}


async def run_named(settings, run_id: str) -> dict:
    async with GatewayClient(settings) as gateway:
        return await gateway.get_run("team", run_id)


async def test_the_command_reads_the_copy_under_a_lease_and_logs_to_the_run(stack, client_settings, user_token,
                                                                            tmp_path):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    job = job_run(stack, user_token, tmp_path, "--dataset", "team/ds", "--site", STACK_SITE, "--experiment", "flow",
                  "--param", "lr=0.1", status=3)
    try:
        await eventually(lambda: "LAKECACHE_RUN_ID" in reported(tmp_path).get("env", {}), timeout=60,
                         message="the command to start")
        given = reported(tmp_path)
        holders = leases_of(stack, "team", commit_id)
        assert holders is not None and len(holders) == 1 and given["env"]["LAKECACHE_RUN_ID"] in holders[0]
    finally:
        code, err = finish(job, tmp_path)
    assert code == 3, err

    env = given["env"]
    assert given["files"] == {name: data.decode() for name, data in FILES.items()}
    assert env["LAKECACHE_COMMIT_ID"] == commit_id and env["LAKECACHE_DATASET"] == "team/ds"
    assert env["LAKECACHE_SITE"] == STACK_SITE and env["LAKECACHE_TOKEN"] != user_token
    assert given["attached"] is True
    await eventually(lambda: leases_of(stack, "team", commit_id) == [], message="the lease released")

    run = await run_named(client_settings, env["LAKECACHE_RUN_ID"])
    assert run["status"] == "failed"
    assert run["params"] == {"lr": "0.1", "inner": "1"}
    assert run["tags"]["lakecache.exit_code"] == "3"
    assert run["metrics"]["loss"]["value"] == 0.5
    [read] = run["inputs"]
    assert (read["commit_id"], read["site"], read["cache_hit"]) == (commit_id, STACK_SITE, True)
    # The job token ended with the command.
    with pytest.raises(urllib.error.HTTPError) as refused:
        gateway_call(stack.base_url, env["LAKECACHE_TOKEN"], "GET", "/api/v1/me")
    assert refused.value.code == 401


async def test_a_miss_is_cached_first_and_a_clean_exit_finishes_the_run(stack, client_settings, user_token,
                                                                      tmp_path):
    commit_id = await synced_only(client_settings, tmp_path)
    job = job_run(stack, user_token, tmp_path, "--dataset", f"team/ds@{commit_id}", "--site", STACK_SITE)
    await eventually(lambda: "LAKECACHE_RUN_ID" in reported(tmp_path).get("env", {}), timeout=60,
                     message="the command to start")
    code, err = finish(job, tmp_path)
    assert code == 0, err
    assert "waiting for team/ds@" in err
    run = await run_named(client_settings, reported(tmp_path)["env"]["LAKECACHE_RUN_ID"])
    assert run["status"] == "finished"
    [read] = run["inputs"]
    assert read["cache_hit"] is False and read["waited_seconds"] > 0


async def test_sigterm_reaches_the_command_and_the_run_is_killed(stack, client_settings, user_token, tmp_path):
    commit_id = await cached_copy(stack, client_settings, tmp_path, "team")
    job = job_run(stack, user_token, tmp_path, "--dataset", "team/ds", "--site", STACK_SITE)
    try:
        await eventually(lambda: "LAKECACHE_RUN_ID" in reported(tmp_path).get("env", {}), timeout=60,
                         message="the command to start")
        job.send_signal(signal.SIGTERM)
        _, err = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    assert job.returncode == 128 + signal.SIGTERM, err
    run = await run_named(client_settings, reported(tmp_path)["env"]["LAKECACHE_RUN_ID"])
    assert run["status"] == "killed"
    await eventually(lambda: leases_of(stack, "team", commit_id) == [], message="the lease released")


@pytest.mark.parametrize("args", [["--on-miss", "fail"], ["--no-track", "--on-miss", "fail"]])
async def test_on_miss_fail_exits_1_without_running_the_command(stack, client_settings, user_token, tmp_path,
                                                                 args):
    await synced_only(client_settings, tmp_path)
    job = job_run(stack, user_token, tmp_path, "--dataset", "team/ds", "--site", STACK_SITE, *args)
    code, err = finish(job, tmp_path)
    assert code == 1
    assert "is not cached" in err and "Traceback" not in err
    assert reported(tmp_path) == {}
