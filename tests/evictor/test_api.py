"""The evictor's HTTP API on the embedded runtime: explain a copy, summarise a site, override TTLs, metrics."""

from __future__ import annotations

import pytest

from lakecache.core.contracts.cache import CacheEvicted
from lakecache.core.contracts.eviction import EvictionTtlChanged
from tests.evictor.conftest import FILES_BYTES, SITE, VOLUME, VOLUME_TTL, Lake

PROBLEM = "application/problem+json"
TTL = f"/api/v1/sites/{SITE}/ttl"


async def ready_copy(lake: Lake, tmp_path) -> dict:
    commit = await lake.commit(tmp_path)
    await lake.cache(commit)
    return commit


async def test_explain_gives_state_live_leases_ttl_and_then_the_last_decision(lake, tmp_path):
    commit = await ready_copy(lake, tmp_path)
    lease = await lake.lease(commit["id"], holder="job-7")
    reply = await lake.explain(commit["id"])
    assert reply.status == 200
    verdict = reply.body
    assert (verdict["site"], verdict["volume"], verdict["commit_id"]) == (SITE, VOLUME, commit["id"])
    assert (verdict["state"], verdict["dataset_id"], verdict["project"]) == ("ready", commit["dataset_id"], "team")
    assert verdict["live_leases"] == [{"lease_id": lease["id"], "holder": "job-7", "expires_at": verdict[
        "live_leases"][0]["expires_at"]}]
    assert (verdict["ttl_seconds"], verdict["ttl_source"]) == (VOLUME_TTL, "volume")
    assert verdict["pinned"] is False and verdict["last_decision"] is None
    assert verdict["verdict"].startswith("kept: a job holds a lease on it")
    # Without ?volume= the volume holding the copy is explained.
    assert (await lake.call(lake.evictor, "GET", f"/api/v1/sites/{SITE}/copies/{commit['id']}/eviction")).body[
        "volume"] == VOLUME

    await lake.release(commit["id"], lease["id"])
    [decision] = await lake.advance(2 * VOLUME_TTL)
    await lake.wait_for(CacheEvicted, commit["id"])
    verdict = await lake.until_explained(commit["id"], lambda v: v["state"] == "evicted", "the eviction to be known")
    assert verdict["live_leases"] == [] and verdict["bytes_freed"] == FILES_BYTES
    last = verdict["last_decision"]
    assert (last["decision_id"], last["reason"], last["outcome"], last["dry_run"]) == (
        decision.decision_id, "ttl-expired", "evicted", False)
    assert last["explanation"] == decision.explanation
    assert verdict["verdict"].startswith(f"evicted at {verdict['evicted_at']} by decision {decision.decision_id}")


@pytest.mark.parametrize("volume", [None, VOLUME, "nfs9"])
async def test_explaining_an_unknown_copy_is_a_404_problem(lake, tmp_path, volume):
    known = await ready_copy(lake, tmp_path)
    unknown = "0" * 64
    reply = await lake.call(lake.evictor, "GET", f"/api/v1/sites/{SITE}/copies/{unknown}/eviction",
                            params={"volume": volume})
    assert reply.status == 404 and reply.content_type == PROBLEM, reply.body
    assert unknown in reply.body["detail"] and reply.body["status"] == 404
    if volume == "nfs9":  # the copy exists, but not on that volume
        other = await lake.call(lake.evictor, "GET", f"/api/v1/sites/{SITE}/copies/{known['id']}/eviction",
                                params={"volume": volume})
        assert other.status == 404 and VOLUME in other.body["detail"], other.body


async def test_site_summary_lists_each_volume_with_its_copies_and_policy(lake, tmp_path):
    await ready_copy(lake, tmp_path)
    reply = await lake.call(lake.evictor, "GET", f"/api/v1/sites/{SITE}/eviction")
    assert reply.status == 200
    summary = reply.body
    assert (summary["site"], summary["dry_run"], summary["default_ttl_seconds"]) == (SITE, False, 86400)
    [volume] = summary["volumes"]
    assert (volume["volume"], volume["ttl_seconds"], volume["copies"]) == (VOLUME, VOLUME_TTL, {"ready": 1})
    assert (volume["high_watermark"], volume["low_watermark"], volume["reclaiming"]) == (1.0, 0.99, False)
    assert volume["capacity_bytes"] > 0 and volume["used_bytes"] > 0  # the cacher's report of the filesystem
    other = await lake.call(lake.evictor, "GET", "/api/v1/sites/elsewhere/eviction")
    assert other.status == 200 and other.body["volumes"] == []


async def test_a_dataset_ttl_override_applies_once_its_event_is_consumed(lake, tmp_path):
    commit = await ready_copy(lake, tmp_path)
    reply = await lake.call(lake.evictor, "PUT", TTL, headers={"X-LakeCache-User": "ada"},
                            json_body={"scope": "dataset", "target": commit["dataset_id"], "ttl_seconds": 7200})
    assert reply.status == 202 and reply.body["accepted"] is True
    changed = (await lake.wait_for(EvictionTtlChanged))[0]
    assert (changed.scope, changed.target, changed.ttl_seconds, changed.changed_by) == (
        "dataset", commit["dataset_id"], 7200, "ada")
    verdict = await lake.until_explained(commit["id"], lambda v: v["ttl_source"] == "dataset", "the override")
    assert verdict["ttl_seconds"] == 7200
    # The policy uses it too: past the volume's TTL the copy stays, past the dataset's it goes.
    assert await lake.advance(2 * VOLUME_TTL) == []
    assert [d.commit_id for d in await lake.advance(7200)] == [commit["id"]]


async def test_a_commit_ttl_wins_over_the_dataset_ttl_and_clearing_it_falls_back(lake, tmp_path):
    commit = await ready_copy(lake, tmp_path)
    for body in ({"scope": "dataset", "target": commit["dataset_id"], "ttl_seconds": 7200},
                 {"scope": "commit", "target": commit["id"], "ttl_seconds": 60}):
        assert (await lake.call(lake.evictor, "PUT", TTL, json_body=body)).status == 202
    verdict = await lake.until_explained(commit["id"], lambda v: v["ttl_source"] == "commit", "the commit override")
    assert verdict["ttl_seconds"] == 60
    cleared = await lake.call(lake.evictor, "PUT", TTL, json_body={"scope": "commit", "target": commit["id"],
                                                                   "ttl_seconds": None})
    assert cleared.status == 202
    verdict = await lake.until_explained(commit["id"], lambda v: v["ttl_source"] == "dataset", "the clearing")
    assert verdict["ttl_seconds"] == 7200


@pytest.mark.parametrize(("body", "says"), [
    (b"{not json", "the request body is not JSON"),
    (b'["dataset", "x", 60]', "the request body must be a JSON object, got list"),
    ({"scope": "volume", "target": "x", "ttl_seconds": 60}, 'scope must be "dataset" or "commit", got "volume"'),
    ({"scope": "dataset", "ttl_seconds": 60}, "target must be the dataset's or commit's id (1 to 128 characters), "
                                              "got null"),
    ({"scope": "dataset", "target": "", "ttl_seconds": 60}, "target must be the dataset's or commit's id (1 to 128 "
                                                            "characters), got 0 characters"),
    ({"scope": "dataset", "target": "x" * 200, "ttl_seconds": 60}, "target must be the dataset's or commit's id (1 "
                                                                   "to 128 characters), got 200 characters"),
    ({"scope": "dataset", "target": "x", "ttl_seconds": 0}, "ttl_seconds must be a whole number of seconds above 0, "
                                                            "or null to clear the override, got 0"),
    ({"scope": "dataset", "target": "x", "ttl_seconds": "1d"}, "ttl_seconds must be a whole number of seconds "
                                                               'above 0, or null to clear the override, got "1d"'),
    ({"scope": "dataset", "target": "x", "ttl_seconds": True}, "ttl_seconds must be a whole number of seconds "
                                                               "above 0, or null to clear the override, got true"),
    ({"scope": "dataset", "target": "x", "ttl_seconds": 60, "volume": "nfs1"}, "unknown field(s) volume"),
])
async def test_bad_ttl_bodies_are_400_problems_naming_what_is_wrong(lake, body, says):
    if isinstance(body, bytes):
        reply = await lake.call(lake.evictor, "PUT", TTL, data=body, headers={"Content-Type": "application/json"})
    else:
        reply = await lake.call(lake.evictor, "PUT", TTL, json_body=body)
    assert reply.status == 400 and reply.content_type == PROBLEM, reply.body
    assert reply.body["detail"].startswith(says), reply.body["detail"]
    await lake.settle()
    assert lake.of(EvictionTtlChanged) == []


async def test_every_problem_of_a_ttl_body_is_named_at_once(lake):
    reply = await lake.call(lake.evictor, "PUT", TTL, json_body={"scope": "site", "ttl_seconds": -5})
    assert reply.status == 400
    detail = reply.body["detail"]
    assert all(part in detail for part in ('got "site"', "target must be", "got -5", 'Send {"scope"')), detail


async def test_a_ttl_for_a_site_name_that_cannot_exist_is_a_400_problem(lake):
    reply = await lake.call(lake.evictor, "PUT", "/api/v1/sites/Not_A_Site/ttl",
                            json_body={"scope": "dataset", "target": "x", "ttl_seconds": 60})
    assert reply.status == 400 and reply.content_type == PROBLEM, reply.body
    assert reply.body["detail"].startswith("invalid TTL change: site 'Not_A_Site': "), reply.body["detail"]


async def test_metrics_count_decisions_and_tick_gauges(lake, tmp_path):
    commit = await ready_copy(lake, tmp_path)
    await lake.advance(2 * VOLUME_TTL)
    await lake.wait_for(CacheEvicted, commit["id"])
    async with lake.session.get(lake.evictor.base_url + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    assert 'lakecache_evictor_decisions_total{dry_run="false",reason="ttl-expired"} 1.0' in text
    # Gauges are refreshed on ticks: the last tick saw the copy ready, just before deciding it.
    assert 'lakecache_evictor_copies{site="dgx",state="ready"} 1.0' in text
