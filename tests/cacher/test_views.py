"""Views are adopted only when the cacher can prove it published them; bad ready markers fail
the fill clearly; what is published is readable as ``view_mode`` says."""

from __future__ import annotations

import json
import logging
import os
import stat

import pytest

from lakecache.cacher.fill import FillError, fill_commit
from lakecache.cacher.volume import evict_commit
from lakecache.core.adapters.registry import object_store_from_url
from tests.cacher.helpers import chunks, make_commit, tree_of

FILES = {"a.bin": os.urandom(9_000), "dir/b.txt": b"bee\n"}


async def fill(volume, lake_url, commit, manifest, **kwargs):
    return await fill_commit(volume, "team", "ds", commit, chunks(manifest), object_store_from_url,
                             lake_url=lake_url, parents=[], **kwargs)


def plant(view, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (view / name).parent.mkdir(parents=True, exist_ok=True)
        (view / name).write_bytes(data)


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


async def test_a_directory_at_the_view_path_the_cacher_did_not_publish_is_moved_aside_and_rebuilt(
        volume, lake_url, caplog):
    commit, manifest = await make_commit(lake_url, FILES)
    view = volume / "team" / "ds" / commit
    plant(view, {"a.bin": b"not the commit's bytes", "extra.sh": b"#!/bin/sh\n"})

    with caplog.at_level(logging.WARNING):
        result = await fill(volume, lake_url, commit, manifest)

    assert not result.already_ready and result.view_path == view
    assert tree_of(view) == FILES
    assert "was not published by LakeCache" in caplog.text and str(view) in caplog.text
    (aside,) = os.listdir(volume / ".lakecache" / "trash")  # moved aside, not adopted
    assert aside.startswith(f"unproven-{commit}.") and (volume / ".lakecache" / "trash" / aside / "extra.sh").exists()
    assert (volume / "team" / "ds" / f"{commit}.ready").exists()


async def test_a_directory_placed_where_an_evicted_view_was_is_not_adopted(volume, lake_url):
    commit, manifest = await make_commit(lake_url, FILES)
    await fill(volume, lake_url, commit, manifest)
    await evict_commit(volume, "team", "ds", commit)
    plant(volume / "team" / "ds" / commit, {"a.bin": b"swapped in", "dir/b.txt": b"bee\n"})

    result = await fill(volume, lake_url, commit, manifest)

    assert tree_of(result.view_path) == FILES


async def test_a_view_left_by_a_crash_before_its_marker_is_adopted_even_after_leftovers_are_swept(
        volume, lake_url, monkeypatch):
    commit, manifest = await make_commit(lake_url, FILES)
    await fill(volume, lake_url, commit, manifest)
    (volume / "team" / "ds" / f"{commit}.ready").unlink()
    other, other_manifest = await make_commit(lake_url, {"c": b"c"})
    await fill(volume, lake_url, other, other_manifest)  # alone on the volume: sweeps leftovers

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the proven view must not be built again")

    monkeypatch.setattr("lakecache.cacher.fill.engine.build_view", no_rebuild)
    result = await fill(volume, lake_url, commit, manifest)
    assert tree_of(result.view_path) == FILES and (volume / "team" / "ds" / f"{commit}.ready").exists()


@pytest.mark.parametrize("kind", ["symlink", "not json", "another commit", "fifo", "directory", "no view"])
async def test_a_bad_ready_marker_fails_the_fill_naming_it(tmp_path, volume, lake_url, kind, caplog):
    commit, manifest = await make_commit(lake_url, FILES)
    dataset = volume / "team" / "ds"
    dataset.mkdir(parents=True)
    marker = dataset / f"{commit}.ready"
    if kind == "symlink":
        target = tmp_path / "elsewhere.json"
        target.write_text(json.dumps({"commit_id": commit, "files": 2, "size_bytes": 1}))
        marker.symlink_to(target)
    elif kind == "not json":
        marker.write_bytes(b"\x00garbage")
    elif kind == "another commit":
        marker.write_text(json.dumps({"commit_id": "f" * 64, "files": 1, "size_bytes": 1}))
    elif kind == "fifo":
        os.mkfifo(marker)
    elif kind == "directory":
        marker.mkdir()
    else:
        marker.write_text(json.dumps({"commit_id": commit, "files": 2, "size_bytes": 1}))

    with caplog.at_level(logging.WARNING), pytest.raises(FillError) as caught:
        await fill(volume, lake_url, commit, manifest)

    assert caught.value.retryable is False and caught.value.failed_paths == [str(marker)]
    assert str(marker) in caught.value.reason and str(marker) in caplog.text
    assert not (dataset / commit).exists()


@pytest.mark.parametrize(("view_mode", "directory", "file"), [("world", 0o555, 0o444), ("group", 0o550, 0o440),
                                                              ("owner", 0o500, 0o400)])
async def test_views_and_pool_files_are_readable_as_the_view_mode_says(volume, lake_url, view_mode, directory, file):
    commit, manifest = await make_commit(lake_url, FILES)
    result = await fill(volume, lake_url, commit, manifest, view_mode=view_mode)

    view = result.view_path
    assert mode(view) == mode(view / "dir") == directory
    assert mode(view / "a.bin") == mode(view / "dir" / "b.txt") == file
    assert mode(volume / "team" / "ds" / f"{commit}.ready") == file
    assert mode(volume / ".lakecache") == 0o700  # the pool is reached through views only


async def test_an_unknown_view_mode_fails_the_fill(volume, lake_url):
    commit, manifest = await make_commit(lake_url, FILES)
    with pytest.raises(FillError, match="view_mode 'public' is not one of"):
        await fill(volume, lake_url, commit, manifest, view_mode="public")


@pytest.mark.parametrize("in_place", ["published by a concurrent fill", "planted"])
async def test_a_directory_that_appears_while_a_view_is_published_is_kept_only_if_proven(
        volume, lake_url, monkeypatch, in_place):
    commit, manifest = await make_commit(lake_url, FILES)
    view = volume / "team" / "ds" / commit
    if in_place == "planted":
        plant(view, {"a.bin": b"planted"})
    else:
        await fill(volume, lake_url, commit, manifest)
        (volume / "team" / "ds" / f"{commit}.ready").unlink()
    before = view.stat().st_ino
    # The fill looks before building and finds nothing: the directory "appears" during the build.
    monkeypatch.setattr("lakecache.cacher.fill.engine.settle_view", lambda *args: False)

    result = await fill(volume, lake_url, commit, manifest)

    assert tree_of(result.view_path) == FILES
    assert (view.stat().st_ino == before) is (in_place != "planted")  # the proven one is kept, not replaced
    assert os.listdir(volume / ".lakecache" / "staging") == []
