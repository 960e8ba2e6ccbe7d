"""The site's volume registry: registration, validation as problem+json, space reporting."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.cacher.helpers import mount_tmpfs
from tests.cacher.service.conftest import cacher_settings, running_cacher

BASE = "/api/v1/sites/dgx/volumes"


async def test_volumes_from_settings_and_the_api_are_listed_with_their_space(api, tmp_path, volume):
    second = tmp_path / "nfs2"
    second.mkdir()
    reply = await api.call("POST", BASE, json_body={"name": "nfs2", "path": str(second), "capacity_bytes": 10**9,
                                                    "ttl_seconds": 3600})
    assert reply.status == 201, reply.body
    assert (reply.body["capacity_bytes"], reply.body["ttl_seconds"], reply.body["high_watermark"]) == (
        10**9, 3600, None)  # unset marks: the evictor's defaults
    listed = (await api.call("GET", BASE)).body["items"]
    assert [v["name"] for v in listed] == ["nfs1", "nfs2"]
    first = listed[0]
    assert first["path"] == str(volume) and first["capacity_configured"] is False
    fs = os.statvfs(volume)
    assert first["capacity_bytes"] == fs.f_blocks * fs.f_frsize
    assert 0 < first["free_bytes"] <= first["capacity_bytes"]
    assert first["copies"] == {"ready": 0, "bytes": 0}
    shown = await api.call("GET", f"{BASE}/nfs2")
    assert shown.status == 200 and shown.body["low_watermark"] is None


@pytest.mark.parametrize(("body", "needle"), [
    ({"name": "nfs2", "path": "/does/not/exist"}, "not an existing directory"),
    ({"name": "nfs2", "path": "relative/dir"}, "must be absolute"),
    ({"name": "Bad_Name", "path": "/tmp"}, "name"),
    ({"name": "nfs2", "path": "/tmp", "low_watermark": 0.95}, "low_watermark"),
    ({"name": "nfs2", "path": "/tmp", "capacity_bytes": -1}, "capacity_bytes"),
    ({"name": "nfs2", "path": "/tmp", "colour": "red"}, "unknown field"),
])
async def test_invalid_volumes_are_refused_as_problem_json(api, body, needle):
    reply = await api.call("POST", BASE, json_body=body)
    assert reply.status == 400 and reply.content_type == "application/problem+json"
    assert needle in reply.body["detail"] and reply.body["type"].endswith("invalid-argument")
    assert [v["name"] for v in (await api.call("GET", BASE)).body["items"]] == ["nfs1"]


async def test_a_directory_the_cacher_cannot_write_is_refused(api, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    mounted = os.access(locked, os.W_OK)
    if mounted:  # root writes anywhere: a read-only filesystem stops even root
        mount_tmpfs(locked, "ro,size=1m", purpose="an unwritable volume as root")
    try:
        assert not os.access(locked, os.W_OK)
        reply = await api.call("POST", BASE, json_body={"name": "nfs2", "path": str(locked)})
    finally:
        if mounted:
            subprocess.run(["umount", str(locked)], check=False)
    assert reply.status == 400 and "not writable" in reply.body["detail"]


async def test_duplicates_other_sites_and_unknown_volumes_are_problems(api, volume):
    duplicate = await api.call("POST", BASE, json_body={"name": "nfs1", "path": str(volume)})
    assert duplicate.status == 409 and duplicate.content_type == "application/problem+json"
    other = await api.call("POST", "/api/v1/sites/aws/volumes", json_body={"name": "x", "path": str(volume)})
    assert other.status == 404 and "serves site 'dgx'" in other.body["detail"]
    missing = await api.call("GET", f"{BASE}/nope")
    assert missing.status == 404 and "nfs1" in missing.body["detail"]


async def test_a_volume_declared_in_settings_must_exist(tmp_path):
    from lakecache.core.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="not an existing directory"):
        async with running_cacher(cacher_settings(tmp_path / "home", tmp_path / "missing")):
            pass
