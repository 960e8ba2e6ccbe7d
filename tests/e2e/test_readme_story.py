"""The README's story as people type it: `lakecache up`; the administrator gives ada a token and
the editor role on `vision`; ada, holding nothing but that token, creates, syncs, tags, diffs and
caches; the administrator registers an import location, and ada imports from it."""

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from lakecache.core.adapters.registry import object_store_from_url
from tests.e2e.test_lakecache_up import LAKECACHE, free_port
from tests.support.stack import create_user


def lakecache(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LAKECACHE), *args], env=env, capture_output=True, text=True, timeout=120)


def lakecache_json(env, *args: str):
    result = lakecache(env, *args, "--json")
    assert result.returncode == 0, (args, result.stderr)
    return json.loads(result.stdout)


def test_the_readme_story_with_only_a_lakecache_token(tmp_path, up):
    gateway, home = up
    admin = (home / "admin-token").read_text().strip()
    admin_env = {**os.environ, "LAKECACHE_API_URL": gateway, "LAKECACHE_TOKEN": admin}
    volume = tmp_path / "nfs1"
    volume.mkdir()
    # Watermarks at the top: the volume's usage is the shared test disk's, not this test's.
    added = lakecache(admin_env, "site", "add", "local", "--volume", "nfs1", "--path", str(volume),
                      "--high-watermark", "1.0", "--low-watermark", "0.99")
    assert added.returncode == 0, added.stderr
    # Only what the README tells a user to set: where the gateway is, and the token.
    user = {**os.environ, "LAKECACHE_API_URL": gateway, "LAKECACHE_TOKEN": create_user(gateway, admin, "ada",
                                                                                         {"vision": "editor"}),
            "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for name in ("LAKECACHE_HOME", "LAKECACHE_CONFIG", "LAKECACHE_PROJECT"):
        user.pop(name, None)
    data = tmp_path / "cats"
    (data / "train").mkdir(parents=True)
    for i in range(5):
        (data / "train" / f"{i}.jpg").write_bytes(os.urandom(2048))
    (data / "labels.csv").write_text("file,label\n0.jpg,cat\n")

    assert lakecache(user, "data", "create", "vision/cats", "--description", "cat photos").returncode == 0
    first = lakecache_json(user, "data", "sync", "vision/cats", str(data), "-m", "first version")
    first_commit = first["commit"]["id"]
    assert lakecache(user, "data", "tag", "vision/cats@latest", "v1").returncode == 0

    unchanged = lakecache_json(user, "data", "sync", "vision/cats", str(data), "-m", "again")
    assert unchanged["uploaded"] == 0 and unchanged["unchanged"]

    (data / "labels.csv").write_text("file,label\n0.jpg,dog\n")
    (data / "train" / "5.jpg").write_bytes(os.urandom(1024))
    (data / "train" / "0.jpg").unlink()
    second = lakecache_json(user, "data", "sync", "vision/cats", str(data), "-m", "relabel")
    assert second["uploaded"] == 2  # the new label file and 5.jpg

    log = lakecache_json(user, "data", "log", "vision/cats")
    assert [c["message"] for c in log] == ["relabel", "first version"] and log[1]["id"] == first_commit
    listing = lakecache_json(user, "data", "ls", "vision/cats@v1", "train/")
    assert [e["path"] for e in listing] == [f"train/{i}.jpg" for i in range(5)]
    diff = lakecache_json(user, "data", "diff", "vision/cats@v1", "vision/cats@latest")
    changes = {(d["kind"], d["path"]) for d in diff["items"]}
    assert changes == {("changed", "labels.csv"), ("added", "train/5.jpg"), ("removed", "train/0.jpg")}

    ready = lakecache_json(user, "cache", "request", "vision/cats@v1", "--site", "local")
    [volume] = ready["volumes"]
    assert ready["state"] == "ready" and (Path(volume["path"]) / "train" / "4.jpg").is_file()
    assert Path(volume["path"]).is_relative_to(tmp_path / "nfs1")

    # The import: the administrator registers where vision may import from, then ada imports.
    source = seed_lake(home, "raw/2024", 3)
    assert lakecache(admin_env, "import-location", "add", "raw", source, "--project", "vision").returncode == 0
    assert lakecache(user, "data", "create", "vision/raw").returncode == 0
    imported = lakecache_json(user, "data", "import", "vision/raw", source, "-m", "import")
    assert (imported["files"], imported["created"]) == (3, True)
    assert [e["path"] for e in lakecache_json(user, "data", "ls", "vision/raw")] == [f"{i}.png" for i in range(3)]

    refused = lakecache(user, "data", "sync", "vision/cats", str(tmp_path / "missing"), "-m", "x")
    assert refused.returncode == 1 and "missing" in refused.stderr and "Traceback" not in refused.stderr
    not_admin = lakecache(user, "import-location", "add", "mine", source, "--project", "vision")
    assert not_admin.returncode == 1 and "Traceback" not in not_admin.stderr


def seed_lake(home: Path, prefix: str, count: int) -> str:
    """Objects under ``prefix`` of the embedded lake, as another tool would have written them."""
    lake = f"file://{(home / 'lake').resolve()}"

    async def seed() -> None:
        async with object_store_from_url(lake) as store:
            for i in range(count):
                await store.put(f"{prefix}/{i}.png", f"png {i}".encode())

    asyncio.run(seed())
    return f"{lake}/{prefix}"


@pytest.fixture
def up(tmp_path):
    """`lakecache up` in its own process; the gateway's URL and the home."""
    port, home = free_port(), tmp_path / "home"
    env = {**os.environ, "LAKECACHE_HOME": str(home)}
    for service in ("catalog", "cacher", "evictor", "tracker"):
        env[f"LAKECACHE_{service.upper()}__PORT"] = "0"
    process = subprocess.Popen([str(LAKECACHE), "up", "--port", str(port), "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        announced = json.loads(process.stdout.readline() or "{}")
        assert announced.get("status") == "up", process.stderr.read()
        yield announced["services"]["gateway"], home
    finally:
        process.terminate()
        process.wait(timeout=30)
