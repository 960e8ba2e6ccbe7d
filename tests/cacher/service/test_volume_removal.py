"""Unregistering a volume: its ready copies are evicted (and announced), then it is forgotten
and announced withdrawn; a copy still in use or a volume of the settings refuses it."""

from __future__ import annotations

import os

from lakecache.core.contracts.cache import CacheEvicted, CacheReady, VolumeWithdrawn
from tests.cacher.service.conftest import cacher_settings, copy_path, running_cacher
from tests.support.waiting import eventually

BASE = "/api/v1/sites/dgx/volumes"
FILES = {"a.bin": os.urandom(30_000)}


async def spare(api, tmp_path, name: str = "nfs2"):
    root = tmp_path / name
    root.mkdir(mode=0o755)
    reply = await api.call("POST", BASE, json_body={"name": name, "path": str(root)})
    assert reply.status == 201, reply.body
    return root


async def ready_on(api, volume: str) -> str:
    commit = await api.commit(FILES)
    rid = await api.request(commit, volume=volume)
    await eventually(lambda: api.of(CacheReady, rid), message="cache.ready")
    return commit


def withdrawals(api, volume: str) -> list:
    return [e.data for e in api.of(VolumeWithdrawn) if e.data.volume == volume]


async def test_an_empty_volume_is_forgotten_and_announced_withdrawn(api, tmp_path):
    await spare(api, tmp_path)
    reply = await api.call("DELETE", f"{BASE}/nfs2")
    assert reply.status == 204, reply.body
    assert (await api.call("GET", f"{BASE}/nfs2")).status == 404
    assert [v["name"] for v in (await api.call("GET", BASE)).body["items"]] == ["nfs1"]
    await eventually(lambda: withdrawals(api, "nfs2"), message="cache.volume.withdrawn of nfs2")
    assert withdrawals(api, "nfs2")[0].reason.startswith("unregistered by ")
    assert (await api.call("DELETE", f"{BASE}/nfs2")).status == 404


async def test_ready_copies_are_evicted_first_and_their_files_removed(api, tmp_path):
    root = await spare(api, tmp_path)
    commit = await ready_on(api, "nfs2")
    assert (root / "team" / "ds" / commit / "a.bin").read_bytes() == FILES["a.bin"]

    assert (await api.call("DELETE", f"{BASE}/nfs2")).status == 204
    await eventually(lambda: api.of(CacheEvicted), message="cache.evicted of the copy on nfs2")
    evicted = api.of(CacheEvicted)[0].data
    assert (evicted.commit_id, evicted.volume, evicted.reason) == (commit, "nfs2", "manual")
    assert evicted.bytes_freed == len(FILES["a.bin"])
    assert not (root / "team" / "ds" / commit).exists()
    assert (await api.copy(commit, volume="nfs2"))["state"] == "evicted"
    await eventually(lambda: withdrawals(api, "nfs2"), message="cache.volume.withdrawn of nfs2")


async def test_a_leased_or_pinned_copy_keeps_its_volume(api, tmp_path):
    root = await spare(api, tmp_path)
    commit = await ready_on(api, "nfs2")
    lease = await api.call("POST", copy_path(commit) + "/leases", params={"volume": "nfs2"},
                           json_body={"holder": "job-7", "ttl_seconds": 600})
    assert lease.status == 201, lease.body

    refused = await api.call("DELETE", f"{BASE}/nfs2")
    assert refused.status == 409 and "leased" in refused.body["detail"] and commit[:12] in refused.body["detail"]
    assert (root / "team" / "ds" / commit / "a.bin").exists()
    assert (await api.copy(commit, volume="nfs2"))["state"] == "ready"

    released = await api.call("DELETE", copy_path(commit) + f"/leases/{lease.body['id']}")
    assert released.status == 204
    pinned = await api.call("PUT", copy_path(commit) + "/pin", params={"volume": "nfs2"})
    assert pinned.status == 200, pinned.body
    refused = await api.call("DELETE", f"{BASE}/nfs2")
    assert refused.status == 409 and "pinned" in refused.body["detail"]
    assert (await api.call("GET", f"{BASE}/nfs2")).status == 200
    assert withdrawals(api, "nfs2") == [] and api.of(CacheEvicted) == []


async def test_a_volume_of_the_settings_is_refused_with_where_to_remove_it(tmp_path, volume):
    async with running_cacher(cacher_settings(tmp_path / "home", volume)) as api:
        refused = await api.call("DELETE", f"{BASE}/nfs1")
        assert refused.status == 409 and "cacher.volumes" in refused.body["detail"]
        assert (await api.call("GET", f"{BASE}/nfs1")).status == 200
