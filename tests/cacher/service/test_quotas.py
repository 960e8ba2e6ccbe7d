"""Per-project quotas on a volume (ADR 0018): a project is charged the distinct content its copies
there reference, each content once for the project and in full for every project holding it; a
fill that would pass its project's quota asks for room among that project's copies, waits, and
otherwise fails naming the quota."""

from __future__ import annotations

import os
import uuid

from lakecache.core.contracts.cache import CacheEvictionRequested, CacheFailed, CacheReady, CacheSpaceRequested
from tests.cacher.service.conftest import cacher_settings, running_cacher
from tests.support.waiting import eventually

A, B, C, D = (os.urandom(n) for n in (30_000, 20_000, 10_000, 5_000))
QUOTAS = "/api/v1/sites/dgx/volumes/nfs1/quotas"


async def ready(api, files: dict[str, bytes], project: str = "team", dataset: str = "ds") -> str:
    commit = await api.commit(files, project=project, dataset=dataset)
    rid = await api.request(commit, project=project, dataset=dataset)
    await eventually(lambda: api.of(CacheReady, rid) or api.of(CacheFailed, rid), message="the fill's answer")
    assert api.of(CacheReady, rid), api.of(CacheFailed, rid)[0].data.reason
    return commit


async def projects(api) -> dict[str, dict]:
    reply = await api.call("GET", "/api/v1/sites/dgx/volumes/nfs1")
    assert reply.status == 200, reply.body
    return {p["project"]: p for p in reply.body["projects"]}


async def set_quota(api, project: str, quota: int) -> dict:
    reply = await api.call("PUT", f"{QUOTAS}/{project}", json_body={"quota_bytes": quota})
    assert reply.status == 200, reply.body
    return reply.body


async def evict(api, commit: str, project: str = "team") -> None:
    await api.running.resources.publisher.emit(CacheEvictionRequested(
        decision_id=uuid.uuid4().hex, site="dgx", volume="nfs1", commit_id=commit, dataset_id="id-ds",
        reason="quota", explanation="room under the quota", project=project))


async def test_shared_content_is_charged_once_per_project_and_in_full_to_every_project(api):
    await ready(api, {"a.bin": A, "b.bin": B})
    await ready(api, {"a.bin": A, "copy-of-a.bin": A, "c.bin": C})  # a new version: only c is new
    await ready(api, {"a.bin": A, "d.bin": D}, project="lab")

    shown = await projects(api)
    assert shown["team"] == {"site": "dgx", "volume": "nfs1", "project": "team", "quota_bytes": None,
                             "charged_bytes": 60_000, "shared_bytes": 30_000}
    assert (shown["lab"]["charged_bytes"], shown["lab"]["shared_bytes"]) == (35_000, 30_000)
    volume = (await api.call("GET", "/api/v1/sites/dgx/volumes/nfs1")).body
    assert volume["cached_bytes"] == 65_000  # the pool holds each content once

    mine = await api.call("GET", "/api/v1/projects/lab/sites/dgx/quotas")
    assert mine.status == 200 and mine.body["items"] == [shown["lab"]]


async def test_evicting_a_copy_uncharges_only_what_no_other_copy_of_its_project_references(api):
    first = await ready(api, {"a.bin": A, "b.bin": B})
    await ready(api, {"a.bin": A, "c.bin": C})
    await ready(api, {"b.bin": B}, project="lab")
    await evict(api, first)
    await eventually(lambda: (api.cacher.charges_of("nfs1").charged_bytes("team") == 40_000),
                     message="team's charge after the eviction")
    shown = await projects(api)
    assert shown["team"]["charged_bytes"] == 40_000 and shown["team"]["shared_bytes"] == 0
    assert shown["lab"]["charged_bytes"] == 20_000  # b stays in the pool for lab, no longer charged to team


async def test_quotas_are_set_listed_and_removed(api):
    await ready(api, {"a.bin": A})
    assert await set_quota(api, "team", 100_000) == {"site": "dgx", "volume": "nfs1", "project": "team",
                                                      "quota_bytes": 100_000, "charged_bytes": 30_000,
                                                      "shared_bytes": 0}
    await set_quota(api, "nobody-yet", 5_000)
    shown = await projects(api)
    assert shown["team"]["quota_bytes"] == 100_000
    assert shown["nobody-yet"] == {"site": "dgx", "volume": "nfs1", "project": "nobody-yet", "quota_bytes": 5_000,
                                   "charged_bytes": 0, "shared_bytes": 0}

    assert (await api.call("DELETE", f"{QUOTAS}/nobody-yet")).status == 204
    assert (await api.call("DELETE", f"{QUOTAS}/nobody-yet")).status == 204  # already gone: the same outcome
    assert set(await projects(api)) == {"team"}


async def test_bad_quota_input_is_refused_with_a_problem(api):
    for body in ({"quota_bytes": -1}, {"quota_bytes": 0}, {"quota_bytes": "1G"}, {"quota_bytes": 1.5},
                 {"quota_bytes": True}, {}, {"quota_bytes": 5, "extra": 1}, {"quota_bytes": 2**63}):
        reply = await api.call("PUT", f"{QUOTAS}/team", json_body=body)
        assert reply.status == 400 and reply.content_type == "application/problem+json", (body, reply.body)
        assert "quota" in reply.body["detail"]
    reply = await api.call("PUT", f"{QUOTAS}/Not_A_Slug", json_body={"quota_bytes": 5})
    assert reply.status == 400 and "project" in reply.body["detail"]
    reply = await api.call("PUT", "/api/v1/sites/dgx/volumes/nfs9/quotas/team", json_body={"quota_bytes": 5})
    assert reply.status == 404 and "nfs1" in reply.body["detail"]


async def test_a_fill_over_its_projects_quota_asks_room_among_its_copies_then_fails_naming_the_quota(tmp_path,
                                                                                                    volume):
    settings = cacher_settings(tmp_path / "home", volume, space_wait_seconds=0.3, space_poll_seconds=0.05)
    async with running_cacher(settings) as api:
        await ready(api, {"a.bin": A, "b.bin": B})
        await set_quota(api, "team", 70_000)
        second = await api.commit({"a.bin": A, "c.bin": C, "d.bin": D})  # adds c and d: fits
        await ready(api, {"a.bin": A, "c.bin": C, "d.bin": D})
        third = await api.commit({"e.bin": os.urandom(25_000)}, dataset="other")
        rid = await api.request(third, dataset="other")
        await eventually(lambda: api.of(CacheFailed, rid), message="cache.failed")

        [asked] = [e.data for e in api.of(CacheSpaceRequested)]
        assert (asked.project, asked.quota_bytes, asked.commit_id) == ("team", 70_000, third)
        assert asked.bytes_needed == 65_000 + 25_000 - 70_000
        failed = api.of(CacheFailed, rid)[0].data
        assert failed.retryable
        for part in ("project team's quota on volume nfs1 is 70000 bytes", "charged 65000", "adds 25000",
                     "20000 bytes", "leased and pinned copies are never evicted"):
            assert part in failed.reason, failed.reason
        assert second  # the fitting fill was admitted without asking


async def test_room_freed_among_the_projects_copies_lets_the_waiting_fill_in(tmp_path, volume):
    settings = cacher_settings(tmp_path / "home", volume, space_wait_seconds=30, space_poll_seconds=0.05)
    async with running_cacher(settings) as api:
        first = await ready(api, {"a.bin": A, "b.bin": B})
        await ready(api, {"c.bin": C}, project="lab")
        await set_quota(api, "team", 60_000)
        second = await api.commit({"a.bin": A, "e.bin": os.urandom(25_000)}, dataset="other")
        rid = await api.request(second, dataset="other")
        await eventually(lambda: api.of(CacheSpaceRequested), message="room asked under the quota")
        assert api.of(CacheSpaceRequested)[0].data.bytes_needed == 50_000 + 25_000 - 60_000
        await evict(api, first)
        await eventually(lambda: api.of(CacheReady, rid) or api.of(CacheFailed, rid), message="the fill's answer")
        assert api.of(CacheReady, rid)
        # a was referenced only by the evicted copy when the fill was weighed: weighed again, it counts.
        assert (await projects(api))["team"]["charged_bytes"] == 55_000


async def test_a_commit_larger_than_the_whole_quota_fails_at_once_for_good(api):
    await set_quota(api, "team", 10_000)
    commit = await api.commit({"a.bin": A})
    rid = await api.request(commit)
    await eventually(lambda: api.of(CacheFailed, rid), message="cache.failed")
    failed = api.of(CacheFailed, rid)[0].data
    assert not failed.retryable and "more than the project's whole quota of 10000 bytes" in failed.reason
    assert not api.of(CacheSpaceRequested)
