"""Class 4 of issue 11: copies were keyed by commit id only.

Identical trees (and empty commits) give identical commit ids in every project. Speech's
editor syncs the very tree vision cached, leased and pinned, asks for it at the same site, and
then does with "its" copy what the issue's attacker did: read, lease and evict. Vision's copy
stays vision's: its users still read, lease and keep it; speech's eviction removes only
speech's copy; and speech never sees vision's path, lease or pin.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from tests.security.actors import ATTACKER, VICTIM, Person, Scene
from tests.security.conftest import SITE

pytestmark = pytest.mark.asyncio(loop_scope="module")

TREE = {"train/0.bin": os.urandom(4096), "train/1.bin": os.urandom(4096), "labels.csv": b"id,label\n0,cat\n1,cat\n"}


def files_in(path: str) -> dict[str, bytes]:
    root = Path(path)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def evicted(world: Scene, who, status_url: str) -> None:
    assert (await world.call(who, "DELETE", status_url)).status == 202
    await world.settled_copy(who, status_url, until=("evicted",))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def held(world: Scene) -> dict:
    """vision/cats cached, leased by a training job for an hour and pinned by vision's admin."""
    ada = world["ada"]
    commit = await world.synced(ada, VICTIM, "cats", TREE)
    status = await world.cached(ada, VICTIM, "cats")
    url = world.copy_path(VICTIM, commit["id"])
    lease = await world.ok(ada, "POST", url + "/leases", json_body={"holder": "train-job", "ttl_seconds": 3600})
    await world.ok(world["vera"], "PUT", url + "/pin")
    return {"commit": commit, "url": url, "path": status["volumes"][0]["path"], "lease": lease}


async def assert_vision_copy_intact(world: Scene, held: dict) -> None:
    ada = world["ada"]
    status = await world.ok(ada, "GET", held["url"])
    assert (status["project"], status["state"], status["requested_by"]) == (VICTIM, "ready", "user:ada")
    assert [(v["path"], v["pinned"]) for v in status["volumes"]] == [(held["path"], True)]
    at_cacher = await world.cacher_copy(ada, VICTIM, held["commit"]["id"])
    assert at_cacher["state"] == "ready" and at_cacher["pinned"] and at_cacher["leased_until"] is not None
    assert files_in(held["path"]) == TREE


async def test_speech_caching_the_same_tree_gets_its_own_copy_and_takes_nothing_from_vision(world, held):
    ada, bob = world["ada"], world["bob"]
    theirs = await world.synced(bob, ATTACKER, "cats", TREE)
    assert theirs["id"] == held["commit"]["id"]
    status = await world.cached(bob, ATTACKER, "cats")
    speech_url = world.copy_path(ATTACKER, theirs["id"])
    assert status["project"] == ATTACKER and status["requested_by"] == "user:bob"
    [mine] = status["volumes"]
    assert mine["path"] != held["path"] and not mine["pinned"] and files_in(mine["path"]) == TREE
    assert held["path"] not in str(await world.ok(bob, "GET", f"/api/v1/sites/{SITE}/copies",
                                                  params={"project": ATTACKER}))
    explained = await world.ok(bob, "GET", speech_url + "/eviction")
    assert explained["live_leases"] == [] and explained["pinned"] is False  # vision's lease and pin are vision's

    # Vision's users still read and lease their own copy (the issue: 403 on their own copy).
    await assert_vision_copy_intact(world, held)
    lease = await world.call(ada, "POST", held["url"] + "/leases", json_body={"holder": "eval-job"})
    assert lease.status == 201, lease.body
    await world.ok(ada, "DELETE", f"{held['url']}/leases/{lease.body['id']}")

    # Speech can do nothing to vision's copy.
    for method, path, body in [("GET", held["url"], None), ("GET", held["url"] + "/events", None),
                               ("GET", held["url"] + "/eviction", None),
                               ("POST", held["url"] + "/leases", {"holder": "bob-job"}),
                               ("PUT", f"{held['url']}/leases/{held['lease']['id']}", {}),
                               ("DELETE", f"{held['url']}/leases/{held['lease']['id']}", None),
                               ("DELETE", held["url"] + "/pin", None), ("DELETE", held["url"], None)]:
        answer = await world.call(bob, method, path, json_body=body)
        assert answer.status == 403 and answer.problem_type == "forbidden", (method, path, answer.status)
    # Vision's lease id through speech's own copy reaches nothing either.
    answer = await world.call(bob, "DELETE", f"{speech_url}/leases/{held['lease']['id']}")
    assert answer.status == 404, answer.body
    # Nor does a training job of speech's (its job token).
    run_id = await world.run(bob, "speech")
    issued = await world.ok(bob, "POST", f"/api/v1/projects/speech/runs/{run_id}/job-tokens",
                            json_body={"expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    job = Person("run-7", issued["token"])
    for method, path, body in [("GET", held["url"], None), ("POST", held["url"] + "/leases", {"holder": "run-7"})]:
        answer = await world.call(job, method, path, json_body=body)
        assert answer.status == 403, (method, path, answer.status)
    own = await world.ok(job, "POST", speech_url + "/leases", json_body={"holder": "run-7"})
    assert (await world.call(job, "DELETE", f"{speech_url}/leases/{own['id']}")).status == 204

    # Speech evicts its copy: vision's stays ready, leased, pinned, with every file.
    await evicted(world, bob, speech_url)
    await world.settled()
    await assert_vision_copy_intact(world, held)
    assert not Path(mine["path"]).exists()


async def test_empty_commits_of_two_projects_are_two_copies(world, held):
    ada, bob = world["ada"], world["bob"]
    ids = []
    for who, project in ((ada, VICTIM), (bob, ATTACKER)):
        await world.ok(who, "POST", "/api/v1/datasets", json_body={"project": project, "name": "empty"})
        made = await world.commit_entries(who, project, "empty", [], allow_empty=True)
        assert made.status == 201, made.body
        ids.append(made.body["commit"]["id"])
    assert ids[0] == ids[1]
    vision = await world.cached(ada, VICTIM, "empty")
    await world.cached(bob, ATTACKER, "empty")

    await evicted(world, bob, world.copy_path(ATTACKER, ids[1]))
    await world.settled()
    still = await world.ok(ada, "GET", world.copy_path(VICTIM, ids[0]))
    assert still["state"] == "ready" and still["volumes"][0]["path"] == vision["volumes"][0]["path"]
    assert os.path.isdir(still["volumes"][0]["path"])
    assert (await world.call(bob, "GET", world.copy_path(VICTIM, ids[0]))).status == 403
