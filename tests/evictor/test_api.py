"""The evictor's HTTP API on the embedded runtime: explain a copy, summarise a site, override TTLs, metrics.

Requests are signed as the gateway signs them (``Lake.call``); the identity check itself is
tested at the end with assertions built by hand.
"""

from __future__ import annotations

import aiohttp
import pytest

from lakecache.core.contracts.cache import CacheEvicted
from lakecache.core.contracts.eviction import EvictionTtlChanged
from lakecache.core.identity.keys import metrics_token
from lakecache.core.vocabulary.eviction import MAX_TTL_SECONDS
from lakecache.gateway.api.backends import evictor_models
from tests.evictor.conftest import FILES_BYTES, PROJECT, SITE, VOLUME, VOLUME_TTL, Lake, copy_path
from tests.support.http import call
from tests.support.identity import assertion_headers, gateway_keys
from tests.support.waiting import eventually

PROBLEM = "application/problem+json"
TTL = f"/api/v1/sites/{SITE}/ttl"
TTL_RANGE = ("ttl_seconds must be a whole number of seconds from 1 to 315360000 (10 years), or null to clear the "
             "override")


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
    assert (verdict["site"], verdict["volume"], verdict["project"], verdict["commit_id"]) == (
        SITE, VOLUME, PROJECT, commit["id"])
    assert (verdict["state"], verdict["dataset_id"]) == ("ready", commit["dataset_id"])
    assert verdict["live_leases"] == [{"lease_id": lease["id"], "holder": "job-7", "expires_at": verdict[
        "live_leases"][0]["expires_at"]}]
    assert (verdict["ttl_seconds"], verdict["ttl_source"]) == (VOLUME_TTL, "volume")
    assert verdict["pinned"] is False and verdict["last_decision"] is None
    assert verdict["verdict"].startswith("kept: a job holds a lease on it")
    # Without ?volume= the volume holding the copy is explained.
    assert (await lake.call(lake.evictor, "GET", copy_path(commit["id"]) + "/eviction")).body["volume"] == VOLUME

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
    reply = await lake.call(lake.evictor, "GET", copy_path(unknown) + "/eviction", params={"volume": volume})
    assert reply.status == 404 and reply.content_type == PROBLEM, reply.body
    assert unknown in reply.body["detail"] and reply.body["status"] == 404
    if volume == "nfs9":  # the copy exists, but not on that volume
        other = await lake.call(lake.evictor, "GET", copy_path(known["id"]) + "/eviction", params={"volume": volume})
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


async def test_a_ttl_override_is_kept_however_its_target_is_spelled(lake):
    # A target is any 1 to 128 characters but control characters, and overrides are keyed by it in the
    # site's state: the state is saved whatever its keys, or the accepted change would be lost.
    targets = ["ds.v1", "$ds", "a/b"]
    for target in targets:
        reply = await lake.call(lake.evictor, "PUT", TTL, json_body={"scope": "dataset", "target": target,
                                                                     "ttl_seconds": 7200})
        assert reply.status == 202, reply.body

    async def kept() -> bool:
        overrides = (await lake.policies.state(SITE)).dataset_ttls
        return all(target in overrides and overrides[target].ttl_seconds == 7200 for target in targets)

    await eventually(kept, message="every override in the site's saved state")


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
    ({"scope": "dataset", "target": "x\u0000y", "ttl_seconds": 60}, "target must be the dataset's or commit's id, "
                                                                   "without control characters"),
    ({"scope": "dataset", "target": "x", "ttl_seconds": 0}, f"{TTL_RANGE}, got 0"),
    ({"scope": "dataset", "target": "x", "ttl_seconds": "1d"}, f'{TTL_RANGE}, got "1d"'),
    ({"scope": "dataset", "target": "x", "ttl_seconds": True}, f"{TTL_RANGE}, got true"),
    ({"scope": "dataset", "target": "x", "ttl_seconds": 1.5}, f"{TTL_RANGE}, got 1.5"),
    ({"scope": "dataset", "target": "x", "ttl_seconds": MAX_TTL_SECONDS + 1}, f"{TTL_RANGE}, got 315360001"),
    ({"scope": "dataset", "target": "x", "ttl_seconds": 10**300}, f"{TTL_RANGE}, got a value of 301 characters"),
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
    token = metrics_token(lake.home / "keys", generate=False)
    async with aiohttp.ClientSession() as session:
        async with session.get(lake.evictor.base_url + "/metrics") as refused:
            assert refused.status == 401
        async with session.get(lake.evictor.base_url + "/metrics", headers={"Authorization": f"Bearer {token}"}) \
                as response:
            assert response.status == 200
            text = await response.text()
    assert 'lakecache_evictor_decisions_total{dry_run="false",reason="ttl-expired"} 1.0' in text
    # Gauges are refreshed on ticks: the last tick saw the copy ready, just before deciding it.
    assert 'lakecache_evictor_copies{site="dgx",state="ready"} 1.0' in text


def test_the_gateways_model_refuses_exactly_the_ttls_the_evictor_refuses():
    model = evictor_models.TtlOverride
    assert evictor_models.MAX_TTL_SECONDS == MAX_TTL_SECONDS
    model.model_validate({"scope": "dataset", "target": "x", "ttl_seconds": MAX_TTL_SECONDS})
    for wrong in ({"ttl_seconds": MAX_TTL_SECONDS + 1}, {"ttl_seconds": 0}, {"target": "x\ty"}):
        with pytest.raises(ValueError):
            model.model_validate({"scope": "dataset", "target": "x", "ttl_seconds": 60, **wrong})


# --- who may ask -----------------------------------------------------------------------------------------


async def test_another_project_cannot_read_a_copys_verdict_and_learns_nothing_of_it(lake, tmp_path):
    commit = await ready_copy(lake, tmp_path)
    path = copy_path(commit["id"]) + "/eviction"
    keys = gateway_keys(lake.home)
    async with aiohttp.ClientSession() as session:
        # Signed for the rival project, aimed at the team's copy: refused by the identity check.
        headers = assertion_headers(keys, "evictor", "GET", path, action="caches:read", project="rival")
        forged = await call(session, lake.evictor.base_url, "GET", path, headers=headers)
    assert forged.status == 403 and forged.content_type == PROBLEM, forged.body
    # Its own path for the same commit: no copy of the rival project, and nothing said of the team's.
    own = await lake.call(lake.evictor, "GET", copy_path(commit["id"], "rival") + "/eviction")
    assert own.status == 404, own.body
    assert VOLUME not in own.body["detail"] and PROJECT not in own.body["detail"]


async def test_a_projects_copies_are_explained_in_one_answer_and_only_its_own(lake, tmp_path):
    ours = await ready_copy(lake, tmp_path / "ours")
    theirs = await lake.commit(tmp_path / "theirs", {"other.bin": b"rival bytes"}, project="rival")
    await lake.cache(theirs)
    lease = await lake.lease(ours["id"], holder="job-3")
    path = f"/api/v1/projects/{PROJECT}/sites/{SITE}/eviction"

    reply = await lake.call(lake.evictor, "GET", path)
    assert reply.status == 200, reply.body
    [one] = evictor_models.ProjectEviction.model_validate(reply.body).items
    assert one == evictor_models.CopyEviction.model_validate((await lake.explain(ours["id"])).body).model_copy(
        update={"now": one.now, "idle_seconds": one.idle_seconds, "ttl_expires_in_seconds": one.ttl_expires_in_seconds})
    assert (one.project, one.commit_id, [lease_.lease_id for lease_ in one.live_leases]) == (
        PROJECT, ours["id"], [lease["id"]])
    # Signed for another project, aimed at this one's: refused by the identity check.
    keys = gateway_keys(lake.home)
    async with aiohttp.ClientSession() as session:
        headers = assertion_headers(keys, "evictor", "GET", path, action="caches:read", project="rival")
        assert (await call(session, lake.evictor.base_url, "GET", path, headers=headers)).status == 403
    rival = await lake.call(lake.evictor, "GET", f"/api/v1/projects/rival/sites/{SITE}/eviction")
    assert [item["commit_id"] for item in rival.body["items"]] == [theirs["id"]]
    nobody = await lake.call(lake.evictor, "GET", f"/api/v1/projects/nobody/sites/{SITE}/eviction")
    assert nobody.body == {"items": []}


async def test_every_evictor_route_refuses_a_caller_without_a_valid_assertion(lake):
    keys = gateway_keys(lake.home)
    routes = [("GET", f"/api/v1/sites/{SITE}/eviction", "sites:read", None),
              ("GET", copy_path("0" * 64) + "/eviction", "caches:read", PROJECT),
              ("GET", f"/api/v1/projects/{PROJECT}/sites/{SITE}/eviction", "caches:read", PROJECT),
              ("PUT", TTL, "sites:write", None)]
    async with aiohttp.ClientSession() as session:
        for method, path, action, project in routes:
            body = {"scope": "dataset", "target": "x", "ttl_seconds": 60} if method == "PUT" else None
            for headers in ({}, {"X-LakeCache-User": "admin"},
                            assertion_headers(keys, "cacher", method, path, action=action, project=project),
                            assertion_headers(keys, "evictor", method, path, action=action, project=project,
                                              ttl_seconds=60, now=1_000_000_000)):
                reply = await call(session, lake.evictor.base_url, method, path, headers=headers, json_body=body)
                assert reply.status == 401 and reply.content_type == PROBLEM, (method, path, headers, reply.body)
        for probe in ("/healthz", "/readyz"):
            assert (await call(session, lake.evictor.base_url, "GET", probe)).status == 200
    await lake.settle()
    assert lake.of(EvictionTtlChanged) == []
