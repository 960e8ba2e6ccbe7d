"""Class 7 of issue 11 (low): every low item, replayed.

Deeply nested JSON on ``POST /datasets``, a 5,000-character volume path, a 50 MB body, a huge
TTL, ``/proc``, ``/``, nested paths and aliases as volumes, a file changing while the CLI
uploads it with ``--json``, a disabled user's tokens after re-enabling, a NUL in a ``run_id``,
and another OS user reading the embedded lake and stores. Each answers a 4xx problem document
(never a 500, never aiohttp's plain text, never a 202 that is dropped), and nothing changes.
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from lakecache.core.runtime.problems import MAX_JSON_DEPTH
from lakecache.evictor.policy import MAX_TTL_SECONDS
from tests.security.actors import ATTACKER, PROBLEM, VICTIM, Person, Scene, write_tree
from tests.security.conftest import SITE, VOLUME
from tests.security.local_users import NOBODY_UID, RacedCli, run_as_nobody
from tests.support.identity import assertion_headers, gateway_keys

pytestmark = pytest.mark.asyncio(loop_scope="module")

MB = 1024 * 1024
SECRET = b"vision's dataset, private to the service user " * 100


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cats(world: Scene) -> dict:
    """vision/cats cached and ready."""
    commit = await world.synced(world["ada"], VICTIM, "cats", {"plans.txt": SECRET})
    status = await world.cached(world["ada"], VICTIM, "cats")
    return {"commit": commit, "path": status["volumes"][0]["path"]}


def in_two_days() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_problem(answer, status: int, kind: str | None = None) -> None:
    assert answer.status == status and answer.content_type == PROBLEM, (answer.status, answer.text[:300])
    assert kind is None or answer.problem_type == kind, answer.body


async def datasets_of(world: Scene, project: str) -> list[str]:
    page = await world.ok(world["admin"], "GET", "/api/v1/datasets", params={"project": project})
    return [d["name"] for d in page["items"]]


async def volumes(world: Scene) -> list[tuple[str, str]]:
    page = await world.ok(world["admin"], "GET", f"/api/v1/sites/{SITE}/volumes")
    return [(v["name"], v["path"]) for v in page["items"]]


def signed_for(world: Scene, service: str, method: str, target: str, action: str) -> dict[str, str]:
    """What the gateway would send: for the service's own limits behind a gateway that let it through."""
    return assertion_headers(gateway_keys(world.stack.home), service, method, target, action=action, project=None)


async def test_deeply_nested_json_on_post_datasets_is_a_400_problem(world, cats):
    nested = b'{"project": "speech", "name": "deep", "tags": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    json_type = {"Content-Type": "application/json"}
    answer = await world.call(world["bob"], "POST", "/api/v1/datasets", data=nested, headers=json_type)
    is_problem(answer, 400, "invalid-request")
    assert f"nests deeper than {MAX_JSON_DEPTH} levels" in answer.body["detail"]
    is_problem(await world.bare("catalog", "POST", "/api/v1/datasets", data=nested, headers=json_type), 401)
    assert "deep" not in await datasets_of(world, ATTACKER)


async def test_a_50_mb_body_is_a_413_problem_declared_or_streamed(world, cats):
    body, json_type = b"{" + b" " * (50 * MB) + b"}", {"Content-Type": "application/json"}

    async def streamed():
        for _ in range(50):
            yield b" " * MB

    bob = world["bob"]
    is_problem(await world.call(bob, "POST", "/api/v1/datasets", data=body, headers=json_type), 413,
               "payload-too-large")
    is_problem(await world.call(bob, "POST", "/api/v1/datasets", data=streamed(), headers=json_type), 413,
               "payload-too-large")
    is_problem(await world.bare("catalog", "POST", "/api/v1/datasets", data=body, headers=json_type), 401)
    # The catalog's own limit holds too, whatever the gateway lets through.
    signed = signed_for(world, "catalog", "POST", "/api/v1/datasets", "datasets:write")
    is_problem(await world.bare("catalog", "POST", "/api/v1/datasets", data=body, headers={**json_type, **signed}),
               413, "payload-too-large")
    assert await datasets_of(world, ATTACKER) == []


async def test_a_5000_character_volume_path_is_a_400_problem(world, cats):
    before = await volumes(world)
    long_path = {"name": "nfs2", "path": "/" + "a" * 4999}
    is_problem(await world.call(world["admin"], "POST", f"/api/v1/sites/{SITE}/volumes", json_body=long_path), 400)
    target = f"/api/v1/sites/{SITE}/volumes"
    direct = await world.bare("cacher", "POST", target, json_body=long_path,
                              headers=signed_for(world, "cacher", "POST", target, "sites:write"))
    is_problem(direct, 400, "invalid-argument")
    assert await volumes(world) == before


async def test_a_huge_ttl_is_a_400_not_a_202_that_is_dropped(world, cats):
    admin, dataset_id = world["admin"], cats["commit"]["dataset_id"]
    for ttl in (10 ** 20, MAX_TTL_SECONDS + 1):
        answer = await world.call(admin, "PUT", f"/api/v1/sites/{SITE}/ttl",
                                  json_body={"scope": "dataset", "target": dataset_id, "ttl_seconds": ttl})
        is_problem(answer, 400)
    is_problem(await world.call(admin, "POST", f"/api/v1/sites/{SITE}/volumes",
                                json_body={"name": "nfs2", "path": str(world.root), "ttl_seconds": 10 ** 20}), 400)
    await world.settled()
    explain = world.copy_path(VICTIM, cats["commit"]["id"]) + "/eviction"
    assert (await world.ok(admin, "GET", explain))["ttl_source"] == "default"
    # The longest TTL allowed is applied, not dropped.
    await world.ok(admin, "PUT", f"/api/v1/sites/{SITE}/ttl",
                   json_body={"scope": "dataset", "target": dataset_id, "ttl_seconds": MAX_TTL_SECONDS})
    await world.settled()
    explained = await world.ok(admin, "GET", explain)
    assert (explained["ttl_source"], explained["ttl_seconds"]) == ("dataset", MAX_TTL_SECONDS)


async def test_system_paths_nested_paths_and_aliases_are_not_volumes(world, cats):
    volume, before = world.stack.volume, await volumes(world)
    (volume / "inner").mkdir(exist_ok=True)
    for path in ["/proc", "/", "/etc", "/tmp", "/usr/lib", "/proc/self/root", str(volume / "inner"), str(world.root),
                 f"{volume}/../{VOLUME}", str(world.stack.home), str(world.stack.home / "lake")]:
        answer = await world.call(world["admin"], "POST", f"/api/v1/sites/{SITE}/volumes",
                                  json_body={"name": "nfs2", "path": path})
        assert answer.status == 400 and answer.content_type == PROBLEM, (path, answer.status, answer.body)
    assert await volumes(world) == before
    assert not Path("/proc/.lakecache").exists() and not (volume / "inner" / ".lakecache").exists()


async def test_the_cli_prints_one_json_error_when_a_file_changes_during_upload(world, cats):
    root = write_tree(world.root / "tree-upload-race", {"weights.bin": b"w" * 300_000, "small.txt": b"small"})
    await world.ok(world["ada"], "POST", "/api/v1/datasets", json_body={"project": VICTIM, "name": "upload-race"})
    cli = await RacedCli.start(world, world["ada"], "data", "sync", f"{VICTIM}/upload-race", str(root), "-m", "x",
                               "--json", pause_after="first-upload-chunk")
    await cli.wait_for("UPLOADING")
    with open(root / "weights.bin", "r+b") as handle:  # same size, other bytes
        handle.seek(250_000)
        handle.write(b"tampered")
    cli.resume()
    code, stdout, stderr = await cli.finish()
    assert code == 1 and stdout == "" and "Traceback" not in stderr, stderr
    error = json.loads(stderr)
    assert "'weights.bin'" in error["error"] and "nothing was committed" in error["error"], error
    dataset = await world.ok(world["ada"], "GET", "/api/v1/datasets/vision/upload-race")
    assert dataset["head"] is None


async def test_a_disabled_users_tokens_stay_dead_after_re_enabling(world, cats):
    admin = world["admin"]
    carl = await world.person("carl", {ATTACKER: "editor"})
    second = Person("carl", (await world.ok(carl, "POST", "/api/v1/tokens", json_body={"name": "spare"}))["token"])
    run_id = await world.run(carl, "speech")
    job = Person("job", (await world.ok(carl, "POST", f"/api/v1/projects/speech/runs/{run_id}/job-tokens",
                                        json_body={"expires_at": in_two_days()}))["token"])
    for who in (carl, second, job):
        assert (await world.call(who, "GET", "/api/v1/me")).status == 200

    await world.ok(admin, "POST", "/api/v1/users/carl/disable")
    enabled = await world.ok(admin, "POST", "/api/v1/users/carl/enable")
    assert "new token" in enabled["note"]
    for who in (carl, second, job):
        answer = await world.call(who, "GET", "/api/v1/datasets", params={"project": ATTACKER})
        is_problem(answer, 401, "unauthenticated")
    fresh = Person("carl", (await world.ok(admin, "POST", "/api/v1/users/carl/tokens", json_body={"name": "new"}))[
        "token"])
    assert (await world.call(fresh, "GET", "/api/v1/me")).status == 200


async def test_a_control_character_in_a_run_id_is_refused(world, cats):
    bob = world["bob"]
    run_ok = await world.run(bob, "speech")
    await world.ok(bob, "POST", f"/api/v1/projects/speech/runs/{run_ok}/job-tokens",
                   json_body={"expires_at": in_two_days()})
    for run_id in ["run%001", "run%0A1", "run%7F1", "run%001%00"]:
        answer = await world.call(bob, "POST", f"/api/v1/projects/speech/runs/{run_id}/job-tokens",
                                  json_body={"expires_at": in_two_days()})
        is_problem(answer, 400, "invalid-request")
        assert answer.body["errors"][0]["location"] == "path.run_id"
    tokens = await world.ok(world["admin"], "GET", "/api/v1/users/bob/tokens")
    assert [t["run_id"] for t in tokens["items"] if t["kind"] == "job"] == [run_ok]


async def test_a_job_token_is_issued_only_for_a_run_the_gateway_handed_out_in_that_project(world, cats):
    bob, ada = world["bob"], world["ada"]
    vision_run = await world.run(ada, "vision")

    async def bobs_job_tokens() -> list[str]:
        tokens = await world.ok(world["admin"], "GET", "/api/v1/users/bob/tokens")
        return [t["id"] for t in tokens["items"] if t["kind"] == "job"]

    before = await bobs_job_tokens()
    # An invented id, and vision's run named under speech: both unknown to speech, and nothing issued.
    for run_id in ("run-invented", vision_run):
        answer = await world.call(bob, "POST", f"/api/v1/projects/speech/runs/{run_id}/job-tokens",
                                  json_body={"expires_at": in_two_days()})
        is_problem(answer, 404, "not-found")
    assert await bobs_job_tokens() == before


_READER = textwrap.dedent('''
    import json, os, sys
    report = {"uid": os.getuid(), "opened": {}}
    for path in json.loads(sys.argv[1]):
        try:
            if os.path.isdir(path):
                os.listdir(path)
                report["opened"][path] = "listed"
            else:
                with open(path, "rb") as handle:
                    report["opened"][path] = handle.read().decode("latin-1")
        except OSError as exc:
            report["opened"][path] = type(exc).__name__
    print(json.dumps(report))
''')


async def test_another_os_user_reads_nothing_of_the_embedded_lake_and_stores_but_the_views(world, cats):
    home = world.stack.home
    stored = sorted(str(p) for p in home.rglob("*"))
    assert any("/lake/blobs/" in p for p in stored) and any(p.endswith(".db") for p in stored)
    view_file = str(Path(cats["path"]) / "plans.txt")
    report = json.loads(await run_as_nobody(_READER, json.dumps([str(home), *stored, view_file])))
    assert report["uid"] == NOBODY_UID
    opened = {p: r for p, r in report["opened"].items()
              if p != view_file and r not in ("PermissionError", "FileNotFoundError")}
    assert opened == {}, f"another OS user opened: {sorted(opened)}"
    # What the jobs of any user need stays readable (cacher.view_mode, default "world").
    assert report["opened"][view_file].encode("latin-1") == SECRET
