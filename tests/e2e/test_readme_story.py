"""The README's story as a user types it: `lakecache up`, then `lakecache data …` in another shell."""

import json
import os
import subprocess

import pytest

from tests.e2e.test_lakecache_up import LAKECACHE, free_port


def lakecache(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LAKECACHE), *args], env=env, capture_output=True, text=True, timeout=120)


def test_create_sync_change_resync_log_ls_tag_and_diff_against_lakecache_up(tmp_path, up_with_catalog_port):
    catalog_url, env = up_with_catalog_port
    data = tmp_path / "cats"
    (data / "train").mkdir(parents=True)
    for i in range(5):
        (data / "train" / f"{i}.jpg").write_bytes(os.urandom(2048))
    (data / "labels.csv").write_text("file,label\n0.jpg,cat\n")

    assert lakecache(env, "data", "create", "vision/cats", "--description", "cat photos").returncode == 0
    first = lakecache(env, "data", "sync", "vision/cats", str(data), "-m", "first", "--json")
    assert first.returncode == 0, first.stderr
    first_commit = json.loads(first.stdout)["commit"]["id"]
    assert lakecache(env, "data", "tag", "vision/cats@latest", "v1").returncode == 0

    unchanged = lakecache(env, "data", "sync", "vision/cats", str(data), "-m", "again", "--json")
    assert unchanged.returncode == 0 and json.loads(unchanged.stdout)["uploaded"] == 0

    (data / "labels.csv").write_text("file,label\n0.jpg,dog\n")
    (data / "train" / "5.jpg").write_bytes(os.urandom(1024))
    (data / "train" / "0.jpg").unlink()
    second = lakecache(env, "data", "sync", "vision/cats", str(data), "-m", "relabel", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["uploaded"] == 2  # the new label file and 5.jpg

    log = json.loads(lakecache(env, "data", "log", "vision/cats", "--json").stdout)
    assert [c["message"] for c in log] == ["relabel", "first"] and log[1]["id"] == first_commit
    listing = json.loads(lakecache(env, "data", "ls", "vision/cats@v1", "train/", "--json").stdout)
    assert [e["path"] for e in listing] == [f"train/{i}.jpg" for i in range(5)]
    diff = json.loads(lakecache(env, "data", "diff", "vision/cats@v1", "vision/cats@latest", "--json").stdout)
    changes = {(d["kind"], d["path"]) for d in diff["items"]}
    assert changes == {("changed", "labels.csv"), ("added", "train/5.jpg"), ("removed", "train/0.jpg")}

    refused = lakecache(env, "data", "sync", "vision/cats", str(tmp_path / "missing"), "-m", "x")
    assert refused.returncode != 0 and "missing" in refused.stderr


@pytest.fixture
def up_with_catalog_port(tmp_path):
    catalog_port = free_port()
    env = {**os.environ, "LAKECACHE_HOME": str(tmp_path / "home"), "LAKECACHE_CATALOG__PORT": str(catalog_port),
           "LAKECACHE_API_URL": f"http://127.0.0.1:{catalog_port}", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for service in ("cacher", "evictor", "tracker", "gateway"):
        env[f"LAKECACHE_{service.upper()}__PORT"] = "0"
    process = subprocess.Popen([str(LAKECACHE), "up", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, cwd=tmp_path)
    try:
        announced = json.loads(process.stdout.readline() or "{}")
        assert announced.get("status") == "up", process.stderr.read()
        yield announced["services"]["catalog"], env
    finally:
        process.terminate()
        process.wait(timeout=30)
