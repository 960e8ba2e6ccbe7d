"""Copies are per project: two projects caching the same commit get two copies, each with its
own view, leases, pin and eviction, sharing the pool's bytes."""

from __future__ import annotations

import hashlib
import os

import aiohttp

from lakecache.core.contracts.cache import CacheEvicted, CacheEvictionRequested, CacheReady
from tests.cacher.helpers import tree_of
from tests.cacher.service.conftest import copy_path
from tests.support.http import call
from tests.support.identity import assertion_headers, gateway_keys
from tests.support.waiting import eventually

FILES = {"train/a.bin": os.urandom(30_000), "train/b.bin": os.urandom(5_000)}


async def both_ready(api) -> str:
    """The same tree committed by project ``team`` and project ``rival``: one commit id, two copies."""
    commit = await api.commit(FILES, project="team")
    assert await api.commit(FILES, project="rival") == commit
    first = await api.request(commit, project="team")
    await eventually(lambda: api.of(CacheReady, first), message="team's cache.ready")
    second = await api.request(commit, project="rival")
    await eventually(lambda: api.of(CacheReady, second), message="rival's cache.ready")
    return commit


def pool_file(volume, data: bytes):
    sha = hashlib.sha256(data).hexdigest()
    return volume / ".lakecache" / "pool" / "sha256" / sha[:2] / sha


async def evict(api, commit: str, project: str) -> str:
    decision = os.urandom(8).hex()
    await api.running.resources.publisher.emit(CacheEvictionRequested(
        decision_id=decision, site="dgx", volume="nfs1", commit_id=commit, dataset_id="id-ds", reason="manual",
        project=project))
    return decision


async def test_two_projects_caching_one_commit_get_two_copies_in_their_own_directories_sharing_pool_bytes(
        api, volume):
    commit = await both_ready(api)

    team, rival = await api.copy(commit, "team"), await api.copy(commit, "rival")
    assert (team["project"], rival["project"]) == ("team", "rival")
    assert team["path"] == str(volume / "team" / "ds" / commit)
    assert rival["path"] == str(volume / "rival" / "ds" / commit)
    assert team["fill_id"] != rival["fill_id"]
    assert tree_of(volume / "team" / "ds" / commit) == tree_of(volume / "rival" / "ds" / commit) == FILES
    for name, data in FILES.items():
        pool = pool_file(volume, data).stat()
        for project in ("team", "rival"):
            assert (volume / project / "ds" / commit / name).stat().st_ino == pool.st_ino
        assert pool.st_nlink == 3  # the pool's name and one view file per project
    assert api.of(CacheReady)[-1].data.bytes_fetched == 0  # the second fill fetched nothing
    listed = await api.call("GET", "/api/v1/sites/dgx/copies", params={"project": "rival"})
    assert [c["project"] for c in listed.body["items"]] == ["rival"]


async def test_one_projects_lease_pin_and_eviction_never_touch_the_others_copy(api, volume):
    commit = await both_ready(api)
    lease = await api.call("POST", copy_path(commit, "team") + "/leases", json_body={"holder": "job-1"})
    assert lease.status == 201
    team_generation = (await api.copy(commit, "team"))["generation"]

    # Rival pins and unpins its copy, then evicts it: team's copy, lease and view stay as they were.
    assert (await api.call("PUT", copy_path(commit, "rival") + "/pin")).status == 200
    assert (await api.call("DELETE", copy_path(commit, "rival") + "/pin")).status == 200
    await evict(api, commit, "rival")
    await eventually(lambda: api.of(CacheEvicted), message="rival's copy evicted")
    assert api.of(CacheEvicted)[0].data.project == "rival"
    assert not (volume / "rival" / "ds" / commit).exists()
    assert tree_of(volume / "team" / "ds" / commit) == FILES
    team = await api.copy(commit, "team")
    assert team["state"] == "ready" and team["generation"] == team_generation and team["leased_until"]
    assert pool_file(volume, FILES["train/a.bin"]).stat().st_nlink == 2  # pool + team's view

    # Team's lease id means nothing in rival's copy, and a lease of rival's cannot be taken on team's.
    other = await api.call("DELETE", copy_path(commit, "rival") + f"/leases/{lease.body['id']}")
    assert other.status == 404
    assert (await api.copy(commit, "team"))["leased_until"] is not None

    # Team's eviction is refused while its lease holds.
    await evict(api, commit, "team")
    await eventually(lambda: api.running.resources.telemetry.registry.get_sample_value(
        "lakecache_cacher_evictions_refused_total", {"reason": "leased"}), message="team's eviction refused")
    assert tree_of(volume / "team" / "ds" / commit) == FILES


async def test_a_caller_authorized_in_one_project_cannot_touch_the_others_copy(api):
    commit = await both_ready(api)
    path = copy_path(commit, "team")
    for method, suffix in (("GET", ""), ("POST", "/leases"), ("PUT", "/pin"), ("DELETE", "/pin")):
        action = {"GET": "caches:read", "POST": "leases:write"}.get(method, "caches:pin")
        headers = assertion_headers(gateway_keys(api.home), "cacher", method, path + suffix, action=action,
                                    project="rival")
        async with aiohttp.ClientSession() as plain:
            reply = await call(plain, api.running.base_url, method, path + suffix, headers=headers,
                               json_body={} if method == "POST" else None)
        assert reply.status == 403, (method, suffix, reply.body)
    team = await api.copy(commit, "team")
    assert team["pinned"] is False and team["leased_until"] is None
