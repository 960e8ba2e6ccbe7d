"""The embedded evictor end to end: catalog, cacher and evictor in one process on the in-memory bus.

A dataset is committed through the catalog, cached at the site by the cacher, and the evictor
learns of it from the events; the test moves the evictor's clock past the volume's idle TTL
(see ``conftest.Lake.advance``) and watches what the evictor decides and what the cacher does.
Two projects that cache the same tree get two copies of one commit, protected and evicted apart.
"""

from __future__ import annotations

import uuid

from lakecache.core.contracts.cache import CacheEvicted, CacheEvictionRequested, VolumeReported
from lakecache.core.contracts.eviction import ManualEvictionRequested
from tests.evictor.conftest import FILES, FILES_BYTES, SITE, VOLUME, VOLUME_TTL, Lake
from tests.support.waiting import eventually


def pool_files(lake: Lake) -> list[str]:
    pool = lake.volume / ".lakecache" / "pool"
    return sorted(p.name for p in pool.rglob("*") if p.is_file())


def reported_after_eviction(lake: Lake) -> bool:
    # Both travel on the cache-events partition of the site, so their order is the cacher's.
    kinds = [type(e.data) for e in lake.events if isinstance(e.data, CacheEvicted | VolumeReported)]
    return CacheEvicted in kinds and VolumeReported in kinds[kinds.index(CacheEvicted):]


def decisions_total(lake: Lake, reason: str, dry_run: bool) -> float:
    return lake.evictor.resources.telemetry.registry.get_sample_value(
        "lakecache_evictor_decisions_total", {"reason": reason, "dry_run": str(dry_run).lower()}) or 0.0


async def test_leased_copy_survives_ttl_expiry_and_is_evicted_once_released(lake, tmp_path):
    commit = await lake.commit(tmp_path)
    ready = await lake.cache(commit)
    view = lake.volume / "team" / "images" / commit["id"]
    assert (view / "train" / "0.bin").read_bytes() == FILES["train/0.bin"]
    assert len(pool_files(lake)) == len(FILES)
    assert ready.size_bytes == FILES_BYTES

    lease = await lake.lease(commit["id"])
    assert await lake.advance(2 * VOLUME_TTL) == []  # twice the idle TTL, but a job holds it
    verdict = (await lake.explain(commit["id"])).body
    assert verdict["state"] == "ready"
    assert verdict["verdict"].startswith("kept: a job holds a lease on it (job-7 until ")
    assert [x["holder"] for x in verdict["live_leases"]] == ["job-7"]
    assert (await lake.copy(commit["id"]))["state"] == "ready"

    await lake.release(commit["id"], lease["id"])
    decided = await lake.advance(2 * VOLUME_TTL)
    assert [(type(d), d.reason, d.dry_run) for d in decided] == [(CacheEvictionRequested, "ttl-expired", False)]
    decision = decided[0]
    # The decision carries the generation the release left, so the cacher's compare-and-swap passes.
    assert decision.generation == (await lake.copy(commit["id"]))["generation"]
    assert "longer than its idle TTL of 10m (volume policy)" in decision.explanation

    evicted = (await lake.wait_for(CacheEvicted, commit["id"]))[0]
    assert (evicted.decision_id, evicted.reason) == (decision.decision_id, "ttl-expired")
    assert evicted.bytes_freed == FILES_BYTES  # the view's files, none shared with another copy
    assert not view.exists() and not (view.parent / f"{commit['id']}.ready").exists()
    assert pool_files(lake) == []
    assert (await lake.copy(commit["id"]))["state"] == "evicted"
    # The cacher re-reports the volume after the eviction, so the evictor's usage estimate is refreshed.
    await eventually(lambda: reported_after_eviction(lake), message="a volume report after cache.evicted")

    verdict = await lake.until_explained(commit["id"], lambda v: v["state"] == "evicted", "the evictor to see it go")
    assert verdict["evicted_by"] == decision.decision_id and verdict["bytes_freed"] == FILES_BYTES
    assert verdict["last_decision"]["outcome"] == "evicted"
    assert await lake.advance(2 * VOLUME_TTL) == []  # evicted copies are not decided again
    assert len(lake.of(CacheEvictionRequested)) == 1
    assert decisions_total(lake, "ttl-expired", dry_run=False) == 1


async def test_a_copy_idle_for_less_than_its_ttl_is_kept(lake, tmp_path):
    commit = await lake.commit(tmp_path)
    await lake.cache(commit)
    assert await lake.advance(VOLUME_TTL / 2) == []
    assert await lake.advance(VOLUME_TTL / 4) == []
    decided = await lake.advance(VOLUME_TTL / 2)  # now 1.25 TTLs after cache.ready
    assert [d.commit_id for d in decided] == [commit["id"]]


async def test_pinned_copy_is_never_evicted_and_goes_once_unpinned(lake, tmp_path):
    commit = await lake.commit(tmp_path)
    await lake.cache(commit)
    await lake.pin(commit["id"])
    for days in (1, 3, 6):  # well past the TTL, again and again
        assert await lake.advance(days * 86400) == []
    verdict = (await lake.explain(commit["id"])).body
    assert verdict["verdict"] == "kept: an operator pinned it" and verdict["pinned"] is True
    assert (lake.volume / "team" / "images" / commit["id"] / "labels.csv").exists()
    assert lake.of(CacheEvictionRequested) == []

    await lake.pin(commit["id"], pinned=False)
    decided = await lake.advance(60)
    assert [(d.reason, d.commit_id) for d in decided] == [("ttl-expired", commit["id"])]
    await lake.wait_for(CacheEvicted, commit["id"])
    assert not (lake.volume / "team" / "images" / commit["id"]).exists()


async def test_dry_run_decides_once_and_the_copy_stays(start_lake, tmp_path):
    lake = await start_lake(dry_run=True)
    commit = await lake.commit(tmp_path)
    await lake.cache(commit)
    decided = await lake.advance(2 * VOLUME_TTL)
    assert [(d.reason, d.dry_run) for d in decided] == [("ttl-expired", True)]
    await lake.wait_for(CacheEvictionRequested, commit["id"])
    await lake.settle()  # the cacher has handled the command: it only logs a dry run

    assert (await lake.copy(commit["id"]))["state"] == "ready"
    assert (lake.volume / "team" / "images" / commit["id"] / "train" / "1.bin").read_bytes() == FILES["train/1.bin"]
    assert lake.of(CacheEvicted) == []
    verdict = (await lake.explain(commit["id"])).body
    assert verdict["state"] == "ready"
    assert verdict["last_decision"]["dry_run"] is True and verdict["last_decision"]["outcome"] == "dry-run"
    assert verdict["verdict"].startswith(f"kept (dry run): decision {decided[0].decision_id} would evict it")
    # Nothing it rested on changed, so later ticks do not repeat it.
    assert await lake.advance(VOLUME_TTL) == []
    assert decisions_total(lake, "ttl-expired", dry_run=True) == 1
    assert decisions_total(lake, "ttl-expired", dry_run=False) == 0


async def test_state_survives_an_evictor_restart_and_the_decision_is_made_once(lake, tmp_path):
    commit = await lake.commit(tmp_path)
    await lake.cache(commit)
    lease = await lake.lease(commit["id"])
    await lake.release(commit["id"], lease["id"])
    before = (await lake.explain(commit["id"])).body

    await lake.restart_evictor()
    # A new process would have no memory but its document store: the copy, its incarnation
    # and its lease history come back from there (cache.ready is not delivered again).
    after = (await lake.explain(commit["id"])).body
    for key in ("state", "ready_at", "last_use", "generation", "ttl_seconds", "ttl_source", "live_leases"):
        assert after[key] == before[key], key
    assert after["state"] == "ready"

    decided = await lake.advance(2 * VOLUME_TTL)
    assert [(d.reason, d.commit_id) for d in decided] == [("ttl-expired", commit["id"])]
    await lake.wait_for(CacheEvicted, commit["id"])
    await lake.until_explained(commit["id"], lambda v: v["state"] == "evicted", "the evictor to see it go")

    await lake.restart_evictor()
    assert (await lake.explain(commit["id"])).body["state"] == "evicted"
    assert await lake.advance(2 * VOLUME_TTL) == []
    await lake.settle()
    assert len(lake.of(CacheEvictionRequested)) == 1 and len(lake.of(CacheEvicted)) == 1
    summary = await lake.call(lake.evictor, "GET", f"/api/v1/sites/{SITE}/eviction")
    assert summary.body["volumes"][0]["copies"] == {"evicted": 1}


async def test_two_projects_copies_of_one_commit_are_protected_and_evicted_apart(lake, tmp_path):
    team = await lake.commit(tmp_path)
    rival = await lake.commit(tmp_path, project="rival")
    assert rival["id"] == team["id"]  # the same tree: the same commit, in two projects
    await lake.cache(team)
    await lake.cache(rival)
    lease = await lake.lease(team["id"])  # the team's job holds the team's copy only

    decided = await lake.advance(2 * VOLUME_TTL)
    assert [(d.project, d.commit_id, d.reason) for d in decided] == [("rival", rival["id"], "ttl-expired")]
    [evicted] = await lake.wait_for(CacheEvicted, rival["id"])
    assert (evicted.project, evicted.decision_id) == ("rival", decided[0].decision_id)
    await lake.until_explained(rival["id"], lambda v: v["state"] == "evicted", "the rival copy to go", "rival")

    verdict = (await lake.explain(team["id"])).body
    assert verdict["state"] == "ready" and [x["lease_id"] for x in verdict["live_leases"]] == [lease["id"]]
    assert (await lake.copy(team["id"]))["state"] == "ready"
    assert (lake.volume / "team" / "images" / team["id"] / "train" / "0.bin").read_bytes() == FILES["train/0.bin"]
    assert not (lake.volume / "rival" / "images" / rival["id"]).exists()


async def test_a_manual_eviction_for_another_project_leaves_the_copy_alone(lake, tmp_path):
    team = await lake.commit(tmp_path)
    await lake.cache(team)

    for project, who in (("rival", "mallory"), ("team", "ada")):  # the rival project holds no copy of it
        await lake.evictor.resources.publisher.emit(ManualEvictionRequested(
            request_id=uuid.uuid4().hex, site=SITE, volume=VOLUME, commit_id=team["id"], requested_by=who,
            project=project))
    [evicted] = await lake.wait_for(CacheEvicted, team["id"])
    await lake.settle()
    [decision] = lake.of(CacheEvictionRequested)
    assert (decision.project, decision.reason, evicted.project) == ("team", "manual", "team")
    assert decision.explanation.startswith("requested by ada")
