"""A manifest changed in the lake after its commit was made is refused by name, never served."""

from __future__ import annotations

import gzip
import json

from tests.catalog.conftest import entry

FILES = [entry("a.txt", "alpha"), entry("b/c.txt", "charlie"), entry("d.txt", "delta")]


def _manifest(lines: list[dict]) -> bytes:
    return gzip.compress(b"".join(json.dumps(line).encode() + b"\n" for line in lines))


async def _overwrite(api, commit_id: str, data: bytes) -> None:
    doc = await api.stored("commits").find_one({"id": commit_id})
    await api.running.resources.lake.put(doc["manifest_key"], data)


def _assert_mismatch(reply, commit_id: str) -> None:
    assert reply.status == 409 and reply.content_type == "application/problem+json", reply.body
    assert reply.body["type"] == "urn:lakecache:problem:manifest-mismatch"
    assert f"the manifest of commit {commit_id} in the lake does not match its id" in reply.body["detail"]


async def test_a_manifest_with_an_entry_swapped_in_the_lake_is_refused(api):
    await api.create("vision", "cats")
    commit = await api.committed("vision", "cats", FILES)
    forged = [*FILES[:2], entry("d.txt", "malicious")]

    await _overwrite(api, commit, _manifest(forged))

    _assert_mismatch(await api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries"), commit)
    _assert_mismatch(await api.call("GET", "/api/v1/datasets/vision/cats/diff", params={"from": commit,
                                                                                       "to": "latest"}), commit)


async def test_a_manifest_replaced_after_it_was_read_and_verified_is_refused(api):
    await api.create("vision", "cats")
    commit = await api.committed("vision", "cats", FILES)
    first = await api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries")
    assert first.status == 200 and len(first.body["items"]) == 3

    await _overwrite(api, commit, _manifest(FILES[:2]))  # one entry dropped

    _assert_mismatch(await api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries",
                                    params={"limit": 1}), commit)


async def test_reordered_or_unreadable_manifests_are_refused(api):
    await api.create("vision", "cats")
    commit = await api.committed("vision", "cats", FILES)

    await _overwrite(api, commit, _manifest(list(reversed(FILES))))  # same id, but pages would skip entries
    _assert_mismatch(await api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries"), commit)
    await _overwrite(api, commit, b"not a manifest at all")
    _assert_mismatch(await api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries"), commit)


async def test_other_commits_stay_readable_next_to_a_tampered_one(api):
    await api.create("vision", "cats")
    first = await api.committed("vision", "cats", FILES[:1])
    second = await api.committed("vision", "cats", FILES)

    await _overwrite(api, first, _manifest(FILES[1:2]))

    ok = await api.call("GET", f"/api/v1/datasets/vision/cats/refs/{second}/entries")
    assert ok.status == 200 and [e["path"] for e in ok.body["items"]] == ["a.txt", "b/c.txt", "d.txt"]
    _assert_mismatch(await api.call("GET", f"/api/v1/datasets/vision/cats/refs/{first}/entries"), first)


async def test_committing_the_same_content_again_restores_a_tampered_manifest(api):
    await api.create("vision", "cats")
    commit = await api.committed("vision", "cats", FILES)
    assert (await api.call("DELETE", "/api/v1/datasets/vision/cats")).status == 204
    await _overwrite(api, commit, _manifest(FILES[:1]))

    await api.create("vision", "cats")  # the same location, so the same manifest key
    assert await api.committed("vision", "cats", FILES) == commit

    listed = await api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries")
    assert listed.status == 200 and [e["path"] for e in listed.body["items"]] == ["a.txt", "b/c.txt", "d.txt"]
