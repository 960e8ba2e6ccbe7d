"""Fills from a local lake: byte-identical read-only views, pool hardlinks, dedup, faults."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat

import pytest

from lakecache.cacher.fill import FetchOptions, FillError, fill_commit
from lakecache.cacher.volume import evict_commit
from lakecache.cacher.volume.usage import VolumeUsage
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.layout import content_key
from tests.cacher.helpers import WrappedStore, all_files, chunks, make_commit, raw_manifest, tree_of
from tests.support.waiting import eventually

FILES = {
    "README.md": b"hello\n",
    "train/a.bin": os.urandom(200_000),
    "train/b.bin": os.urandom(50_000),
    "train/copy-of-b.bin": None,  # same content as b: one pool object
    "val/deep/x/y.txt": b"y" * 1000,
    "empty.txt": b"",
}
FILES["train/copy-of-b.bin"] = FILES["train/b.bin"]


def opener(wrappers: list):
    def open_store(url: str, **options):
        store = WrappedStore(object_store_from_url(url))
        wrappers.append(store)
        return store
    return open_store


async def fill(volume, lake_url, commit, manifest, wrappers=None, **kwargs):
    wrappers = [] if wrappers is None else wrappers
    kwargs.setdefault("parents", [])  # make_commit's commits have none: the manifest must give the id back
    return await fill_commit(volume, "team", "ds", commit, chunks(manifest), opener(wrappers), lake_url=lake_url,
                             **kwargs)


def pool_files(volume) -> list[str]:
    return all_files(volume / ".lakecache" / "pool")


def leftovers(volume) -> list[str]:
    return [*all_files(volume / ".lakecache" / "tmp"), *all_files(volume / ".lakecache" / "staging")]


async def test_fill_materializes_identical_read_only_tree_of_pool_hardlinks(volume, lake_url, small_parts):
    commit, manifest = await make_commit(lake_url, FILES)
    seen, wrappers = [], []
    result = await fill(volume, lake_url, commit, manifest, wrappers, options=small_parts, on_progress=seen.append)

    view = volume / "team" / "ds" / commit
    assert result.view_path == view
    assert tree_of(view) == FILES
    assert (result.files, result.size_bytes) == (6, sum(len(d) for d in FILES.values()))
    unique = {hashlib.sha256(d).hexdigest(): len(d) for d in FILES.values()}
    assert result.objects_fetched == len(unique)
    assert len(wrappers[0].gets) == len(unique) - 1  # the empty content needs no GET
    assert result.bytes_fetched == sum(unique.values())
    assert result.bytes_deduplicated == len(FILES["train/b.bin"])
    for path in view.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, path
    a = view / "train" / "a.bin"
    pool_a = volume / ".lakecache/pool/sha256" / hashlib.sha256(FILES["train/a.bin"]).hexdigest()[:2]
    assert a.stat().st_ino == (pool_a / hashlib.sha256(FILES["train/a.bin"]).hexdigest()).stat().st_ino
    assert (view / "train/b.bin").stat().st_ino == (view / "train/copy-of-b.bin").stat().st_ino
    assert (volume / "team" / "ds" / f"{commit}.ready").exists()
    assert leftovers(volume) == []
    assert [p.phase for p in seen][-1] == "done"
    assert seen[-1].bytes_done == seen[-1].bytes_total == result.bytes_fetched


async def test_second_version_fetches_only_changed_content_and_shares_inodes(volume, lake_url):
    base = {f"part/{i:03}.bin": os.urandom(2000) for i in range(40)}
    first, manifest1 = await make_commit(lake_url, base)
    await fill(volume, lake_url, first, manifest1)
    changed = dict(base, **{"part/007.bin": os.urandom(2000), "part/031.bin": os.urandom(2000)})
    second, manifest2 = await make_commit(lake_url, changed)

    wrappers: list[WrappedStore] = []
    result = await fill(volume, lake_url, second, manifest2, wrappers)

    assert sum(sum(w.gets.values()) for w in wrappers) == 2
    assert result.bytes_fetched == 4000 and result.bytes_deduplicated == 38 * 2000
    v1, v2 = volume / "team/ds" / first, volume / "team/ds" / second
    assert tree_of(v2) == changed and tree_of(v1) == base
    assert (v1 / "part/000.bin").stat().st_ino == (v2 / "part/000.bin").stat().st_ino
    assert (v1 / "part/007.bin").stat().st_ino != (v2 / "part/007.bin").stat().st_ino
    assert (v1 / "part/000.bin").stat().st_nlink == 3  # pool + two views


async def test_progress_counts_each_file_once_its_content_is_on_the_volume(volume, lake_url):
    pooled, big, middle, small = os.urandom(3000), os.urandom(5000), os.urandom(4000), os.urandom(2000)
    first, manifest1 = await make_commit(lake_url, {"pooled.bin": pooled})
    await fill(volume, lake_url, first, manifest1)
    # Two files share the pooled content, two share the biggest fetched one.
    files = {"pooled.bin": pooled, "pooled-again.bin": pooled, "big.bin": big, "big-again.bin": big,
             "middle.bin": middle, "small.bin": small}
    commit, manifest = await make_commit(lake_url, files)
    seen = []
    # One request at a time (biggest first) and a report after each object: every step is seen.
    await fill(volume, lake_url, commit, manifest, on_progress=seen.append, progress_interval=0,
               options=FetchOptions(max_concurrency=1))

    assert [(p.phase, p.files_done, p.objects_done) for p in seen] == [
        ("fetching", 2, 0), ("fetching", 4, 1), ("fetching", 5, 2), ("fetching", 6, 3), ("linking", 6, 3),
        ("done", 6, 3)]
    assert {(p.files_total, p.objects_total) for p in seen} == {(6, 3)}


async def test_ready_commit_returns_at_once_without_reading_the_manifest(volume, lake_url):
    commit, manifest = await make_commit(lake_url, {"a": b"1"})
    await fill(volume, lake_url, commit, manifest)

    async def no_manifest():
        raise AssertionError("a ready commit must not read its manifest")
        yield b""  # pragma: no cover

    result = await fill_commit(volume, "team", "ds", commit, no_manifest(), opener([]), lake_url=lake_url,
                               parents=[])
    assert result.already_ready and result.files == 1 and result.bytes_fetched == 0


async def test_a_view_renamed_in_place_but_not_marked_is_marked_without_a_rebuild(volume, lake_url, monkeypatch):
    # A crash between the view's rename and its ready marker: the view is whole (views only
    # appear by rename), so the next fill marks it instead of building it again.
    commit, manifest = await make_commit(lake_url, FILES)
    first = await fill(volume, lake_url, commit, manifest)
    marker = volume / "team" / "ds" / f"{commit}.ready"
    marker.unlink()

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the view in place must not be built again")

    monkeypatch.setattr("lakecache.cacher.fill.engine.build_view", no_rebuild)
    wrappers: list[WrappedStore] = []
    again = await fill(volume, lake_url, commit, manifest, wrappers)

    assert marker.exists() and not again.already_ready and again.objects_fetched == 0
    assert again.view_path == first.view_path and tree_of(again.view_path) == FILES
    assert sum(sum(w.gets.values()) for w in wrappers) == 0 and leftovers(volume) == []


async def test_a_configured_capacity_bounds_the_space_a_fill_may_use(volume, lake_url):
    commit, manifest = await make_commit(lake_url, FILES)
    pooled = sum(len(d) for d in set(FILES.values()))
    with pytest.raises(FillError) as caught:
        await fill(volume, lake_url, commit, manifest, capacity_bytes=pooled - 1)
    assert caught.value.retryable and caught.value.bytes_needed == pooled
    assert "configured capacity" in caught.value.reason and pool_files(volume) == []
    result = await fill(volume, lake_url, commit, manifest, capacity_bytes=pooled)
    assert tree_of(result.view_path) == FILES


async def test_a_capacity_bounds_lakecaches_bytes_not_the_filesystems_usage(volume, lake_url):
    stats = os.statvfs(volume)
    filesystem_used = (stats.f_blocks - stats.f_bavail) * stats.f_frsize
    usage = VolumeUsage(pool_bytes=0)
    capacity = sum(len(d) for d in set(FILES.values())) + 10_000
    assert capacity < filesystem_used  # a directory of a filesystem other data already fills
    commit, manifest = await make_commit(lake_url, FILES)
    result = await fill(volume, lake_url, commit, manifest, capacity_bytes=capacity, usage=usage)
    assert result.bytes_fetched == usage.held_bytes == capacity - 10_000 and usage.reserved_bytes == 0

    more = {"more.bin": os.urandom(10_001)}
    commit, manifest = await make_commit(lake_url, more)
    with pytest.raises(FillError) as caught:
        await fill(volume, lake_url, commit, manifest, capacity_bytes=capacity, usage=usage)
    assert f"configured capacity of {capacity} bytes" in caught.value.reason and "holds" in caught.value.reason
    assert usage.held_bytes == capacity - 10_000 and usage.reserved_bytes == 0


async def test_checksum_mismatch_fails_naming_the_object_and_leaves_no_temp(volume, lake_url):
    claimed = hashlib.sha256(b"the real bytes").hexdigest()
    async with object_store_from_url(lake_url) as store:
        await store.put(content_key(claimed), b"other bytes!!!")
    manifest = raw_manifest([{"path": "data/x.bin", "size": 14, "sha256": claimed}])
    commit = "c" * 64

    with pytest.raises(FillError) as caught:
        await fill(volume, lake_url, commit, manifest, options=FetchOptions(attempts=2, backoff_seconds=0.01),
                   parents=None)  # a made-up commit id: what fails here is the content

    assert caught.value.retryable is False
    assert caught.value.failed_paths == ["data/x.bin"]
    assert content_key(claimed) in caught.value.reason and "do not match" in caught.value.reason
    assert hashlib.sha256(b"other bytes!!!").hexdigest() not in caught.value.reason  # never the digest read
    assert leftovers(volume) == [] and pool_files(volume) == []
    assert not (volume / "team/ds" / commit).exists()


async def test_missing_object_fails_permanently_naming_it(volume, lake_url):
    sha = hashlib.sha256(b"gone").hexdigest()
    async with object_store_from_url(lake_url) as store:
        await store.put("unrelated", b"x")
    with pytest.raises(FillError) as caught:
        await fill(volume, lake_url, "d" * 64, raw_manifest([{"path": "f", "size": 4, "sha256": sha}]), parents=None)
    assert caught.value.retryable is False and "missing from the lake" in caught.value.reason
    assert content_key(sha) in caught.value.reason


async def test_flaky_and_truncated_reads_are_retried(volume, lake_url, small_parts):
    files = {"small.bin": os.urandom(10_000), "big.bin": os.urandom(300_000), "other.bin": os.urandom(5000)}
    commit, manifest = await make_commit(lake_url, files)
    keys = {name: content_key(hashlib.sha256(d).hexdigest()) for name, d in files.items()}
    wrappers: list[WrappedStore] = []

    def open_store(url):
        store = WrappedStore(object_store_from_url(url), fail_first={keys["small.bin"], keys["big.bin"]},
                             truncate_first={keys["other.bin"]})
        wrappers.append(store)
        return store

    result = await fill_commit(volume, "team", "ds", commit, chunks(manifest), open_store, lake_url=lake_url,
                               parents=[], options=small_parts)

    assert tree_of(result.view_path) == files
    gets = wrappers[0].gets
    assert gets[keys["small.bin"]] == 2 and gets[keys["other.bin"]] == 2
    # The large object goes to its file in one call (its parts are the store's business):
    # refused once, then read whole.
    assert gets[keys["big.bin"]] == 2
    assert leftovers(volume) == []


async def test_cancelled_fill_resumes_without_refetching_verified_objects(volume, lake_url):
    files = {f"f/{i:02}.bin": os.urandom(1000 + i) for i in range(30)}
    commit, manifest = await make_commit(lake_url, files)
    slow: list[WrappedStore] = []

    def open_slow(url):
        store = WrappedStore(object_store_from_url(url), delay=0.02)
        slow.append(store)
        return store

    task = asyncio.create_task(fill_commit(volume, "team", "ds", commit, chunks(manifest), open_slow,
                                           lake_url=lake_url, parents=[],
                                           # small batches, so verified content enters the pool mid-fill
                                           options=FetchOptions(max_concurrency=2, sync_batch_objects=4)))
    await eventually(lambda: len(pool_files(volume)) >= 8, message="8 objects in the pool")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    verified = len(pool_files(volume))
    assert 8 <= verified < 30 and not (volume / "team/ds" / commit).exists()

    wrappers: list[WrappedStore] = []
    result = await fill(volume, lake_url, commit, manifest, wrappers)

    assert sum(wrappers[0].gets.values()) == 30 - verified == result.objects_fetched
    assert tree_of(result.view_path) == files
    assert leftovers(volume) == []


async def test_eviction_removes_view_and_only_unreferenced_pool_objects(volume, lake_url):
    shared = os.urandom(5000)
    only_first = os.urandom(7000)
    first, m1 = await make_commit(lake_url, {"s.bin": shared, "one.bin": only_first})
    second, m2 = await make_commit(lake_url, {"s.bin": shared, "two.bin": b"t" * 300})
    await fill(volume, lake_url, first, m1)
    await fill(volume, lake_url, second, m2)
    assert len(pool_files(volume)) == 3

    usage = VolumeUsage(pool_bytes=10**9)  # a wrong count: the sweep's own tally replaces it
    freed = await evict_commit(volume, "team", "ds", first, usage)

    assert freed == 7000 and usage.pool_bytes == 5300
    assert not (volume / "team/ds" / first).exists()
    assert not (volume / "team/ds" / f"{first}.ready").exists()
    assert tree_of(volume / "team/ds" / second) == {"s.bin": shared, "two.bin": b"t" * 300}
    assert len(pool_files(volume)) == 2
    assert all_files(volume / ".lakecache" / "trash") == []
    assert await evict_commit(volume, "team", "ds", first) == 0
    assert await evict_commit(volume, "team", "ds", second) == 5300
    assert pool_files(volume) == []
