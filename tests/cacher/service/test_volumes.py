"""The site's volume registry: registration, validation as problem+json, space reporting."""

from __future__ import annotations

import os
import subprocess

import aiohttp
import pytest

from tests.cacher.helpers import mount_tmpfs
from tests.cacher.service.conftest import cacher_settings, running_cacher
from tests.support.http import call
from tests.support.identity import assertion_headers, gateway_keys

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
    ({"name": "nfs2", "path": "/tmp", "ttl_seconds": 10**12}, "ttl_seconds"),
    ({"name": "nfs2", "path": "/tmp", "capacity_bytes": 10**30}, "capacity_bytes"),
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
        mount_tmpfs(locked, "ro,size=1m,mode=0755", purpose="an unwritable volume as root")
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


def _long(tmp_path, volume) -> str:
    return "/" + "/".join(["d" * 200] * 25)  # 5,000 characters


PATHS = {
    "root": (lambda tmp_path, volume: "/", "system location"),
    "proc": (lambda tmp_path, volume: "/proc", "under /proc"),
    "etc": (lambda tmp_path, volume: "/etc", "under /etc"),
    "inside etc": (lambda tmp_path, volume: "/etc/ssl", "under /etc"),
    "sysfs": (lambda tmp_path, volume: "/sys/kernel", "under /sys"),
    "devices": (lambda tmp_path, volume: "/dev/shm", "under /dev"),
    "usr": (lambda tmp_path, volume: "/usr/share", "under /usr"),
    "root's home": (lambda tmp_path, volume: "/root", "under /root"),
    "tmp itself": (lambda tmp_path, volume: "/tmp", "holds everyone's files"),
    "var itself": (lambda tmp_path, volume: "/var", "holds everyone's files"),
    "5000 characters": (_long, "bytes long"),
    "a NUL": (lambda tmp_path, volume: f"{volume}\x00x", "control character"),
    "dot-dot": (lambda tmp_path, volume: f"{volume}/../{volume.name}", "not canonical"),
    "trailing slash": (lambda tmp_path, volume: f"{volume}/", "not canonical"),
    "double slash": (lambda tmp_path, volume: f"/{volume}", "not canonical"),
    "the same directory": (lambda tmp_path, volume: str(volume), "is the same directory as volume 'nfs1'"),
    "inside a volume": (lambda tmp_path, volume: str(volume / "sub"), "is inside volume 'nfs1'"),
    "around a volume": (lambda tmp_path, volume: str(tmp_path), "contains volume 'nfs1'"),
    "inside the home": (lambda tmp_path, volume: str(tmp_path / "home" / "cache"), "the cacher's home"),
}


@pytest.mark.parametrize("case", list(PATHS))
async def test_system_locations_odd_paths_and_overlaps_are_refused_as_problem_json(api, tmp_path, volume, case):
    build, needle = PATHS[case]
    (volume / "sub").mkdir(exist_ok=True)
    (tmp_path / "home" / "cache").mkdir(exist_ok=True)
    reply = await api.call("POST", BASE, json_body={"name": "nfs2", "path": build(tmp_path, volume)})
    assert reply.status == 400 and reply.content_type == "application/problem+json", reply.body
    assert needle in reply.body["detail"]
    assert len(reply.body["detail"]) < 1000  # a long path is not echoed whole
    assert [v["name"] for v in (await api.call("GET", BASE)).body["items"]] == ["nfs1"]


async def test_a_symlink_to_a_volume_is_refused_as_not_canonical(api, tmp_path, volume):
    link = tmp_path / "alias"
    link.symlink_to(volume)
    reply = await api.call("POST", BASE, json_body={"name": "nfs2", "path": str(link)})
    assert reply.status == 400 and "not canonical" in reply.body["detail"] and str(volume) in reply.body["detail"]


async def test_a_bind_mount_of_a_volume_is_refused_as_the_same_directory(api, tmp_path, volume):
    alias = tmp_path / "bound"
    alias.mkdir()
    result = subprocess.run(["mount", "--bind", str(volume), str(alias)], capture_output=True, text=True)
    if result.returncode != 0:
        reason = f"cannot bind-mount a volume: {result.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        reply = await api.call("POST", BASE, json_body={"name": "nfs2", "path": str(alias)})
    finally:
        subprocess.run(["umount", str(alias)], check=False)
    assert reply.status == 400 and "is the same directory as volume 'nfs1'" in reply.body["detail"]


async def test_volume_roots_restrict_where_volumes_may_be(tmp_path):
    allowed = tmp_path / "allowed"
    (allowed / "nfs1").mkdir(parents=True)
    (allowed / "nfs2").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings = cacher_settings(tmp_path / "home", allowed / "nfs1", volume_roots=[str(allowed)])
    async with running_cacher(settings) as api:
        refused = await api.call("POST", BASE, json_body={"name": "nfs2", "path": str(elsewhere)})
        assert refused.status == 400 and "cacher.volume_roots" in refused.body["detail"]
        accepted = await api.call("POST", BASE, json_body={"name": "nfs2", "path": str(allowed / "nfs2")})
        assert accepted.status == 201, accepted.body


@pytest.mark.parametrize("second", ["same", "etc"])
async def test_a_settings_volume_breaking_the_rules_stops_the_start_naming_it(tmp_path, volume, second):
    from lakecache.core.errors import InvalidArgument

    settings = cacher_settings(tmp_path / "home", volume)
    path = str(volume) if second == "same" else "/etc"
    settings.cacher.volumes.append(type(settings.cacher.volumes[0])(name="nfs2", path=path))
    with pytest.raises(InvalidArgument, match="volume 'nfs2' of the cacher's settings"):
        async with running_cacher(settings):
            pass


async def test_only_a_caller_authorized_for_the_installation_may_register_a_volume(api, tmp_path):
    spare = tmp_path / "spare"
    spare.mkdir()
    body = {"name": "nfs2", "path": str(spare)}
    async with aiohttp.ClientSession() as plain:
        anonymous = await call(plain, api.running.base_url, "POST", BASE, json_body=body,
                               headers={"X-LakeCache-User": "admin"})
        reader = await call(plain, api.running.base_url, "POST", BASE, json_body=body, headers=assertion_headers(
            gateway_keys(api.home), "cacher", "POST", BASE, action="sites:read", project=None))
        editor = await call(plain, api.running.base_url, "POST", BASE, json_body=body, headers=assertion_headers(
            gateway_keys(api.home), "cacher", "POST", BASE, action="caches:request", project="team"))
    assert (anonymous.status, reader.status, editor.status) == (401, 403, 403)
    assert [v["name"] for v in (await api.call("GET", BASE)).body["items"]] == ["nfs1"]
