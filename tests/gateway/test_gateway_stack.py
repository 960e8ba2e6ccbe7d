"""The gateway in front of the real catalog, cacher and evictor (embedded adapters, one bus):
a team's story end to end, what another team can and cannot do, and forged bus commands.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from yarl import URL

from lakecache.core.contracts.cache import CacheRequested
from lakecache.core.publishing import EventPublisher
from lakecache.gateway.auth import Actor, Role
from lakecache.gateway.auth.tokens import revoke_token
from lakecache.sdk.catalog import CatalogClient, CatalogError
from lakecache.sdk.leases import CopyLease
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.gateway.conftest import Someone, audit_records, make_user
from tests.gateway.stack import SITE, gateway_client, running_backends
from tests.support.waiting import eventually

TEAM_A, TEAM_B = "vision", "speech"


@pytest.fixture
async def backends(tmp_path):
    async with running_backends(tmp_path) as running:
        yield running


@pytest.fixture
async def gateway(auth, store, backends):
    async with gateway_client(auth, store, backends.upstreams(), backends.bus_url) as client:
        yield client


@pytest.fixture
async def people(auth) -> dict[str, Someone]:
    return {"alice": await make_user(auth, "alice", {TEAM_A: Role.EDITOR}),
            "bob": await make_user(auth, "bob", {TEAM_B: Role.ADMIN}),
            "root": await make_user(auth, "root", admin=True)}


async def _commit(gateway, token: str, tmp_path: Path, project: str, name: str) -> dict:
    """A dataset with one commit, made by the SDK through the gateway with ``token``."""
    data = tmp_path / f"data-{project}-{name}"
    (data / "train").mkdir(parents=True)
    for i in range(3):
        (data / "train" / f"{i}.bin").write_bytes(os.urandom(2048))
    settings = ClientSettings(api_url=str(gateway.make_url("")).rstrip("/"), token=token,
                              cache_dir=tmp_path / f"client-{project}", home=tmp_path / "no-home")
    async with CatalogClient(settings) as lakecache:
        await lakecache.create_dataset(project, name)
        return (await sync_directory(lakecache, DatasetRef(project, name), data, message="first")).commit


async def _json(gateway, method: str, path: str, who: Someone | None, **options) -> tuple[int, object]:
    headers = who.header if who else {}
    async with gateway.request(method, path, headers=headers, **options) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


async def _events(gateway, url: str, who: Someone) -> list[dict]:
    """Every status message of a live-progress stream, until the gateway ends it."""
    statuses = []
    async with gateway.get(url, headers=who.header) as response:
        assert response.status == 200 and response.content_type == "text/event-stream"
        async for line in response.content:
            if line.startswith(b"data: "):
                statuses.append(json.loads(line[len(b"data: "):]))
    return statuses


async def _ready_copy(gateway, who: Someone, tmp_path: Path, project: str = TEAM_A) -> tuple[dict, dict]:
    commit = await _commit(gateway, who.token, tmp_path, project, "cats")
    status, accepted = await _json(gateway, "POST", "/api/v1/caches", who,
                                   json={"project": project, "dataset": "cats", "site": SITE})
    assert status == 202, accepted
    statuses = await asyncio.wait_for(_events(gateway, accepted["events_url"], who), 60)
    assert statuses[-1]["state"] == "ready", statuses
    return commit, accepted


async def test_a_cache_request_answers_202_and_its_live_progress_ends_ready(gateway, people, tmp_path, backends):
    alice = people["alice"]
    commit = await _commit(gateway, alice.token, tmp_path, TEAM_A, "cats")
    async with gateway.post("/api/v1/caches", headers=alice.header,
                            json={"project": TEAM_A, "dataset": "cats", "ref": "latest", "site": SITE}) as response:
        assert response.status == 202
        accepted = await response.json()
        assert response.headers["Location"] == accepted["status_url"] == f"/api/v1/sites/{SITE}/copies/{commit['id']}"
    assert accepted["status"]["state"] in ("requested", "filling", "ready")
    assert accepted["status"]["project"] == TEAM_A and accepted["status"]["requested_by"] == "user:alice"

    statuses = await asyncio.wait_for(_events(gateway, accepted["events_url"], alice), 60)
    assert statuses[-1]["state"] == "ready"  # and the stream ended there
    assert [s["state"] for s in statuses].count("ready") == 1

    status, copy = await _json(gateway, "GET", accepted["status_url"], alice)
    assert status == 200 and copy["state"] == "ready"
    [volume] = copy["volumes"]
    assert volume["files_done"] == volume["files_total"] == 3 and volume["bytes_done"] == 3 * 2048
    assert sorted(p.name for p in (Path(volume["path"]) / "train").iterdir()) == ["0.bin", "1.bin", "2.bin"]

    status, listed = await _json(gateway, "GET", f"/api/v1/projects/{TEAM_A}/copies", alice, params={"site": SITE})
    assert status == 200 and [(c["commit_id"], c["state"]) for c in listed["items"]] == [(commit["id"], "ready")]
    status, sites = await _json(gateway, "GET", "/api/v1/sites", people["bob"])  # any signed-in user
    [reported] = sites["items"]
    assert (reported["site"], reported["volume"]) == (SITE, "nfs1") and reported["capacity_bytes"] > 0
    assert reported["used_bytes"] > 0

    async with gateway.get("/metrics", headers=people["root"].header) as response:
        metrics = await response.text()
    # The SDK's sync, the ref lookup and the site check went to the backends; the status did not.
    assert 'lakecache_gateway_upstream_seconds_count{outcome="2xx",service="catalog"}' in metrics
    assert 'lakecache_gateway_upstream_seconds_count{outcome="2xx",service="cacher"} 1.0' in metrics

    status, problem = await _json(gateway, "POST", "/api/v1/caches", alice,
                                  json={"project": TEAM_A, "dataset": "cats", "site": SITE, "volume": "nfs9"})
    assert status == 404 and "has no volume 'nfs9'; its volumes are nfs1" in problem["detail"]


async def test_team_b_can_neither_read_nor_change_team_a_data_through_the_gateway(gateway, people, tmp_path, auth):
    alice, bob = people["alice"], people["bob"]
    commit, accepted = await _ready_copy(gateway, alice, tmp_path)
    copy = accepted["status_url"]
    attempts = [
        ("GET", "/api/v1/datasets/vision/cats", {}),
        ("GET", "/api/v1/datasets", {"params": {"project": TEAM_A}}),
        ("GET", f"/api/v1/datasets/vision/cats/refs/{commit['id']}/entries", {}),
        ("PATCH", "/api/v1/datasets/vision/cats", {"json": {"description": "mine now"}}),
        ("DELETE", "/api/v1/datasets/vision/cats", {}),
        ("POST", "/api/v1/caches", {"json": {"project": TEAM_A, "dataset": "cats", "site": SITE}}),
        ("GET", copy, {}),
        ("GET", copy + "/events", {}),
        ("GET", copy + "/eviction", {}),
        ("DELETE", copy, {}),
        ("POST", copy + "/leases", {"json": {"holder": "bob-job"}}),
        ("PUT", copy + "/pin", {}),
        ("GET", f"/api/v1/sites/{SITE}/copies", {"params": {"project": TEAM_A}}),
        ("GET", f"/api/v1/projects/{TEAM_A}/copies", {}),
        # Dot segments do not move a request into another project's path unchecked.
        ("GET", "/api/v1/datasets/speech/../vision/cats", {}),
    ]
    for method, path, options in attempts:
        request_id = uuid.uuid4().hex
        async with gateway.request(method, URL(path, encoded=True),
                                   headers={**bob.header, "X-Request-Id": request_id}, **options) as response:
            assert response.status == 403, (method, path, response.status, await response.text())
        [record] = [r for r in await audit_records(auth, outcome="denied") if r["request_id"] == request_id]
        assert record["actor"] == "user:bob"

    # Encoded dot segments are no path of the API at all.
    status, problem = await _json(gateway, "GET", URL("/api/v1/datasets/speech/%2e%2e/vision/cats", encoded=True), bob)
    assert status == 404 and problem["type"] == "urn:lakecache:problem:http-404"

    # Naming its own project does not reach team A's objects either.
    status, problem = await _json(gateway, "POST", "/api/v1/caches", bob,
                                  json={"project": TEAM_B, "dataset": "cats", "site": SITE})
    assert status == 404, problem
    status, page = await _json(gateway, "GET", f"/api/v1/sites/{SITE}/copies", bob, params={"project": TEAM_B})
    assert status == 200 and page["items"] == []
    status, page = await _json(gateway, "GET", f"/api/v1/projects/{TEAM_B}/copies", bob)
    assert status == 200 and page["items"] == []

    # Nothing changed for team A.
    status, dataset = await _json(gateway, "GET", "/api/v1/datasets/vision/cats", alice)
    assert status == 200 and dataset.get("description") in (None, "")
    status, copy_now = await _json(gateway, "GET", copy, alice)
    assert status == 200 and copy_now["state"] == "ready" and not copy_now["volumes"][0]["pinned"]


async def test_a_forged_command_in_another_teams_name_is_refused_and_leaves_team_a_untouched(
        gateway, people, tmp_path, backends):
    alice, bob = people["alice"], people["bob"]
    commit, accepted = await _ready_copy(gateway, alice, tmp_path)
    before = await _json(gateway, "GET", accepted["status_url"], alice)

    # Team B writes to the bus directly, naming its own project and team A's manifest.
    failures: list[dict] = []

    async def watch(message) -> None:
        if message.header("ce_type") == b"lakecache.cache.failed":
            failures.append(json.loads(message.value))

    cacher = backends.cacher.resources
    await cacher.bus.subscribe(["lakecache.cache.events"], group=f"watch-{uuid.uuid4().hex[:6]}", handler=watch)
    await EventPublisher(cacher.bus, "forger").emit(CacheRequested(
        request_id=uuid.uuid4().hex, project=TEAM_B, dataset_id=commit["dataset_id"], dataset="cats",
        commit_id=commit["id"], site=SITE, requester="user:bob", manifest_url=commit["manifest_url"]))
    await eventually(lambda: bool(failures), message="the cacher to refuse the forged command")
    assert failures[0]["project"] == TEAM_B and "refusing the command" in failures[0]["reason"]
    assert failures[0]["retryable"] is False

    status, page = await _json(gateway, "GET", f"/api/v1/sites/{SITE}/copies", bob, params={"project": TEAM_B})
    assert status == 200 and page["items"] == []
    await asyncio.sleep(0.5)  # let the gateway's read model consume the refusal too
    assert await _json(gateway, "GET", accepted["status_url"], alice) == before
    assert (await _json(gateway, "GET", accepted["status_url"], bob))[0] == 403


async def test_a_manual_eviction_waits_for_no_lease_and_a_revoked_token_fails_at_once(
        gateway, people, tmp_path, auth):
    alice = people["alice"]
    _, accepted = await _ready_copy(gateway, alice, tmp_path)
    copy = accepted["status_url"]
    status, lease = await _json(gateway, "POST", copy + "/leases", alice, json={"holder": "train-job"})
    assert status == 201, lease

    status, asked = await _json(gateway, "DELETE", copy, alice)
    assert status == 202 and asked["volume"] == "nfs1"
    await asyncio.sleep(0.5)
    assert (await _json(gateway, "GET", copy, alice))[1]["state"] == "ready"  # the lease protected it

    assert (await _json(gateway, "DELETE", f"{copy}/leases/{lease['id']}", alice))[0] == 204

    async def unleased() -> bool:  # the evictor decides on what it has seen: let it see the release
        return (await _json(gateway, "GET", copy + "/eviction", alice))[1]["live_leases"] == []

    await eventually(unleased, message="the evictor to see the release")
    assert (await _json(gateway, "DELETE", copy, alice))[0] == 202

    async def evicted() -> bool:
        return (await _json(gateway, "GET", copy, alice))[1]["state"] == "evicted"

    await eventually(evicted, message="the copy to be evicted once the lease is gone")
    status, problem = await _json(gateway, "DELETE", copy, alice)
    assert status == 409 and "not ready on any volume" in problem["detail"]
    [volume] = (await _json(gateway, "GET", copy, alice))[1]["volumes"]
    assert volume["path"] is None and volume["files_done"] is None  # no stale progress on an evicted copy

    [token] = await auth.tokens.find_list({"user_id": alice.id})
    await revoke_token(auth, token["_id"], Actor.system())
    assert (await _json(gateway, "GET", "/api/v1/datasets/vision/cats", alice))[0] == 401


async def test_a_backend_that_is_down_answers_503_naming_it(api, auth):
    root = await make_user(auth, "root", admin=True)
    async with api.get("/api/v1/datasets/vision/cats", headers=root.header) as response:
        problem = await response.json()
        assert response.status == 503 and problem["type"] == "urn:lakecache:problem:unavailable"
        assert "did not answer GET /api/v1/datasets/vision/cats" in problem["detail"]
    async with api.get("/metrics", headers=root.header) as response:
        assert 'lakecache_gateway_upstream_seconds_count{outcome="unavailable",service="catalog"} 1.0' in (
            await response.text())


async def test_a_job_leases_its_projects_copy_with_its_token_and_the_lease_outlives_its_ttl(
        gateway, people, tmp_path, auth, clock):
    alice, bob = people["alice"], people["bob"]
    _, accepted = await _ready_copy(gateway, alice, tmp_path)
    status, issued = await _json(gateway, "POST", f"/api/v1/projects/{TEAM_A}/runs/run-7/job-tokens", alice,
                                 json={"expires_at": (clock() + timedelta(hours=2)).isoformat()})
    assert status == 201, issued
    base = str(gateway.make_url("")).rstrip("/")
    job = ClientSettings(api_url=base, token=issued["token"], home=tmp_path / "no-home")
    commit_id = accepted["status"]["commit_id"]

    async with CopyLease(SITE, commit_id, settings=job, ttl_seconds=2) as copy:
        assert sorted(p.name for p in (copy.path / "train").iterdir()) == ["0.bin", "1.bin", "2.bin"]
        await asyncio.sleep(3)  # past the lease's own time to live: only the renewals keep it
        status, why = await _json(gateway, "GET", accepted["status_url"] + "/eviction", alice)
        assert [lease["holder"] for lease in why["live_leases"]] == ["run:run-7"], why
        assert (await _json(gateway, "DELETE", accepted["status_url"], alice))[0] == 202
        await asyncio.sleep(0.5)
        assert (await _json(gateway, "GET", accepted["status_url"], alice))[1]["state"] == "ready"
    status, why = await _json(gateway, "GET", accepted["status_url"] + "/eviction", alice)
    assert why["live_leases"] == []  # released on exit

    # The same job token cannot lease another project's copy.
    _, speech = await _ready_copy(gateway, bob, tmp_path, project=TEAM_B)
    with pytest.raises(CatalogError) as refused:
        async with CopyLease(SITE, speech["status"]["commit_id"], settings=job):
            pass
    assert refused.value.status == 403
