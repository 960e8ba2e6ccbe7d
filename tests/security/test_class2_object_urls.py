"""Class 2 of issue 11: a confused deputy through manifest ``object`` URLs.

Speech's editor writes commits by hand whose entries point where speech may not read: vision's
content and manifest, a root-only 0600 file, a directory in no lake — guessing sizes and hashes
three times, as the issue's attacker did with the errors' help. Then what remains once the
catalog refuses those: naming the hash of vision's cached file (the pool is shared), a cache
command on the bus with vision's grant, and a blob of speech's own swapped for a symbolic link
in the lake. Nothing reaches a view of speech, no error tells a size or hash speech could not
read, and nothing is created next to the files named.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from pathlib import Path

import pytest
import pytest_asyncio

from lakecache.core.contracts.cache import CacheRequested
from lakecache.core.layout import content_key, join_url
from tests.security.actors import ATTACKER, VICTIM, Scene, leaks
from tests.security.conftest import SITE

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLANS = (b"vision's unreleased labelling plan; " * 2000)[:54_321]
SHADOW = os.urandom(31_337)


def entry(path: str, size: int, sha256: str, url: str | None = None) -> dict:
    return {"path": path, "size": size, "sha256": sha256, **({"object": url} if url else {})}


def listing(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def victim(world: Scene) -> dict:
    """vision/cats (plans.txt) cached and ready, with what an eavesdropper on the bus saw of its
    cache request; a root-only file and a plain directory on the host; speech/loot, empty."""
    recorder = await world.record()
    ada = world["ada"]
    commit = await world.synced(ada, VICTIM, "cats", {"plans.txt": PLANS})
    copy = await world.cached(ada, VICTIM, "cats")
    dataset = await world.ok(ada, "GET", "/api/v1/datasets/vision/cats")
    private = world.root / "private"
    private.mkdir(mode=0o700)
    (private / "shadow").write_bytes(SHADOW)
    (private / "shadow").chmod(0o600)
    plain = world.root / "plain"
    (plain / "data").mkdir(parents=True)
    (plain / "data" / "x").write_bytes(b"x")
    await world.ok(world["bob"], "POST", "/api/v1/datasets", json_body={"project": ATTACKER, "name": "loot"})
    return {"commit": commit, "copy": copy, "dataset": dataset, "shadow": private / "shadow", "plain": plain,
            "recorder": recorder}


async def assert_loot_untouched(world: Scene) -> None:
    loot = await world.ok(world["bob"], "GET", "/api/v1/datasets/speech/loot")
    assert loot["head"] is None
    assert not (world.stack.volume / ATTACKER / "loot").exists()


async def test_entries_naming_vision_objects_are_refused_at_commit_and_tell_nothing(world, victim):
    lake_url, commit = victim["dataset"]["lake_url"], victim["commit"]
    stolen_content = join_url(lake_url, content_key(hashlib.sha256(PLANS).hexdigest()))
    # Three commits, each with a better guess: the errors must never help the next one.
    for guess in (1, 1000, len(PLANS) - 1):
        answer = await world.commit_entries(world["bob"], ATTACKER, "loot", [
            entry("plans.txt", guess, "ab" * 32, stolen_content),
            entry("manifest.gz", guess, "cd" * 32, commit["manifest_url"])])
        assert answer.status == 422 and answer.problem_type == "objects-outside-locations", answer.body
        assert sorted(e["path"] for e in answer.body["errors"]) == ["manifest.gz", "plans.txt"]
        assert leaks(answer.text.replace(stolen_content, "<what speech sent>"), PLANS) == []
    await assert_loot_untouched(world)
    status = await world.ok(world["ada"], "GET", world.copy_path(VICTIM, commit["id"]))
    assert status["state"] == "ready"


async def test_a_root_only_file_and_a_directory_in_no_lake_are_refused_and_left_as_they_were(world, victim):
    shadow, plain = victim["shadow"], victim["plain"]
    before = listing(plain)
    answer = await world.commit_entries(world["bob"], ATTACKER, "loot", [
        entry("shadow", 10, "ee" * 32, shadow.as_uri()),
        entry("x", 1, hashlib.sha256(b"x").hexdigest(), (plain / "data" / "x").as_uri()),
        entry("passwd", 10, "ff" * 32, "file:///etc/shadow")])
    assert answer.status == 422 and answer.problem_type == "objects-outside-locations", answer.body
    assert leaks(answer.text, SHADOW) == []
    # Importing from there instead: not one of speech's import locations either.
    imported = await world.call(world["bob"], "POST", "/api/v1/datasets/speech/loot/imports",
                                json_body={"source": plain.as_uri()})
    assert imported.status == 403 and imported.problem_type == "source-outside-import-locations", imported.body
    # Nor may an editor make it one.
    registered = await world.call(world["bob"], "PUT", "/api/v1/projects/speech/import-locations/disk",
                                  json_body={"url": plain.as_uri()})
    assert registered.status == 403 and registered.problem_type == "forbidden"

    assert listing(plain) == before, "something was created in a location no lake holds"
    assert shadow.read_bytes() == SHADOW and (shadow.stat().st_mode & 0o777) == 0o600
    await assert_loot_untouched(world)


async def test_naming_the_hash_of_vision_cached_file_gets_no_bytes_from_the_shared_pool(world, victim):
    bob = world["bob"]
    await world.ok(bob, "POST", "/api/v1/datasets", json_body={"project": ATTACKER, "name": "known-hash"})
    # Suppose speech learnt plans.txt's size and sha256: it commits them without the bytes.
    made = await world.commit_entries(bob, ATTACKER, "known-hash", [
        entry("plans.txt", len(PLANS), hashlib.sha256(PLANS).hexdigest())])
    assert made.status == 201, made.body
    assert made.body["commit"]["id"] == victim["commit"]["id"]  # the same tree: the same id

    status = await world.settled_copy(bob, await world.cache(bob, ATTACKER, "known-hash"))
    assert status["state"] == "failed" and status["volumes"][0]["path"] is None
    assert "missing from the lake" in status["volumes"][0]["error"]
    assert not (world.stack.volume / ATTACKER / "known-hash" / victim["commit"]["id"]).exists()
    still = await world.ok(world["ada"], "GET", world.copy_path(VICTIM, victim["commit"]["id"]))
    assert still["state"] == "ready" and Path(still["volumes"][0]["path"], "plans.txt").read_bytes() == PLANS


async def test_a_cache_command_on_the_bus_with_vision_grant_reads_nothing_for_speech(world, victim):
    commit, recorder = victim["commit"], victim["recorder"]
    [seen] = recorder.of("cache.requested", project=VICTIM, commit_id=commit["id"])
    loot = await world.ok(world["bob"], "GET", "/api/v1/datasets/speech/loot")
    forged = {}
    stolen = seen["source_grant"]
    for what, grant, dataset_id in [("no grant", None, loot["id"]), ("vision's grant", stolen, loot["id"]),
                                    ("vision's grant and dataset", stolen, commit["dataset_id"])]:
        forged[what] = request_id = uuid.uuid4().hex
        await world.forge(CacheRequested(
            request_id=request_id, project=ATTACKER, dataset_id=dataset_id, dataset="loot", commit_id=commit["id"],
            site=SITE, requester="user:bob", manifest_url=commit["manifest_url"], source_grant=grant))
    await world.settled()

    failures = {f["subject"]: f for f in recorder.of("cache.failed", project=ATTACKER)}
    assert set(forged.values()) <= set(failures), "a forged command was not refused"
    for what, request_id in forged.items():
        assert failures[request_id]["retryable"] is False, what
        assert leaks(failures[request_id]["reason"], PLANS) == [], what
    assert recorder.of("cache.ready", project=ATTACKER) == []
    page = await world.ok(world["bob"], "GET", f"/api/v1/sites/{SITE}/copies", params={"project": ATTACKER})
    assert [c for c in page["items"] if c["dataset"] == "loot" or c["state"] == "ready"] == []
    await assert_loot_untouched(world)


def blob_of(lake: Path, key: str) -> Path:
    """Where the local lake keeps the bytes of ``key``."""
    with sqlite3.connect(f"file:{lake / 'index.sqlite3'}?mode=ro", uri=True) as db:
        [(blob,)] = db.execute("SELECT blob FROM objects WHERE key = ?", (key.encode(),)).fetchall()
    return lake / "blobs" / blob[:2] / blob


async def test_a_blob_swapped_for_a_symbolic_link_in_the_lake_is_not_followed(world, victim):
    bob, decoy = world["bob"], b"speech's own notes " * 222
    commit = await world.synced(bob, ATTACKER, "notes", {"notes.txt": decoy})
    # Someone who may write the lake swaps the blob for a link to the root-only file.
    key = f"{ATTACKER}/notes/{content_key(hashlib.sha256(decoy).hexdigest())}"
    blob = blob_of(world.stack.home / "lake", key)
    blob.unlink()
    blob.symlink_to(victim["shadow"])

    status = await world.settled_copy(bob, await world.cache(bob, ATTACKER, "notes"))
    assert status["state"] == "failed", status
    error = status["volumes"][0]["error"]
    assert "altered outside LakeCache" in error and "is a symbolic link" in error, error
    assert leaks(str(status), SHADOW) == []
    assert not (world.stack.volume / ATTACKER / "notes" / commit["id"]).exists()
    on_volume = [p for p in world.stack.volume.rglob("*") if p.is_file() and not p.is_symlink()]
    assert not any(p.read_bytes() == SHADOW for p in on_volume)
