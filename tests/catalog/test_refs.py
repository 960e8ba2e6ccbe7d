"""Refs, tags, listing a commit's paths and diffs between commits."""

from __future__ import annotations

import hashlib
import itertools

from lakecache.core.manifest import canonical_line, commit_id
from tests.catalog.conftest import entry

BASE = "/api/v1/datasets/vision/cats"


async def test_latest_full_id_and_prefix_name_the_same_commit(api):
    await api.create("vision", "cats")
    head = await api.committed("vision", "cats", [entry("a", "a")])
    for ref in ["latest", head, head[:4], head[:12]]:
        reply = await api.call("GET", f"{BASE}/refs/{ref}")
        assert reply.status == 200 and reply.body["id"] == head, ref
    for ref in ["abc", "f" * 64 if not head.startswith("f") else "0" * 64, "no-such-tag"]:
        reply = await api.call("GET", f"{BASE}/refs/{ref}")
        assert reply.status in (400, 404) and ref[:8] in reply.body["detail"], ref


async def test_latest_of_an_empty_dataset_says_there_are_no_commits(api):
    await api.create("vision", "cats")
    reply = await api.call("GET", f"{BASE}/refs/latest")
    assert reply.status == 404 and "no commits yet" in reply.body["detail"]


def _one_file_id(content: str, parents: list[str]) -> str:
    digest = hashlib.sha256(canonical_line("f", len(content), hashlib.sha256(content.encode()).hexdigest()))
    return commit_id(digest.hexdigest(), parents)


async def test_ambiguous_prefix_lists_every_candidate(api):
    await api.create("vision", "cats")
    first = await api.committed("vision", "cats", [entry("f", "seed")])
    # Find content whose commit on top of `first` shares its 4-digit prefix.
    content = next(f"c{i}" for i in itertools.count() if _one_file_id(f"c{i}", [first])[:4] == first[:4])
    second = await api.committed("vision", "cats", [entry("f", content)])
    assert second[:4] == first[:4] and second != first
    reply = await api.call("GET", f"{BASE}/refs/{first[:4]}")
    assert reply.status == 400 and reply.body["type"] == "urn:lakecache:problem:ambiguous-ref"
    assert sorted(reply.body["candidates"]) == sorted([first, second])
    longer = next(n for n in range(5, 64) if first[:n] != second[:n])
    assert (await api.call("GET", f"{BASE}/refs/{first[:longer]}")).body["id"] == first


async def test_tags_move_only_with_force(api):
    await api.create("vision", "cats")
    first = await api.committed("vision", "cats", [entry("a", "1")])
    second = await api.committed("vision", "cats", [entry("a", "2")])
    made = await api.call("PUT", f"{BASE}/tags/v1", json_body={"ref": first[:8]}, headers={"X-LakeCache-User": "ada"})
    assert made.status == 201 and made.body["commit"] == first and made.body["moved_by"] == "ada"
    assert (await api.call("GET", f"{BASE}/refs/v1")).body["id"] == first
    same = await api.call("PUT", f"{BASE}/tags/v1", json_body={"ref": first})
    assert same.status == 200 and same.body["commit"] == first
    refused = await api.call("PUT", f"{BASE}/tags/v1", json_body={"ref": "latest"})
    assert refused.status == 409 and "force" in refused.body["detail"]
    assert (await api.call("GET", f"{BASE}/refs/v1")).body["id"] == first
    moved = await api.call("PUT", f"{BASE}/tags/v1", json_body={"ref": "latest", "force": True})
    assert moved.status == 200 and moved.body["commit"] == second
    await api.call("PUT", f"{BASE}/tags/golden", json_body={"ref": "v1"})
    listed = await api.call("GET", f"{BASE}/tags")
    assert [(t["name"], t["commit"]) for t in listed.body["items"]] == [("golden", second), ("v1", second)]


async def test_tag_names_that_could_be_refs_are_refused(api):
    await api.create("vision", "cats")
    await api.committed("vision", "cats", [entry("a", "1")])
    for name, words in [("latest", "reserved"), ("beef", "commit id prefix"), ("-x", "not valid")]:
        reply = await api.call("PUT", f"{BASE}/tags/{name}", json_body={"ref": "latest"})
        assert reply.status == 400 and words in reply.body["detail"], name
    assert (await api.call("GET", f"{BASE}/tags")).body["items"] == []


async def test_entries_filter_by_prefix_and_page_after_a_path(api):
    await api.create("vision", "cats")
    files = [entry(p, p) for p in ["train/b", "train/a", "train-x", "test/a", "train/sub/c", "readme"]]
    await api.committed("vision", "cats", files)
    everything = await api.call("GET", f"{BASE}/refs/latest/entries")
    # Directory order: a directory's entries come right after it (train/… before train-x).
    assert [e["path"] for e in everything.body["items"]] == [
        "readme", "test/a", "train/a", "train/b", "train/sub/c", "train-x"]
    assert everything.body["items"][0] == {"path": "readme", "size": 6, "sha256": files[5]["sha256"]}
    pages, start_after = [], None
    while True:
        reply = await api.call("GET", f"{BASE}/refs/latest/entries",
                               params={"prefix": "train/", "limit": 2, "start_after": start_after})
        pages.append([e["path"] for e in reply.body["items"]])
        start_after = reply.body["next_cursor"]
        if start_after is None:
            break
    assert pages == [["train/a", "train/b"], ["train/sub/c"]]
    first = await api.call("GET", f"{BASE}/refs/latest/entries", params={"start_after": "readme", "limit": 2})
    assert [e["path"] for e in first.body["items"]] == ["test/a", "train/a"]
    second = await api.call("GET", f"{BASE}/refs/latest/entries",
                            params={"start_after": "readme", "limit": 2, "cursor": first.body["next_cursor"]})
    assert [e["path"] for e in second.body["items"]] == ["train/b", "train/sub/c"]
    none = await api.call("GET", f"{BASE}/refs/latest/entries", params={"prefix": "nothing/"})
    assert none.body == {"commit": none.body["commit"], "items": [], "next_cursor": None}


async def test_diff_reports_added_removed_changed_with_sizes(api):
    await api.create("vision", "cats")
    old = [entry("keep", "k"), entry("gone", "g"), entry("edit", "1"), entry("resize", "12")]
    new = [entry("keep", "k"), entry("edit", "2"), entry("resize", "123"), entry("new/a", "aa"), entry("new/b", "b")]
    v1 = await api.committed("vision", "cats", old)
    await api.call("PUT", f"{BASE}/tags/v1", json_body={"ref": v1})
    await api.committed("vision", "cats", new)
    reply = await api.call("GET", f"{BASE}/diff", params={"from": "v1", "to": "latest"})
    assert reply.status == 200
    assert reply.body["summary"] == {"added": 2, "removed": 1, "changed": 2}
    assert reply.body["items"] == [
        {"kind": "changed", "path": "edit", "old_size": 1, "new_size": 1},
        {"kind": "removed", "path": "gone", "old_size": 1, "new_size": None},
        {"kind": "added", "path": "new/a", "old_size": None, "new_size": 2},
        {"kind": "added", "path": "new/b", "old_size": None, "new_size": 1},
        {"kind": "changed", "path": "resize", "old_size": 2, "new_size": 3},
    ]
    first = await api.call("GET", f"{BASE}/diff", params={"from": "v1", "to": "latest", "limit": 3})
    rest = await api.call("GET", f"{BASE}/diff",
                          params={"from": "v1", "to": "latest", "cursor": first.body["next_cursor"]})
    assert first.body["items"] + rest.body["items"] == reply.body["items"]
    assert rest.body["summary"] == reply.body["summary"] and rest.body["next_cursor"] is None
    same = await api.call("GET", f"{BASE}/diff", params={"from": "latest", "to": "latest"})
    assert same.body["items"] == [] and same.body["summary"] == {"added": 0, "removed": 0, "changed": 0}
    missing = await api.call("GET", f"{BASE}/diff", params={"from": "v1"})
    assert missing.status == 400 and "to=REF" in missing.body["detail"]
