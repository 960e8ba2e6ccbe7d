"""Two volumes over one directory: an eviction on the alias used to delete the other volume's
leased, ready copy. An alias can no longer be registered, and one registered before the rules
is refused at start: nothing is filled there, and an eviction there deletes nothing."""

from __future__ import annotations

import os
import uuid

from lakecache.cacher.repositories import copies, volumes
from lakecache.core.contracts.cache import (
    CacheEvicted,
    CacheEvictionRefused,
    CacheEvictionRequested,
    CacheFailed,
    CacheReady,
)
from tests.cacher.helpers import tree_of
from tests.cacher.service.conftest import cacher_settings, copy_path, running_cacher
from tests.support.waiting import eventually

FILES = {"weights.bin": os.urandom(25_000)}
BASE = "/api/v1/sites/dgx/volumes"


async def leased_copy(api) -> str:
    commit = await api.commit(FILES)
    rid = await api.request(commit, volume="nfs1")
    await eventually(lambda: api.of(CacheReady, rid), message="cache.ready on nfs1")
    lease = await api.call("POST", copy_path(commit) + "/leases", json_body={"holder": "job-1", "ttl_seconds": 3600})
    assert lease.status == 201
    return commit


async def evict_on(api, volume: str, commit: str) -> str:
    decision = uuid.uuid4().hex
    await api.running.resources.publisher.emit(CacheEvictionRequested(
        decision_id=decision, site="dgx", volume=volume, commit_id=commit, dataset_id="id-ds", reason="manual",
        project="team"))
    return decision


async def assert_leased_copy_intact(api, volume, commit: str) -> None:
    assert tree_of(volume / "team" / "ds" / commit) == FILES
    copy = await api.copy(commit, volume="nfs1")
    assert copy["state"] == "ready" and copy["leased_until"] is not None


async def test_an_alias_cannot_be_registered_so_an_eviction_on_it_never_deletes_a_leased_copy(api, volume):
    commit = await leased_copy(api)
    for alias in (str(volume), f"{volume}/../{volume.name}"):
        reply = await api.call("POST", BASE, json_body={"name": "nfs2", "path": alias})
        assert reply.status == 400, reply.body

    rid = await api.request(commit, volume="nfs2")
    await eventually(lambda: api.of(CacheFailed, rid), message="cache.failed: no volume nfs2")
    decision = await evict_on(api, "nfs2", commit)
    await eventually(lambda: [e for e in api.of(CacheEvictionRefused) if e.data.decision_id == decision],
                     message="the eviction on nfs2 refused")
    assert api.of(CacheEvicted) == []
    await assert_leased_copy_intact(api, volume, commit)


async def test_an_alias_registered_before_the_rules_is_refused_at_start_and_deletes_nothing(tmp_path, volume):
    settings = cacher_settings(tmp_path / "home", volume)
    async with running_cacher(settings) as api:
        commit = await leased_copy(api)
        # What an older cacher accepted: nfs2 over nfs1's directory, and a copy it reported ready there
        # (written as it wrote them: no method of today's cacher makes either).
        store = api.running.resources.store
        nfs1 = await store.collection(volumes.COLLECTION).find_one({"_id": "dgx/nfs1"})
        await store.collection(volumes.COLLECTION).insert_one({**nfs1, "_id": "dgx/nfs2", "name": "nfs2"})
        copy = await store.collection(copies.COLLECTION).find_one({"_id": f"dgx/nfs1/team/{commit}"})
        await store.collection(copies.COLLECTION).insert_one({
            **copy, "_id": f"dgx/nfs2/team/{commit}", "volume": "nfs2",
            "lease_until": copy["lease_until"].replace(year=1970), "generation": 0})

    async with running_cacher(settings) as api:
        shown = await api.call("GET", f"{BASE}/nfs2")
        assert shown.status == 200 and "is the same directory as volume 'nfs1'" in shown.body["refused"]
        assert (await api.call("GET", f"{BASE}/nfs1")).body["refused"] is None

        other = await api.commit({"new.bin": b"new"})
        rid = await api.request(other, volume="nfs2")
        await eventually(lambda: api.of(CacheFailed, rid), message="cache.failed on the refused volume")
        assert "refused" in api.of(CacheFailed, rid)[0].data.reason

        await evict_on(api, "nfs2", commit)
        await eventually(lambda: api.of(CacheEvicted), message="the alias copy's record evicted")
        assert api.of(CacheEvicted)[0].data.bytes_freed == 0
        await assert_leased_copy_intact(api, volume, commit)
