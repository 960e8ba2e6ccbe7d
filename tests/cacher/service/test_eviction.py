"""Eviction commands: compare-and-swap against leases, pins and the decision's generation."""

from __future__ import annotations

import os
import uuid

from lakecache.core.contracts.cache import (
    CacheEvicted,
    CacheEvictionRefused,
    CacheEvictionRequested,
    CachePinChanged,
    CacheReady,
    VolumeReported,
)
from lakecache.core.contracts.usage import LeaseAcquired, LeaseReleased
from tests.cacher.service.conftest import copy_path
from tests.support.waiting import eventually

FILES = {"a.bin": os.urandom(40_000), "b.bin": os.urandom(10_000)}


async def ready_copy(api) -> tuple[str, dict]:
    commit = await api.commit(FILES)
    rid = await api.request(commit)
    await eventually(lambda: api.of(CacheReady, rid), message="cache.ready")
    return commit, await api.copy(commit)


async def evict(api, commit: str, *, generation: int | None = None, dry_run: bool = False) -> str:
    decision = uuid.uuid4().hex
    await api.running.resources.publisher.emit(CacheEvictionRequested(
        decision_id=decision, site="dgx", volume="nfs1", commit_id=commit, dataset_id="id-ds", reason="ttl-expired",
        generation=generation, dry_run=dry_run, explanation="unused for a day", project="team"))
    return decision


def refused(api, reason: str) -> float:
    return api.running.resources.telemetry.registry.get_sample_value(
        "lakecache_cacher_evictions_refused_total", {"reason": reason}) or 0.0


async def test_eviction_removes_the_view_and_announces_the_bytes_freed(api, volume):
    commit, copy = await ready_copy(api)
    decision = await evict(api, commit, generation=copy["generation"])
    await eventually(lambda: api.of(CacheEvicted), message="cache.evicted")
    evicted = api.of(CacheEvicted)[0]
    assert evicted.data.decision_id == decision and evicted.data.reason == "ttl-expired"
    assert evicted.data.bytes_freed == sum(len(d) for d in FILES.values())
    assert not (volume / "team" / "ds" / commit).exists()
    assert not (volume / "team" / "ds" / f"{commit}.ready").exists()
    assert (await api.copy(commit))["state"] == "evicted"
    # The evictor learns the usage drop: a report of the volume follows the eviction.
    await eventually(lambda: len(api.of(VolumeReported)) >= 2, message="volume reports after ready and evicted")
    after = api.of(VolumeReported)[-1].data
    assert (after.site, after.volume) == ("dgx", "nfs1") and after.capacity_bytes >= after.used_bytes > 0


async def test_a_lease_taken_after_the_decision_keeps_the_copy(api, volume):
    commit, copy = await ready_copy(api)
    decided_at = copy["generation"]
    lease = await api.call("POST", copy_path(commit) + "/leases",
                           json_body={"holder": "job-7", "ttl_seconds": 600})
    assert lease.status == 201 and lease.body["generation"] == decided_at + 1
    await evict(api, commit, generation=decided_at)
    await eventually(lambda: refused(api, "leased") == 1, message="the refusal to be counted")
    assert (volume / "team" / "ds" / commit / "a.bin").read_bytes() == FILES["a.bin"]
    assert (await api.copy(commit))["state"] == "ready"
    await eventually(lambda: api.of(LeaseAcquired), message="lease.acquired")
    acquired = api.of(LeaseAcquired)[0].data
    assert acquired.holder == "job-7" and acquired.generation == decided_at + 1
    await eventually(lambda: api.of(CacheEvictionRefused), message="cache.eviction.refused")
    assert api.of(CacheEvictionRefused)[0].data.reason.startswith("leased:")

    # Released, the lease no longer protects, but the decision's generation is stale: still refused.
    base = copy_path(commit) + f"/leases/{lease.body['id']}"
    assert (await api.call("DELETE", base)).status == 204
    await evict(api, commit, generation=decided_at)
    await eventually(lambda: refused(api, "generation") == 1, message="stale generation refused")
    assert (await api.copy(commit))["state"] == "ready"
    await eventually(lambda: api.of(LeaseReleased), message="lease.released")
    assert api.of(LeaseReleased)[0].data.generation == decided_at + 2

    current = (await api.copy(commit))["generation"]
    await evict(api, commit, generation=current)
    await eventually(lambda: api.of(CacheEvicted), message="evicted with a fresh decision")


async def test_a_pinned_copy_is_not_evicted_until_unpinned(api, volume):
    commit, _ = await ready_copy(api)
    pinned = await api.call("PUT", copy_path(commit) + "/pin")
    assert pinned.status == 200 and pinned.body["pinned"] is True
    await eventually(lambda: api.of(CachePinChanged), message="cache.pin.changed")
    change = api.of(CachePinChanged)[0].data
    assert change.pinned is True and change.generation == pinned.body["generation"]
    await evict(api, commit)
    await eventually(lambda: refused(api, "pinned") == 1, message="pinned refusal")
    assert (volume / "team" / "ds" / commit).exists()
    assert (await api.call("DELETE", copy_path(commit) + "/pin")).status == 200
    await evict(api, commit)
    await eventually(lambda: api.of(CacheEvicted), message="evicted once unpinned")


async def test_a_dry_run_deletes_nothing(api, volume):
    commit, copy = await ready_copy(api)
    await evict(api, commit, generation=copy["generation"], dry_run=True)
    await evict(api, commit, generation=copy["generation"] + 99)  # same partition: handled after the dry run
    await eventually(lambda: refused(api, "generation") == 1, message="the next command to be handled")
    assert (volume / "team" / "ds" / commit / "a.bin").exists()
    assert (await api.copy(commit))["state"] == "ready" and api.of(CacheEvicted) == []


async def test_leases_need_a_ready_copy_and_expired_or_unknown_leases_are_problems(api):
    commit, _ = await ready_copy(api)
    base = copy_path(commit) + "/leases"
    bad = await api.call("POST", base, json_body={"holder": "job", "ttl_seconds": 0})
    assert bad.status == 400 and bad.content_type == "application/problem+json"
    missing = await api.call("POST", copy_path("0" * 64) + "/leases", json_body={"holder": "job"})
    assert missing.status == 404
    lease = (await api.call("POST", base, json_body={"holder": "job", "ttl_seconds": 60})).body
    renewed = await api.call("PUT", f"{base}/{lease['id']}", json_body={"ttl_seconds": 120})
    assert renewed.status == 200 and renewed.body["generation"] == lease["generation"] + 1
    assert renewed.body["expires_at"] > lease["expires_at"]
    assert (await api.call("PUT", f"{base}/nope", json_body={})).status == 404
