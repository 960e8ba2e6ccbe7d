"""Class 1 of issue 11: internal services trusted any caller.

A local process with no token (and another OS user, ``nobody``) calls the catalog, the cacher,
the evictor and the tracker on their own ports, with a forged ``X-LakeCache-User`` or the
administrator's *gateway* token, and replays every attack of the issue: list every project's
datasets and entries, commit into another project's dataset, move a tag, register volumes at
``/etc`` and ``/``, lease and pin another project's copy for a week, set a 1-second dataset TTL,
read ``/metrics``. Speech's editor tries the same through the gateway. Every attempt answers
401 (403 at the gateway), and vision's data, tags, volumes, copy and TTL are as they were. The
embedded bus offers no port at all (with Kafka, its ACLs are the deployment's: docs/security.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import pytest_asyncio

from tests.security.actors import ATTACKER, PROBLEM, VICTIM, Scene, leaks
from tests.security.conftest import SITE
from tests.security.local_users import as_other_os_user

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLANS = b"vision's unreleased labelling plan, version 7 " * 77
WEEK = 7 * 24 * 3600


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cats(world: Scene) -> dict:
    """vision/cats: tag v1 on its first commit, the head cached and ready."""
    ada = world["ada"]
    first = await world.synced(ada, VICTIM, "cats", {"plans.txt": PLANS})
    await world.ok(ada, "PUT", "/api/v1/datasets/vision/cats/tags/v1", json_body={"ref": first["id"]})
    head = await world.synced(ada, VICTIM, "cats", {"plans.txt": PLANS, "more.txt": b"more"}, create=False)
    copy = await world.cached(ada, VICTIM, "cats")
    return {"first": first, "head": head, "copy": copy}


FORGED = ({"X-LakeCache-User": "ada"}, {"X-LakeCache-User": "user:admin"})


async def attack(world: Scene, service: str, method: str, path: str, body=None, *,
                 ndjson: bytes | None = None) -> list[tuple[str, int, str]]:
    """``method path`` at ``service``'s port: bare, with each forged header, with the
    administrator's gateway token, and as another OS user. (who, status, answer) of each."""
    answers = []
    admin_token = {"Authorization": f"Bearer {world['admin'].token}"}
    content = {"Content-Type": "application/x-ndjson"} if ndjson is not None else {}
    for who, headers in [("bare", {}), *((f"forged {h}", h) for h in FORGED), ("gateway token", admin_token)]:
        answer = await world.bare(service, method, path, json_body=body if ndjson is None else None, data=ndjson,
                                  headers={**headers, **content})
        assert answer.content_type == PROBLEM, (who, answer.text)
        answers.append((who, answer.status, answer.text))
    if ndjson is None:
        [(status, text)] = await as_other_os_user([(method, world.url_of(service) + path, {}, body)])
        answers.append(("another OS user", status, text))
    return answers


def refused_everywhere(answers: list[tuple[str, int, str]]) -> None:
    wrong = [(who, status) for who, status, _ in answers if status != 401]
    assert wrong == [], f"accepted without a credential: {wrong}"
    assert all(json.loads(text)["type"] == "urn:lakecache:problem:unauthenticated" for _, _, text in answers)


async def test_no_token_lists_no_projects_datasets_commits_entries_or_tags(world, cats):
    head = cats["head"]["id"]
    reads = ["/api/v1/datasets?project=vision", "/api/v1/datasets/vision/cats", "/api/v1/datasets/vision/cats/commits",
             f"/api/v1/datasets/vision/cats/refs/{head}/entries", "/api/v1/datasets/vision/cats/tags",
             f"/api/v1/dataset-ids/{cats['head']['dataset_id']}", "/api/v1/projects/vision/import-locations"]
    for path in reads:
        answers = await attack(world, "catalog", "GET", path)
        refused_everywhere(answers)
        for who, _, text in answers:
            said = {k: v for k, v in json.loads(text).items() if k != "instance"}  # the path the attacker sent
            assert leaks(json.dumps(said), PLANS) == [] and "plans.txt" not in text and head not in str(said), who


async def test_a_forged_user_header_commits_nothing_into_another_projects_dataset(world, cats):
    ada = world["ada"]
    before = await world.ok(ada, "GET", "/api/v1/datasets/vision/cats")
    body = (json.dumps({"message": "pwned", "parents": None}) + "\n"
            + json.dumps({"path": "backdoor.py", "size": 4, "sha256": "0" * 64}) + "\n").encode()
    refused_everywhere(await attack(world, "catalog", "POST", "/api/v1/datasets/vision/cats/commits", ndjson=body))
    through_gateway = await world.call(world["bob"], "POST", "/api/v1/datasets/vision/cats/commits", data=body,
                                       headers={"Content-Type": "application/x-ndjson"})
    assert through_gateway.status == 403 and through_gateway.problem_type == "forbidden"

    after = await world.ok(ada, "GET", "/api/v1/datasets/vision/cats")
    assert after["head"] == before["head"] == cats["head"]["id"]
    log = await world.ok(ada, "GET", "/api/v1/datasets/vision/cats/commits")
    assert [c["message"] for c in log["items"]] == ["sync", "sync"]


async def test_tags_cannot_be_moved_without_the_gateway(world, cats):
    ada, moved = world["ada"], {"ref": cats["head"]["id"], "force": True}
    refused_everywhere(await attack(world, "catalog", "PUT", "/api/v1/datasets/vision/cats/tags/v1", moved))
    refused_everywhere(await attack(world, "catalog", "PUT", "/api/v1/datasets/vision/cats/tags/prod", moved))
    through_gateway = await world.call(world["bob"], "PUT", "/api/v1/datasets/vision/cats/tags/v1", json_body=moved)
    assert through_gateway.status == 403

    tags = await world.ok(ada, "GET", "/api/v1/datasets/vision/cats/tags")
    assert [(t["name"], t["commit"], t["moved_by"]) for t in tags["items"]] == [
        ("v1", cats["first"]["id"], "user:ada")]


async def volumes(world: Scene) -> list[tuple[str, str, str | None]]:
    page = await world.ok(world["admin"], "GET", f"/api/v1/sites/{SITE}/volumes")
    return [(v["name"], v["path"], v["refused"]) for v in page["items"]]


@pytest.mark.parametrize("path", ["/etc", "/"])
async def test_no_volume_is_registered_at_a_system_path_without_the_gateway(world, cats, path):
    before = await volumes(world)
    volume = {"name": "grab", "path": path}
    refused_everywhere(await attack(world, "cacher", "POST", f"/api/v1/sites/{SITE}/volumes", volume))
    # An editor through the gateway: registering volumes is an installation administrator's.
    refused = await world.call(world["bob"], "POST", f"/api/v1/sites/{SITE}/volumes", json_body=volume)
    assert refused.status == 403 and refused.problem_type == "forbidden"

    assert await volumes(world) == before == [("nfs1", str(world.stack.volume), None)]
    # Nothing was asked to fill there either: the cacher never made its directory in it.
    assert not (Path(path) / ".lakecache").exists()


async def test_another_projects_copy_cannot_be_leased_or_pinned_for_a_week(world, cats):
    ada, bob, commit = world["ada"], world["bob"], cats["head"]["id"]
    before = await world.cacher_copy(ada, VICTIM, commit)
    copy = world.copy_path(VICTIM, commit)
    lease = {"holder": "squatter", "ttl_seconds": WEEK}
    refused_everywhere(await attack(world, "cacher", "POST", copy + "/leases", lease))
    refused_everywhere(await attack(world, "cacher", "PUT", copy + "/pin"))
    for method, path, body in [("POST", copy + "/leases", lease), ("PUT", copy + "/pin", None)]:
        answer = await world.call(bob, method, path, json_body=body)
        assert answer.status == 403 and answer.problem_type == "forbidden", (path, answer.body)
    # Speech's own path does not reach vision's copy either.
    theirs = await world.call(bob, "POST", world.copy_path(ATTACKER, commit) + "/leases", json_body=lease)
    assert theirs.status == 404, theirs.body

    after = await world.cacher_copy(ada, VICTIM, commit)
    assert (after["leased_until"], after["pinned"], after["generation"]) == (None, False, before["generation"])
    explained = await world.ok(ada, "GET", copy + "/eviction")
    assert explained["live_leases"] == [] and explained["pinned"] is False


async def test_a_one_second_dataset_ttl_cannot_be_set_and_the_copy_stays(world, cats):
    ada, commit = world["ada"], cats["head"]["id"]
    one_second = {"scope": "dataset", "target": cats["head"]["dataset_id"], "ttl_seconds": 1}
    refused_everywhere(await attack(world, "evictor", "PUT", f"/api/v1/sites/{SITE}/ttl", one_second))
    refused = await world.call(world["bob"], "PUT", f"/api/v1/sites/{SITE}/ttl", json_body=one_second)
    assert refused.status == 403 and refused.problem_type == "forbidden"
    refused = await world.call(ada, "PUT", f"/api/v1/sites/{SITE}/ttl", json_body=one_second)
    assert refused.status == 403, "even the dataset's own editor may not change the site's TTLs"

    await world.settled()  # whatever those requests had put on the bus has been applied by now
    explained = await world.ok(ada, "GET", world.copy_path(VICTIM, commit) + "/eviction")
    assert (explained["ttl_seconds"], explained["ttl_source"], explained["state"]) == (86400, "default", "ready")
    status = await world.ok(ada, "GET", world.copy_path(VICTIM, commit))
    assert status["state"] == "ready" and os.path.isdir(status["volumes"][0]["path"])


@pytest.mark.parametrize("service", ["catalog", "cacher", "evictor", "tracker"])
async def test_internal_metrics_tell_nothing_without_the_metrics_token(world, cats, service):
    answers = await attack(world, service, "GET", "/metrics")
    refused_everywhere(answers)
    assert not any("lakecache_" in text or "# HELP" in text for _, _, text in answers)


def listening_ports() -> set[int]:
    """The TCP ports this process listens on (read from /proc: what another OS user could reach)."""
    mine = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[len("socket:["):-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in mine:  # LISTEN, one of this process's sockets
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


async def test_the_embedded_bus_offers_no_port_besides_the_services_http_ports(world, cats):
    # lakecache up's bus lives in the process: another OS user can only reach the five HTTP ports,
    # and every one of them refuses it (above, and tests/security/test_other_os_user.py).
    assert listening_ports() == {running.port for running in world.stack.services.values()}
