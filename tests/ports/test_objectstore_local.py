"""The object-store conformance suite against ``LocalObjectStore``, plus local-only rules."""

from __future__ import annotations

import os

import pytest

from lakecache.core.adapters.objects.local import LocalObjectStore
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.errors import ConfigurationError, InvalidArgument
from tests.ports.objectstore_suite import ObjectStoreConformance


@pytest.fixture
async def store(tmp_path):
    lake = LocalObjectStore.from_url(
        (tmp_path / "lake").as_uri(), chunk_size=ObjectStoreConformance.CHUNK_SIZE
    )
    async with lake:
        yield lake


class TestLocalObjectStore(ObjectStoreConformance):
    pass


def tree(root) -> set[str]:
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files}


@pytest.mark.parametrize(
    "key", ["../x", "/etc/passwd", "a/../../b", "a/./b", "a//b", "dir/", "a\\..\\b", ".", ".."]
)
async def test_hostile_keys_are_refused_and_never_touch_the_filesystem(tmp_path, key):
    lake_dir = tmp_path / "deep" / "lake"
    async with LocalObjectStore.from_url(lake_dir.as_uri()) as lake:
        with pytest.raises(InvalidArgument, match="key"):
            await lake.put(key, b"pwned")
        with pytest.raises(InvalidArgument):
            await lake.head(key)
        with pytest.raises(InvalidArgument):
            await lake.delete(key)

    outside = {path for path in tree(tmp_path) if not path.startswith(f"{lake_dir}/")}
    assert outside == set()
    assert tree(lake_dir / "blobs") == set()
    assert not os.path.exists("/etc/passwd") or open("/etc/passwd", "rb").read() != b"pwned"


async def test_objects_survive_reopening_the_store(tmp_path):
    url = (tmp_path / "lake").as_uri()
    async with LocalObjectStore.from_url(url) as lake:
        info = await lake.put("keep/me", b"durable")
    async with LocalObjectStore.from_url(url) as lake:
        assert await lake.read("keep/me") == b"durable"
        assert (await lake.head("keep/me")).etag == info.etag


async def test_overwrites_and_deletes_leave_no_stray_content_files(tmp_path):
    async with LocalObjectStore.from_url((tmp_path / "lake").as_uri()) as lake:
        for n in range(3):
            await lake.put("x", f"v{n}".encode())
        await lake.put("y", b"y")
        await lake.delete("y")

    blobs = tree(tmp_path / "lake" / "blobs")
    assert len(blobs) == 1
    assert open(blobs.pop(), "rb").read() == b"v2"
    assert tree(tmp_path / "lake" / "tmp") == set()


def test_registry_builds_the_local_store_without_touching_disk(tmp_path):
    lake = object_store_from_url((tmp_path / "lake").as_uri())

    assert isinstance(lake, LocalObjectStore)
    assert lake.url == (tmp_path / "lake").as_uri()
    assert not (tmp_path / "lake").exists()


@pytest.mark.parametrize("url", ["file://relative/dir", "file:relative", "file:///x?y=1"])
def test_malformed_local_urls_raise_configuration_error(url):
    with pytest.raises(ConfigurationError, match="file:///"):
        LocalObjectStore.from_url(url)


class TestLocalLakeSubdirectoryView(ObjectStoreConformance):
    """A ``file://`` URL inside an existing lake is a prefix view of that lake's one store."""

    LONGEST_KEY = 1024 - len("proj/ds/")  # the prefix counts against the store's key limit

    @pytest.fixture
    async def store(self, tmp_path):
        async with LocalObjectStore.from_url((tmp_path / "lake").as_uri()):
            pass  # creates the lake
        view = LocalObjectStore.from_url(
            (tmp_path / "lake" / "proj" / "ds").as_uri(), chunk_size=ObjectStoreConformance.CHUNK_SIZE
        )
        async with view:
            yield view


async def test_a_subdirectory_url_writes_into_the_enclosing_lake_under_its_prefix(tmp_path):
    from lakecache.core.adapters.objects.prefixed import PrefixedObjectStore

    root_url = (tmp_path / "lake").as_uri()
    async with LocalObjectStore.from_url(root_url) as lake:
        await lake.put("other/x", b"1")
    view = object_store_from_url(root_url + "/proj/ds")
    assert isinstance(view, PrefixedObjectStore) and view.url == root_url + "/proj/ds"
    async with view:
        info = await view.put("data/a.bin", b"abc")
        assert info.key == "data/a.bin"
        assert [o.key async for o in view.iter_objects()] == ["data/a.bin"]
    async with LocalObjectStore.from_url(root_url) as lake:
        assert [o.key async for o in lake.iter_objects()] == ["other/x", "proj/ds/data/a.bin"]
        assert await lake.read("proj/ds/data/a.bin") == b"abc"
    assert not (tmp_path / "lake" / "proj").exists(), "no second store may appear in the sub-directory"


async def test_closing_while_cancelled_calls_still_run_in_threads_is_safe(tmp_path):
    """A cancelled call's worker thread may outlive the coroutine; closing the store must wait
    for it (closing an SQLite connection under a running statement crashes the interpreter)."""
    import asyncio

    url = (tmp_path / "lake").as_uri()
    for round_ in range(30):
        async with LocalObjectStore.from_url(url) as lake:
            await lake.put(f"k{round_}", b"x" * round_)
            calls = [asyncio.create_task(lake.head(f"k{round_}")) for _ in range(40)]
            await asyncio.sleep(0)
            for call in calls:
                call.cancel()
    await asyncio.sleep(0.2)  # let straggling threads finish against the closed store
    async with LocalObjectStore.from_url(url) as lake:
        assert [await lake.read(f"k{i}") for i in (0, 29)] == [b"", b"x" * 29]
