"""Commits over HTTP: content-addressed ids, unchanged re-syncs, empty commits, the head CAS, log."""

from __future__ import annotations

import asyncio

from lakecache.core.layout import manifest_key
from tests.catalog.conftest import entry, ndjson

FILES = [entry("train/a.jpg", "aaa"), entry("train/b.jpg", "bb"), entry("labels.csv", "x,y\n")]


async def test_commit_records_stats_author_and_a_manifest_in_the_lake(api):
    dataset = await api.create("vision", "cats")
    reply = await api.commit("vision", "cats", list(reversed(FILES)), message="first", user="ada")
    assert reply.status == 201 and reply.body["created"] is True
    commit = reply.body["commit"]
    assert commit["files"] == 3 and commit["bytes"] == 3 + 2 + 4
    assert commit["parents"] == [] and commit["message"] == "first" and commit["author"] == "ada"
    assert commit["dataset_id"] == dataset["id"] and commit["project"] == "vision" and commit["dataset"] == "cats"
    assert commit["manifest_url"] == f"{dataset['lake_url']}/{manifest_key(commit['id'])}"
    assert await api.manifest_keys() == [f"vision/cats/{manifest_key(commit['id'])}"]
    shown = await api.call("GET", "/api/v1/datasets/vision/cats")
    assert (shown.body["head"], shown.body["head_files"], shown.body["head_bytes"]) == (commit["id"], 3, 9)
    [listed] = (await api.call("GET", "/api/v1/datasets?project=vision")).body["items"]
    assert (listed["head_files"], listed["head_bytes"]) == (3, 9)  # a listing shows the head's size


async def test_identical_content_gets_the_identical_commit_id(api):
    await api.create("vision", "cats")
    await api.create("vision", "cats-copy")
    first = await api.committed("vision", "cats", FILES)
    # Another dataset, other order, other object locations: same paths, sizes and hashes.
    assert (await api.register_import("vision", "raw", "s3://import")).status == 201
    moved = [dict(e, object=f"s3://import/{e['path']}") for e in reversed(FILES)]
    assert await api.committed("vision", "cats-copy", moved) == first
    other = await api.committed("vision", "cats-copy", [*FILES, entry("extra", "e")])
    assert other != first


async def test_unchanged_resync_answers_the_head_without_a_new_commit(api):
    await api.create("vision", "cats")
    head = await api.committed("vision", "cats", FILES)
    again = await api.commit("vision", "cats", list(reversed(FILES)))
    assert again.status == 200
    assert again.body["created"] is False and again.body["unchanged"] is True
    assert again.body["commit"]["id"] == head
    assert await api.stored("commits").count_documents({}) == 1
    forced = await api.commit("vision", "cats", FILES, allow_empty=True)
    assert forced.status == 201 and forced.body["commit"]["parents"] == [head]
    assert forced.body["commit"]["id"] != head


async def test_empty_manifest_needs_allow_empty(api):
    await api.create("vision", "cats")
    refused = await api.commit("vision", "cats", [])
    assert refused.status == 422 and refused.body["type"] == "urn:lakecache:problem:empty-commit"
    assert "allow_empty" in refused.body["detail"]
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"] is None
    assert await api.manifest_keys() == []
    accepted = await api.commit("vision", "cats", [], allow_empty=True)
    assert accepted.status == 201 and accepted.body["commit"]["files"] == 0


async def test_stale_parent_is_refused_and_the_head_stays(api):
    await api.create("vision", "cats")
    first = await api.committed("vision", "cats", FILES)
    second = await api.committed("vision", "cats", [*FILES, entry("c.jpg", "c")], parents=[first])
    stale = await api.commit("vision", "cats", [entry("d.jpg", "d")], parents=[first])
    assert stale.status == 409 and stale.body["type"] == "urn:lakecache:problem:head-moved"
    assert first in stale.body["detail"] and second in stale.body["detail"]
    rootless = await api.commit("vision", "cats", [entry("d.jpg", "d")], parents=[])
    assert rootless.status == 409
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"] == second
    assert await api.stored("commits").count_documents({}) == 2


async def test_log_walks_first_parents_newest_first_in_pages(api):
    await api.create("vision", "cats")
    ids = [await api.committed("vision", "cats", [entry("n", str(i))], message=f"c{i}") for i in range(5)]
    reply = await api.call("GET", "/api/v1/datasets/vision/cats/commits", params={"limit": 2})
    assert [c["id"] for c in reply.body["items"]] == ids[::-1][:2]
    seen = [c["message"] for c in reply.body["items"]]
    cursor = reply.body["next_cursor"]
    while cursor:
        page = await api.call("GET", "/api/v1/datasets/vision/cats/commits", params={"limit": 2, "cursor": cursor})
        seen += [c["message"] for c in page.body["items"]]
        cursor = page.body["next_cursor"]
    assert seen == ["c4", "c3", "c2", "c1", "c0"]
    from_second = await api.call("GET", "/api/v1/datasets/vision/cats/commits", params={"ref": ids[1]})
    assert [c["id"] for c in from_second.body["items"]] == [ids[1], ids[0]]
    assert from_second.body["next_cursor"] is None


async def test_malformed_bodies_are_refused_with_the_line_number(api):
    await api.create("vision", "cats")
    path = "/api/v1/datasets/vision/cats/commits"
    headers = {"Content-Type": "application/x-ndjson"}
    bad_entry = ndjson({"message": "m"}, [entry("ok", "1"), {"path": "x", "size": -1, "sha256": "z"}])
    reply = await api.call("POST", path, data=bad_entry, headers=headers)
    assert reply.status == 400 and "line 3" in reply.body["detail"]
    reply = await api.call("POST", path, data=b"not json\n", headers=headers)
    assert reply.status == 400 and "line 1" in reply.body["detail"]
    reply = await api.call("POST", path, data=ndjson({"message": "m"}, [entry("a", "a", object="relative/key")]),
                           headers=headers)
    assert reply.status == 400 and "full URL" in reply.body["detail"]
    reply = await api.call("POST", path, json_body={"message": "m"})
    assert reply.status == 400 and "application/x-ndjson" in reply.body["detail"]
    assert await api.stored("commits").count_documents({}) == 0


async def test_of_two_commits_racing_on_one_head_exactly_one_wins(api):
    await api.create("vision", "cats")
    lake = api.catalog.lake
    original_put = lake.put
    arrived, both = [], asyncio.Event()

    async def put_when_both_arrived(*args, **kwargs):
        # Both requests have passed the early parent check; only the head CAS can decide now.
        arrived.append(1)
        if len(arrived) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 10)
        return await original_put(*args, **kwargs)

    lake.put = put_when_both_arrived
    try:
        replies = await asyncio.gather(api.commit("vision", "cats", [entry("a", "1")]),
                                       api.commit("vision", "cats", [entry("a", "2")]))
    finally:
        lake.put = original_put
    assert sorted(r.status for r in replies) == [201, 409]
    winner = next(r for r in replies if r.status == 201).body["commit"]["id"]
    loser = next(r for r in replies if r.status == 409)
    assert loser.body["type"] == "urn:lakecache:problem:head-moved" and winner in loser.body["detail"]
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"] == winner
    assert [c["id"] async for c in api.stored("commits").find({})] == [winner]


async def test_a_manifest_bigger_than_the_request_body_limit_is_streamed(api):
    await api.create("vision", "cats")
    files = [entry(f"shard-{i // 1000:02d}/{i:06d}.bin", str(i)) for i in range(20_000)]
    body_size = len(ndjson({"message": "big"}, files))
    assert body_size > api.running.app._client_max_size  # aiohttp's whole-body read would refuse it
    reply = await api.commit("vision", "cats", files[::-1])
    assert reply.status == 201 and reply.body["commit"]["files"] == 20_000
    last = await api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries",
                          params={"start_after": "shard-19/019997.bin"})
    assert [e["path"] for e in last.body["items"]] == ["shard-19/019998.bin", "shard-19/019999.bin"]


async def test_a_listing_by_directory_sums_each_directory_and_pages_past_it(api):
    await api.create("vision", "cats")
    files = [entry("train/cat/1.jpg", "aa"), entry("train/cat/2.jpg", "bbb"), entry("train/dog/1.jpg", "c"),
             entry("train/labels.csv", "dddd"), entry("train-x/1.jpg", "e"), entry("readme.md", "ff")]
    assert (await api.commit("vision", "cats", files)).status == 201
    entries = "/api/v1/datasets/vision/cats/refs/latest/entries"

    top = (await api.call("GET", entries, params={"delimiter": "/"})).body
    assert [e["path"] for e in top["items"]] == ["readme.md"]
    assert top["directories"] == [{"path": "train/", "files": 4, "bytes": 10},
                                  {"path": "train-x/", "files": 1, "bytes": 1}]
    first = (await api.call("GET", entries, params={"delimiter": "/", "prefix": "train/", "limit": "1"})).body
    assert first["directories"] == [{"path": "train/cat/", "files": 2, "bytes": 5}] and first["items"] == []
    assert first["next_cursor"] == "train/cat/"
    rest = (await api.call("GET", entries, params={"delimiter": "/", "prefix": "train/",
                                                  "cursor": first["next_cursor"]})).body
    assert [d["path"] for d in rest["directories"]] == ["train/dog/"]
    assert [e["path"] for e in rest["items"]] == ["train/labels.csv"] and rest["next_cursor"] is None
    plain = (await api.call("GET", entries, params={"prefix": "train/"})).body
    assert "directories" not in plain and len(plain["items"]) == 4
    assert (await api.call("GET", entries, params={"delimiter": "\\"})).status == 400
