"""The local lake never follows a link to a blob, never writes where it was opened only to read,
and is private to the OS user that created it."""

from __future__ import annotations

import os
import stat

import pytest

from lakecache.core.adapters.objects.local import LocalObjectStore
from lakecache.core.adapters.objects.prefixed import PrefixedObjectStore
from lakecache.core.errors import ConfigurationError


def blob_of(lake_dir) -> str:
    (blob,) = [os.path.join(d, f) for d, _, files in os.walk(lake_dir / "blobs") for f in files]
    return blob


def entries(root) -> set[str]:
    return {os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root) for n in dirs + files}


async def make_lake(lake_dir, objects: dict[str, bytes]) -> None:
    async with LocalObjectStore.from_url(lake_dir.as_uri()) as lake:
        for key, data in objects.items():
            await lake.put(key, data)


async def test_a_blob_replaced_by_a_symlink_is_refused_not_followed(tmp_path):
    lake_dir = tmp_path / "lake"
    await make_lake(lake_dir, {"a/secret.bin": b"the lake's bytes"})
    target = tmp_path / "root-only"
    target.write_bytes(b"x" * len(b"the lake's bytes"))  # same size: only the link gives it away
    target.chmod(0o600)
    blob = blob_of(lake_dir)
    os.unlink(blob)
    os.symlink(target, blob)

    async with LocalObjectStore.from_url(lake_dir.as_uri()) as lake:
        with pytest.raises(ConfigurationError, match="symbolic link") as caught:
            await lake.read("a/secret.bin")
    assert "a/secret.bin" in str(caught.value) and str(target) not in str(caught.value)


async def test_a_symlinked_blobs_directory_is_refused(tmp_path):
    lake_dir = tmp_path / "lake"
    await make_lake(lake_dir, {"k": b"data"})
    os.rename(lake_dir / "blobs", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", lake_dir / "blobs")

    async with LocalObjectStore.from_url(lake_dir.as_uri()) as lake:
        with pytest.raises(ConfigurationError, match="symbolic link"):
            await lake.read("k")


async def test_a_blob_of_another_size_than_its_index_entry_is_refused(tmp_path):
    lake_dir = tmp_path / "lake"
    await make_lake(lake_dir, {"k": b"data"})
    blob = blob_of(lake_dir)
    os.chmod(blob, 0o600)
    with open(blob, "ab") as handle:
        handle.write(b" and more")

    async with LocalObjectStore.from_url(lake_dir.as_uri()) as lake:
        with pytest.raises(ConfigurationError, match="size its index entry says"):
            await lake.read("k")


@pytest.mark.parametrize("where", ["plain", "missing/deep"])
def test_opening_a_directory_that_is_no_lake_read_only_fails_and_creates_nothing(tmp_path, where):
    directory = tmp_path / "plain"
    directory.mkdir()
    (directory / "file.txt").write_bytes(b"not a lake")
    before = entries(tmp_path)

    with pytest.raises(ConfigurationError, match="not in a local lake"):
        LocalObjectStore.from_url((tmp_path / where).as_uri(), read_only=True)

    assert entries(tmp_path) == before


async def test_a_directory_with_a_symlinked_index_is_no_lake(tmp_path):
    real = tmp_path / "real"
    await make_lake(real, {"k": b"v"})
    fake = tmp_path / "fake"
    fake.mkdir()
    os.symlink(real / "index.sqlite3", fake / "index.sqlite3")
    with pytest.raises(ConfigurationError, match="not in a local lake"):
        LocalObjectStore.from_url(fake.as_uri(), read_only=True)


async def test_a_read_only_store_reads_an_existing_lake_and_refuses_writes(tmp_path):
    lake_dir = tmp_path / "lake"
    await make_lake(lake_dir, {"p/d/x": b"one", "other": b"two"})
    before = entries(lake_dir) - {"index.sqlite3-wal", "index.sqlite3-shm"}

    view = LocalObjectStore.from_url((lake_dir / "p" / "d").as_uri(), read_only=True)
    assert isinstance(view, PrefixedObjectStore)
    async with view:
        assert await view.read("x") == b"one"
        with pytest.raises(ConfigurationError, match="read-only"):
            await view.put("y", b"new")
        with pytest.raises(ConfigurationError, match="read-only"):
            await view.delete("x")
    async with LocalObjectStore.from_url(lake_dir.as_uri(), read_only=True) as lake:
        assert [o.key async for o in lake.iter_objects()] == ["other", "p/d/x"]

    assert entries(lake_dir) - {"index.sqlite3-wal", "index.sqlite3-shm"} == before
    assert not (lake_dir / "p").exists()


async def test_a_new_lake_is_private_to_its_user(tmp_path):
    lake_dir = tmp_path / "lake"
    await make_lake(lake_dir, {"a/b": b"secret"})

    def mode(path) -> int:
        return stat.S_IMODE(os.lstat(path).st_mode)

    assert mode(lake_dir) == 0o700
    for directory, dirs, files in os.walk(lake_dir):
        for name in dirs:
            assert mode(os.path.join(directory, name)) == 0o700, name
        for name in files:
            assert mode(os.path.join(directory, name)) & 0o077 == 0, name


async def test_an_existing_lake_readable_by_others_is_made_private_when_opened(tmp_path, caplog):
    lake_dir = tmp_path / "lake"
    await make_lake(lake_dir, {"k": b"v"})
    lake_dir.chmod(0o755)
    async with LocalObjectStore.from_url(lake_dir.as_uri()):
        pass
    assert stat.S_IMODE(lake_dir.stat().st_mode) == 0o700
    assert "made it private" in caplog.text
