"""What another team can and cannot do, through the gateway and on the bus, with the real
catalog, cacher and evictor behind it.

A copy is one project's: speech syncing the very tree vision synced (so the same commit id) and
asking for it gets a copy of its own, and vision's copy keeps its readers, leases, pin and
state whatever speech does with its own. A command written to the bus in another team's name
needs the catalog's source grant, which only a caller of that project can get.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from yarl import URL

from lakecache.core.contracts.cache import CacheRequested
from lakecache.core.identity import SigningKey
from lakecache.core.identity.grants import SourceGrant, mint_grant
from lakecache.core.identity.keys import key_id
from lakecache.core.publishing import EventPublisher
from tests.gateway.calls import cache, call_json, commit_tree, ready_copy, tree
from tests.gateway.conftest import TEAM_A, TEAM_B, audit_records
from tests.gateway.stack import SITE
from tests.support.identity import source_grant
from tests.support.waiting import eventually


async def test_team_b_can_neither_read_nor_change_team_a_data_through_the_gateway(gateway, people, tmp_path, auth):
    alice, bob = people["alice"], people["bob"]
    commit, accepted = await ready_copy(gateway, alice, tmp_path, TEAM_A)
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
        ("GET", f"/api/v1/projects/speech/../vision/sites/{SITE}/copies/{commit['id']}", {}),
    ]
    for method, path, options in attempts:
        request_id = uuid.uuid4().hex
        async with gateway.request(method, URL(path, encoded=True),
                                   headers={**bob.header, "X-Request-Id": request_id}, **options) as response:
            assert response.status == 403, (method, path, response.status, await response.text())
        [record] = [r for r in await audit_records(auth, outcome="denied") if r["request_id"] == request_id]
        assert record["actor"] == "user:bob"

    # Encoded dot segments are no path of the API at all.
    status, problem = await call_json(gateway, "GET", URL("/api/v1/datasets/speech/%2e%2e/vision/cats",
                                                          encoded=True), bob)
    assert status == 404 and problem["type"] == "urn:lakecache:problem:http-404"

    # Naming its own project reaches none of team A's objects either.
    status, problem = await call_json(gateway, "POST", "/api/v1/caches", bob,
                                      json={"project": TEAM_B, "dataset": "cats", "site": SITE})
    assert status == 404, problem
    status, problem = await call_json(gateway, "GET", f"/api/v1/projects/{TEAM_B}/sites/{SITE}/copies/{commit['id']}",
                                      bob)
    assert status == 404 and "project 'speech' has no copy" in problem["detail"]
    status, page = await call_json(gateway, "GET", f"/api/v1/sites/{SITE}/copies", bob, params={"project": TEAM_B})
    assert status == 200 and page["items"] == []
    status, page = await call_json(gateway, "GET", f"/api/v1/projects/{TEAM_B}/copies", bob)
    assert status == 200 and page["items"] == []

    # Nothing changed for team A.
    status, dataset = await call_json(gateway, "GET", "/api/v1/datasets/vision/cats", alice)
    assert status == 200 and dataset.get("description") in (None, "")
    status, copy_now = await call_json(gateway, "GET", copy, alice)
    assert status == 200 and copy_now["state"] == "ready" and not copy_now["volumes"][0]["pinned"]


async def _cacher_copy(gateway, who, project: str) -> dict:
    """The cacher's own record of the project's one copy at the site (leases and pin included)."""
    status, page = await call_json(gateway, "GET", f"/api/v1/sites/{SITE}/copies", who, params={"project": project})
    assert status == 200, page
    [copy] = page["items"]
    return copy


async def test_another_project_caching_the_same_tree_gets_its_own_copy_and_the_first_stays_as_it_was(
        gateway, people, tmp_path):
    alice, bob, root = people["alice"], people["bob"], people["root"]
    data = tree(tmp_path)
    vision_commit = await commit_tree(gateway, alice, tmp_path, TEAM_A, "cats", data)
    vision = (await cache(gateway, alice, TEAM_A))["status_url"]
    status, lease = await call_json(gateway, "POST", vision + "/leases", alice,
                                    json={"holder": "train-job", "ttl_seconds": 3600})
    assert status == 201, lease
    assert (await call_json(gateway, "PUT", vision + "/pin", root))[0] == 200
    _, before = await call_json(gateway, "GET", vision, alice)
    [held] = before["volumes"]
    assert held["state"] == "ready" and held["pinned"]

    # Speech syncs the very same tree: identical trees give identical commit ids in any project.
    speech_commit = await commit_tree(gateway, bob, tmp_path, TEAM_B, "cats", data)
    assert speech_commit["id"] == vision_commit["id"]
    speech = (await cache(gateway, bob, TEAM_B))["status_url"]
    assert speech == f"/api/v1/projects/{TEAM_B}/sites/{SITE}/copies/{speech_commit['id']}" != vision
    status, theirs = await call_json(gateway, "GET", speech, bob)
    assert status == 200 and theirs["project"] == TEAM_B and theirs["requested_by"] == "user:bob"
    assert not theirs["volumes"][0]["pinned"]  # vision's pin is vision's
    their_path = Path(theirs["volumes"][0]["path"])
    assert sorted(p.name for p in (their_path / "train").iterdir()) == ["0.bin", "1.bin", "2.bin"]

    # Vision's copy is still vision's: same reader, path, pin and lease.
    status, after = await call_json(gateway, "GET", vision, alice)
    assert status == 200 and (after["project"], after["requested_by"], after["state"]) == (TEAM_A, "user:alice",
                                                                                        "ready")
    assert [(v["volume"], v["path"], v["pinned"]) for v in after["volumes"]] == [
        (held["volume"], held["path"], True)]
    at_cacher = await _cacher_copy(gateway, alice, TEAM_A)
    assert at_cacher["pinned"] and at_cacher["leased_until"] is not None and at_cacher["state"] == "ready"
    assert (await _cacher_copy(gateway, bob, TEAM_B))["leased_until"] is None
    status, renewed = await call_json(gateway, "PUT", f"{vision}/leases/{lease['id']}", alice, json={})
    assert status == 200 and renewed["id"] == lease["id"]

    # Speech can do nothing to vision's copy, and vision nothing to speech's.
    for method, path, body in [("GET", vision, None), ("POST", vision + "/leases", {}), ("PUT", vision + "/pin", None),
                               ("DELETE", vision, None), ("DELETE", f"{vision}/leases/{lease['id']}", None),
                               ("GET", vision + "/eviction", None)]:
        assert (await call_json(gateway, method, path, bob, json=body))[0] == 403, (method, path)
    assert (await call_json(gateway, "GET", speech, alice))[0] == 403

    # Speech evicts its copy: vision's stays ready, leased, pinned and readable.
    assert (await call_json(gateway, "DELETE", speech, bob))[0] == 202

    async def evicted() -> bool:
        return (await call_json(gateway, "GET", speech, bob))[1]["state"] == "evicted"

    await eventually(evicted, message="speech's copy to be evicted")
    status, still = await call_json(gateway, "GET", vision, alice)
    assert status == 200 and still["state"] == "ready" and still["volumes"][0]["path"] == held["path"]
    assert sorted(p.name for p in (Path(held["path"]) / "train").iterdir()) == ["0.bin", "1.bin", "2.bin"]
    at_cacher = await _cacher_copy(gateway, alice, TEAM_A)
    assert at_cacher["state"] == "ready" and at_cacher["pinned"] and at_cacher["leased_until"] is not None


def _forged_grant(commit: dict, project: str) -> str:
    """A grant in the catalog's name, signed with a key the installation never trusted."""
    private = Ed25519PrivateKey.generate()
    grant = SourceGrant(project=project, dataset="cats", dataset_id=commit["dataset_id"], commit_id=commit["id"],
                        parents=[], location="file:///")
    return mint_grant(SigningKey("catalog", key_id(private.public_key()), private), grant, ttl_seconds=600)


async def test_forged_cache_commands_on_the_bus_are_refused_and_leave_team_a_untouched(
        gateway, people, tmp_path, backends):
    alice, bob = people["alice"], people["bob"]
    commit, accepted = await ready_copy(gateway, alice, tmp_path, TEAM_A)
    before = await call_json(gateway, "GET", accepted["status_url"], alice)
    status, dataset = await call_json(gateway, "GET", "/api/v1/datasets/vision/cats", alice)
    # Vision's real grant, as someone reading the bus could copy it, and a grant nobody trusted.
    stolen = source_grant(backends.home, project=TEAM_A, dataset="cats", dataset_id=commit["dataset_id"],
                          commit_id=commit["id"], location=dataset["lake_url"])
    forgeries = {"no grant": None, "a grant signed by an untrusted key": _forged_grant(commit, TEAM_B),
                 "vision's grant in speech's name": stolen}

    recorder = await backends.recorder()
    forger = EventPublisher(backends.bus, "forger")
    requests = {}
    for what, grant in forgeries.items():
        requests[what] = request_id = uuid.uuid4().hex
        await forger.emit(CacheRequested(
            request_id=request_id, project=TEAM_B, dataset_id=commit["dataset_id"], dataset="cats",
            commit_id=commit["id"], site=SITE, requester="user:bob", manifest_url=commit["manifest_url"],
            source_grant=grant))
    await backends.settled()  # the cacher refused them, and the gateway's read model saw the refusals

    failures = recorder.of("cache.failed", commit_id=commit["id"])
    assert len(failures) == len(forgeries), failures
    reasons = " | ".join(f["reason"] for f in failures)
    assert "carries no source grant" in reasons and "not valid" in reasons and "its grant is for vision" in reasons
    assert {(f["project"], f["retryable"]) for f in failures} == {(TEAM_B, False)}
    assert recorder.of("cache.ready", commit_id=commit["id"]) == []
    status, page = await call_json(gateway, "GET", f"/api/v1/sites/{SITE}/copies", bob, params={"project": TEAM_B})
    assert status == 200 and page["items"] == []
    assert await call_json(gateway, "GET", accepted["status_url"], alice) == before
    assert (await call_json(gateway, "GET", accepted["status_url"], bob))[0] == 403
