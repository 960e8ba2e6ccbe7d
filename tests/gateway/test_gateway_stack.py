"""The gateway in front of the real catalog, cacher and evictor (embedded adapters, one bus):
a team's story end to end, manual eviction, jobs leasing copies, and backends that are down or
refuse the gateway's signature. What another team can and cannot do is ``test_team_isolation.py``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lakecache.core.identity import SigningKey
from lakecache.core.identity.keys import key_id
from lakecache.gateway.auth import Actor
from lakecache.gateway.auth.tokens import revoke_token
from lakecache.sdk.leases import CopyLease
from lakecache.sdk.settings import ClientSettings
from tests.gateway.calls import cache, call_json, commit_tree, ready_copy, status_events
from tests.gateway.conftest import TEAM_A, TEAM_B, handed_out, make_user
from tests.gateway.stack import SITE, gateway_client
from tests.support.waiting import eventually


async def test_a_cache_request_answers_202_and_its_live_progress_ends_ready(gateway, people, tmp_path, backends):
    alice = people["alice"]
    commit = await commit_tree(gateway, alice, tmp_path, TEAM_A, "cats")
    async with gateway.post("/api/v1/caches", headers=alice.header,
                            json={"project": TEAM_A, "dataset": "cats", "ref": "latest", "site": SITE}) as response:
        assert response.status == 202
        accepted = await response.json()
    url = f"/api/v1/projects/{TEAM_A}/sites/{SITE}/copies/{commit['id']}"
    assert response.headers["Location"] == accepted["status_url"] == url and accepted["events_url"] == url + "/events"
    assert accepted["status"]["state"] in ("requested", "filling", "ready")
    assert accepted["status"]["project"] == TEAM_A and accepted["status"]["requested_by"] == "user:alice"

    statuses = await asyncio.wait_for(status_events(gateway, accepted["events_url"], alice), 60)
    assert statuses[-1]["state"] == "ready"  # and the stream ended there
    assert [s["state"] for s in statuses].count("ready") == 1

    status, copy = await call_json(gateway, "GET", accepted["status_url"], alice)
    assert status == 200 and copy["state"] == "ready"
    [volume] = copy["volumes"]
    assert volume["files_done"] == volume["files_total"] == 3 and volume["bytes_done"] == 3 * 2048
    assert sorted(p.name for p in (Path(volume["path"]) / "train").iterdir()) == ["0.bin", "1.bin", "2.bin"]

    status, listed = await call_json(gateway, "GET", f"/api/v1/projects/{TEAM_A}/copies", alice,
                                     params={"site": SITE})
    assert status == 200 and [(c["commit_id"], c["state"]) for c in listed["items"]] == [(commit["id"], "ready")]
    status, sites = await call_json(gateway, "GET", "/api/v1/sites", people["bob"])  # any signed-in user
    [reported] = sites["items"]
    assert (reported["site"], reported["volume"]) == (SITE, "nfs1") and reported["capacity_bytes"] > 0
    assert reported["used_bytes"] > 0

    async with gateway.get("/metrics", headers=people["root"].header) as response:
        metrics = await response.text()
    # The SDK's sync and the source grant went to the catalog, the site check to the cacher; the status did not.
    assert 'lakecache_gateway_upstream_seconds_count{outcome="2xx",service="catalog"}' in metrics
    assert 'lakecache_gateway_upstream_seconds_count{outcome="2xx",service="cacher"} 1.0' in metrics

    status, problem = await call_json(gateway, "POST", "/api/v1/caches", alice,
                                      json={"project": TEAM_A, "dataset": "cats", "site": SITE, "volume": "nfs9"})
    assert status == 404 and "has no volume 'nfs9'; its volumes are nfs1" in problem["detail"]


async def test_a_manual_eviction_waits_for_no_lease_and_a_revoked_token_fails_at_once(
        gateway, people, tmp_path, auth, backends):
    alice = people["alice"]
    commit, accepted = await ready_copy(gateway, alice, tmp_path, TEAM_A)
    copy = accepted["status_url"]
    status, lease = await call_json(gateway, "POST", copy + "/leases", alice, json={"holder": "train-job"})
    assert status == 201, lease

    recorder = await backends.recorder()
    status, asked = await call_json(gateway, "DELETE", copy, alice)
    assert status == 202 and asked["volume"] == "nfs1"
    await backends.settled()  # the evictor has decided on the request
    assert recorder.of("eviction.manual.requested", commit_id=commit["id"]), "the request reached the bus"
    assert recorder.of("cache.eviction.requested", commit_id=commit["id"]) == []  # the lease protected it
    assert (await call_json(gateway, "GET", copy, alice))[1]["state"] == "ready"

    assert (await call_json(gateway, "DELETE", f"{copy}/leases/{lease['id']}", alice))[0] == 204

    async def unleased() -> bool:  # the evictor decides on what it has seen: let it see the release
        return (await call_json(gateway, "GET", copy + "/eviction", alice))[1]["live_leases"] == []

    await eventually(unleased, message="the evictor to see the release")
    assert (await call_json(gateway, "DELETE", copy, alice))[0] == 202

    async def evicted() -> bool:
        return (await call_json(gateway, "GET", copy, alice))[1]["state"] == "evicted"

    await eventually(evicted, message="the copy to be evicted once the lease is gone")
    status, problem = await call_json(gateway, "DELETE", copy, alice)
    assert status == 409 and "not ready on any volume" in problem["detail"]
    [volume] = (await call_json(gateway, "GET", copy, alice))[1]["volumes"]
    assert volume["path"] is None and volume["files_done"] is None  # no stale progress on an evicted copy

    [token] = await auth.tokens.listing(user_id=alice.id)
    await revoke_token(auth, token["_id"], Actor.system())
    assert (await call_json(gateway, "GET", "/api/v1/datasets/vision/cats", alice))[0] == 401


async def test_a_backend_that_is_down_answers_503_naming_it(api, auth):
    root = await make_user(auth, "root", admin=True)
    async with api.get("/api/v1/datasets/vision/cats", headers=root.header) as response:
        problem = await response.json()
        assert response.status == 503 and problem["type"] == "urn:lakecache:problem:unavailable"
        assert "did not answer GET /api/v1/datasets/vision/cats" in problem["detail"]
    async with api.get("/metrics", headers=root.header) as response:
        assert 'lakecache_gateway_upstream_seconds_count{outcome="unavailable",service="catalog"} 1.0' in (
            await response.text())


async def test_a_backend_that_refuses_the_gateways_signature_answers_503_for_the_operator(auth, store, backends):
    root = await make_user(auth, "root", admin=True)
    upstreams = backends.upstreams()
    stranger = Ed25519PrivateKey.generate()  # a key no service of this installation trusts
    upstreams.signing_key = SigningKey("gateway", key_id(stranger.public_key()), stranger)
    async with gateway_client(auth, store, upstreams, backends.bus_url) as gateway:
        status, problem = await call_json(gateway, "GET", "/api/v1/datasets/vision/cats", root)
    assert status == 503 and problem["type"] == "urn:lakecache:problem:unavailable"
    assert "refused the gateway's signature" in problem["detail"] and "service keys" in problem["detail"]


async def test_a_job_leases_its_projects_copy_with_its_token_and_the_lease_outlives_its_ttl(
        gateway, people, tmp_path, auth, store, clock, backends):
    alice, bob = people["alice"], people["bob"]
    await handed_out(store, TEAM_A, "run-7")
    commit, accepted = await ready_copy(gateway, alice, tmp_path, TEAM_A)
    status, issued = await call_json(gateway, "POST", f"/api/v1/projects/{TEAM_A}/runs/run-7/job-tokens", alice,
                                     json={"expires_at": (clock() + timedelta(hours=2)).isoformat()})
    assert status == 201, issued
    base = str(gateway.make_url("")).rstrip("/")
    job = ClientSettings(api_url=base, token=issued["token"], home=tmp_path / "no-home")
    explained = accepted["status_url"] + "/eviction"

    async with CopyLease(SITE, commit["id"], settings=job, ttl_seconds=2) as copy:
        assert sorted(p.name for p in (copy.path / "train").iterdir()) == ["0.bin", "1.bin", "2.bin"]
        taken = datetime.now(UTC)

        async def renewed_past_its_ttl() -> bool:  # only the renewals can keep it live after 2 s
            status, why = await call_json(gateway, "GET", explained, alice)
            live = [lease for lease in why.get("live_leases", []) if lease["holder"] == "run:run-7"]
            now = datetime.now(UTC)
            return now > taken + timedelta(seconds=2.5) and bool(live) and datetime.fromisoformat(
                live[0]["expires_at"]) > now

        await eventually(renewed_past_its_ttl, message="the lease to be renewed past its own time to live")
        recorder = await backends.recorder()
        assert (await call_json(gateway, "DELETE", accepted["status_url"], alice))[0] == 202
        await backends.settled()
        assert recorder.of("cache.eviction.requested", commit_id=commit["id"]) == []  # the job's lease holds
        assert (await call_json(gateway, "GET", accepted["status_url"], alice))[1]["state"] == "ready"
    status, why = await call_json(gateway, "GET", explained, alice)
    assert why["live_leases"] == []  # released on exit

    # The same job token cannot lease another project's copy.
    speech_commit = await commit_tree(gateway, bob, tmp_path, TEAM_B, "cats")
    speech = await cache(gateway, bob, TEAM_B)
    job_header = {"Authorization": f"Bearer {issued['token']}"}
    async with gateway.post(speech["status_url"] + "/leases", headers=job_header, json={}) as response:
        assert response.status == 403, await response.text()
    assert speech["status_url"].endswith(speech_commit["id"])
