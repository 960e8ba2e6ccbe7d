"""Hostile manifests and planted links: clean failures naming the paths, nothing published."""

from __future__ import annotations

import errno
import hashlib
import os

import pytest

from lakecache.cacher.fill import FillError, fill_commit
from lakecache.cacher.volume.safety import start_writeback
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.layout import content_key
from tests.cacher.helpers import all_files, chunks, make_commit, raw_manifest

DATA = b"payload"
SHA = hashlib.sha256(DATA).hexdigest()


async def hostile_fill(volume, lake_url, paths: list[str]):
    async with object_store_from_url(lake_url) as store:
        await store.put(content_key(SHA), DATA)
    manifest = raw_manifest([{"path": p, "size": len(DATA), "sha256": SHA} for p in paths])
    with pytest.raises(FillError) as caught:
        await fill_commit(volume, "team", "ds", "e" * 64, chunks(manifest), object_store_from_url, lake_url=lake_url,
                          parents=None)
    return caught.value


@pytest.mark.parametrize(
    ("paths", "offending"),
    [
        (["../x"], ["../x"]),
        (["ok.txt", "/abs/file"], ["/abs/file"]),
        (["a", "a/b"], ["a"]),
        (["dir/with\x00nul"], ["dir/with\x00nul"]),
        (["n" * 256], ["n" * 256]),
        (["b", "a"], ["a"]),  # unsorted: collision checks would be unsound
    ],
)
async def test_hostile_manifest_fails_naming_paths_and_writes_nothing(tmp_path, volume, lake_url, paths, offending):
    error = await hostile_fill(volume, lake_url, paths)

    assert error.retryable is False
    assert error.failed_paths == offending
    assert all(repr(p) in error.reason for p in offending)
    assert sorted(os.listdir(tmp_path)) == ["lake", "volume"]
    assert not (volume / "team" / "ds" / ("e" * 64)).exists()
    assert all_files(volume / ".lakecache" / "pool") == []
    assert all_files(volume / ".lakecache" / "tmp") == []


@pytest.mark.parametrize("planted", ["team", "team/ds"])
async def test_symlink_planted_in_view_path_fails_without_writing_outside(tmp_path, volume, lake_url, planted):
    outside = tmp_path / "outside"
    outside.mkdir()
    (volume / planted).parent.mkdir(parents=True, exist_ok=True)
    (volume / planted).symlink_to(outside)
    commit, manifest = await make_commit(lake_url, {"x/y.txt": b"data"})

    with pytest.raises(FillError) as caught:
        await fill_commit(volume, "team", "ds", commit, chunks(manifest), object_store_from_url, lake_url=lake_url,
                          parents=[])

    assert caught.value.failed_paths == [str(volume / planted)]
    assert "symbolic link" in caught.value.reason
    assert os.listdir(outside) == []
    assert all_files(volume / ".lakecache" / "tmp") == []


async def test_symlinked_pool_is_refused(tmp_path, volume, lake_url):
    outside = tmp_path / "outside"
    outside.mkdir()
    (volume / ".lakecache").mkdir()
    (volume / ".lakecache" / "pool").symlink_to(outside)
    commit, manifest = await make_commit(lake_url, {"f": b"data"})

    with pytest.raises(FillError) as caught:
        await fill_commit(volume, "team", "ds", commit, chunks(manifest), object_store_from_url, lake_url=lake_url,
                          parents=[])

    assert caught.value.failed_paths == [str(volume / ".lakecache" / "pool")]
    assert all_files(outside) == []
    assert not (volume / "team" / "ds" / commit).exists()


def test_start_writeback_is_a_hint_where_a_file_has_none_and_an_error_on_a_bad_descriptor(tmp_path):
    fd = os.open(tmp_path / "part", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.pwrite(fd, os.urandom(1 << 20), 0)
        start_writeback(fd, 0, 1 << 20)  # a regular file's dirty range: accepted
    finally:
        os.close(fd)
    read, write = os.pipe()
    try:
        start_writeback(read, 0, 1)  # a pipe has no writeback (ESPIPE): nothing to start, no error
    finally:
        os.close(read)
        os.close(write)
    with pytest.raises(OSError) as caught:
        start_writeback(-1, 0, 1)  # no such descriptor: a real failure is not swallowed
    assert caught.value.errno == errno.EBADF
