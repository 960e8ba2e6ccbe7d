"""Class 3 of issue 11: a dataset's ``lake_url`` could point at another project's location.

Speech's editor creates datasets whose location is vision's (its dataset, its project prefix,
spelt with dot segments or escapes, the lake's root), imports from vision's location, and asks
for an import location over it. All are refused; no dataset appears, and vision's prefix in the
lake holds exactly the keys it held: speech's own commits write only under speech's prefix.
"""

from __future__ import annotations

import sqlite3

import pytest
import pytest_asyncio

from tests.security.actors import ATTACKER, VICTIM, Scene, leaks

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLANS = (b"vision's training split, do not share; " * 500)[:17_171]


def lake_keys(world: Scene, project: str) -> list[str]:
    """Every key under ``project/`` in the embedded lake (read from its index, not asked of a service)."""
    index = world.stack.home / "lake" / "index.sqlite3"
    with sqlite3.connect(f"file:{index}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT key FROM objects WHERE key >= ? AND key < ? ORDER BY key",
                          (f"{project}/".encode(), f"{project}0".encode())).fetchall()
    return [bytes(key).decode() for (key,) in rows]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cats(world: Scene) -> dict:
    """vision/cats with one commit of plans.txt; speech has an import location of its own."""
    commit = await world.synced(world["ada"], VICTIM, "cats", {"plans.txt": PLANS})
    dataset = await world.ok(world["ada"], "GET", "/api/v1/datasets/vision/cats")
    raw = dataset["lake_url"].removesuffix("/vision/cats") + "/imports/speech"
    await world.ok(world["admin"], "PUT", "/api/v1/projects/speech/import-locations/raw", json_body={"url": raw})
    return {"commit": commit, "dataset": dataset, "raw": raw}


async def test_speech_cannot_place_a_dataset_at_vision_location_however_it_is_spelt(world, cats):
    bob, location = world["bob"], cats["dataset"]["lake_url"]
    lake = location.removesuffix("/vision/cats")
    before = lake_keys(world, VICTIM)
    for url in [location, f"{lake}/vision", f"{location}/mirror", f"{lake}/speech/../vision/cats",
                f"{lake}/speech/%2e%2e/vision/cats", f"{lake}/vision-cats/../vision/cats", lake, "file:///etc",
                f"{lake}/speech/./../vision"]:
        answer = await world.call(bob, "POST", "/api/v1/datasets",
                                  json_body={"project": ATTACKER, "name": "mirror", "lake_url": url})
        assert answer.status == 400 and answer.problem_type in ("invalid-argument", "invalid-request"), (url, answer)
    listed = await world.ok(bob, "GET", "/api/v1/datasets", params={"project": ATTACKER})
    assert [d["name"] for d in listed["items"] if d["name"] == "mirror"] == []

    # Speech's own sync writes its manifest and contents under speech's prefix, nowhere else.
    own = await world.synced(bob, ATTACKER, "own", {"notes.txt": b"speech's notes"})
    assert lake_keys(world, VICTIM) == before
    assert f"speech/own/_lakecache/manifests/{own['id']}.jsonl.gz" in lake_keys(world, ATTACKER)
    entries = await world.ok(world["ada"], "GET", "/api/v1/datasets/vision/cats/refs/latest/entries")
    assert [(e["path"], e["size"]) for e in entries["items"]] == [("plans.txt", len(PLANS))]


async def test_speech_cannot_import_vision_location_into_its_dataset(world, cats):
    bob, location = world["bob"], cats["dataset"]["lake_url"]
    await world.ok(bob, "POST", "/api/v1/datasets", json_body={"project": ATTACKER, "name": "copycat"})
    for source in [location, f"{location}/_lakecache/objects", location.removesuffix("/cats")]:
        answer = await world.call(bob, "POST", "/api/v1/datasets/speech/copycat/imports", json_body={"source": source})
        assert answer.status == 403 and answer.problem_type == "source-outside-import-locations", answer.body
        assert "plans.txt" not in answer.text and leaks(answer.text, PLANS) == []
    assert (await world.ok(bob, "GET", "/api/v1/datasets/speech/copycat"))["head"] is None
    assert not [k for k in lake_keys(world, ATTACKER) if k.startswith("speech/copycat/")]


async def test_no_import_location_over_vision_data_is_given_to_speech(world, cats):
    location = cats["dataset"]["lake_url"]
    asked = await world.call(world["bob"], "PUT", "/api/v1/projects/speech/import-locations/theirs",
                             json_body={"url": location})
    assert asked.status == 403 and asked.problem_type == "forbidden"
    # Not even an administrator can hand speech a location overlapping vision's dataset.
    for url in [location, location.removesuffix("/cats"), f"{location}/_lakecache"]:
        answer = await world.call(world["admin"], "PUT", "/api/v1/projects/speech/import-locations/theirs",
                                  json_body={"url": url})
        assert answer.status == 400, (url, answer.body)
    listed = await world.ok(world["bob"], "GET", "/api/v1/projects/speech/import-locations")
    assert [(i["name"], i["url"]) for i in listed["items"]] == [("raw", cats["raw"])]
