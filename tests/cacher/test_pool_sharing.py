"""The pool is shared by every project on a volume, but naming a hash is not enough to get its
bytes: content found in the pool is linked into a view only once the copy's own source shows
it holds that content."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import pytest

from lakecache.cacher.fill import FetchOptions, FillError, fill_commit
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.layout import content_key, join_url
from tests.cacher.helpers import WrappedStore, build_manifest, chunks, entry_of, make_commit, tree_of

SECRET = {"model.bin": os.urandom(200_000)}


async def fill(volume, project: str, location: str, commit: str, manifest: bytes, open_store=object_store_from_url):
    return await fill_commit(volume, project, "ds", commit, chunks(manifest), open_store, lake_url=location,
                             parents=[], options=FetchOptions(attempts=2, backoff_seconds=0.01))


@pytest.fixture
async def secret_in_pool(volume, lake_url):
    """Project ``secret``'s commit, filled: its content is in the volume's pool."""
    location = join_url(lake_url, "secret", "ds")
    commit, manifest = await make_commit(location, SECRET)
    await fill(volume, "secret", location, commit, manifest)
    return commit


async def test_a_commit_naming_pooled_content_its_lake_lacks_gets_nothing(volume, lake_url, secret_in_pool):
    location = join_url(lake_url, "team", "ds")
    async with object_store_from_url(location) as store:
        await store.put("unrelated", b"x")
    commit, manifest = build_manifest([entry_of("stolen.bin", SECRET["model.bin"])])  # knows the hash only

    with pytest.raises(FillError) as caught:
        await fill(volume, "team", location, commit, manifest)

    assert "missing from the lake" in caught.value.reason and caught.value.failed_paths == ["stolen.bin"]
    assert not (volume / "team" / "ds" / commit).exists()


async def test_other_bytes_under_the_hash_in_its_lake_are_refused(volume, lake_url, secret_in_pool):
    location = join_url(lake_url, "team", "ds")
    sha = hashlib.sha256(SECRET["model.bin"]).hexdigest()
    async with object_store_from_url(location) as store:  # same size, other bytes, under the hash's key
        await store.put(content_key(sha), os.urandom(len(SECRET["model.bin"])))
    commit, manifest = build_manifest([entry_of("stolen.bin", SECRET["model.bin"])])

    with pytest.raises(FillError) as caught:
        await fill(volume, "team", location, commit, manifest)

    assert "does not hold what the manifest says" in caught.value.reason
    assert not (volume / "team" / "ds" / commit).exists()


class NoChecksums(WrappedStore):
    """A store that reports no sha256 (an S3 object uploaded in parts, or by another tool)."""

    async def head(self, key, **options):
        return dataclasses.replace(await self._store.head(key, **options), sha256=None)


@pytest.mark.parametrize("same_bytes", [True, False])
async def test_without_a_reported_sha256_a_sample_of_the_bytes_must_match_the_pool(volume, lake_url, secret_in_pool,
                                                                                   same_bytes):
    location = join_url(lake_url, "team", "ds")
    data = SECRET["model.bin"] if same_bytes else os.urandom(len(SECRET["model.bin"]))
    sha = hashlib.sha256(SECRET["model.bin"]).hexdigest()
    async with object_store_from_url(location) as store:
        await store.put(content_key(sha), data)
    commit, manifest = build_manifest([entry_of("model.bin", SECRET["model.bin"])])
    stores: list[NoChecksums] = []

    def open_store(url):
        stores.append(NoChecksums(object_store_from_url(url)))
        return stores[-1]

    if same_bytes:  # it holds the content: the pool's copy is linked, nothing whole is fetched
        result = await fill(volume, "team", location, commit, manifest, open_store)
        assert tree_of(result.view_path) == SECRET and result.bytes_fetched == 0
        assert sum(stores[0].gets.values()) == 1  # one ranged sample
    else:
        with pytest.raises(FillError, match="does not hold what the manifest says"):
            await fill(volume, "team", location, commit, manifest, open_store)
        assert not (volume / "team" / "ds" / commit).exists()


def same_bucket(count: int) -> dict[str, bytes]:
    """``count`` contents whose hashes share a bucket of the content store (their first two hex digits)."""
    found: dict[str, list[bytes]] = {}
    while True:
        data = os.urandom(3000)
        group = found.setdefault(hashlib.sha256(data).hexdigest()[:2], [])
        group.append(data)
        if len(group) == count:
            return {f"part-{i}.bin": d for i, d in enumerate(group)}


class Counted(WrappedStore):
    """A store that counts HEADs and listing pages."""

    def __init__(self, store) -> None:
        super().__init__(store)
        self.heads = self.lists = 0

    async def head(self, key, **options):
        self.heads += 1
        return await self._store.head(key, **options)

    async def list(self, *args, **options):
        self.lists += 1
        return await self._store.list(*args, **options)

    async def iter_objects(self, prefix="", *, start_after=None):
        token = None
        while True:
            page = await self.list(prefix, start_after=start_after, token=token)
            for info in page.objects:
                yield info
            if page.next_token is None:
                return
            token = page.next_token


def counting(stores: list[Counted]):
    def open_store(url):
        store = Counted(object_store_from_url(url))
        stores.append(store)
        return store

    return open_store


async def test_pooled_contents_sharing_a_bucket_are_confirmed_by_one_listing_not_a_head_each(volume, lake_url):
    files = same_bucket(6)
    location = join_url(lake_url, "team", "ds")
    first, manifest = await make_commit(location, files)
    await fill(volume, "team", location, first, manifest)
    second, manifest = await make_commit(location, {**files, "new.bin": os.urandom(100)})
    stores: list[Counted] = []

    result = await fill(volume, "team", location, second, manifest, open_store=counting(stores))

    assert tree_of(result.view_path) == {**files, "new.bin": tree_of(result.view_path)["new.bin"]}
    assert result.objects_fetched == 1
    assert sum(s.lists for s in stores) == 1 and sum(s.heads for s in stores) == 0


async def test_a_listed_bucket_that_lacks_a_named_content_refuses_the_commit(volume, lake_url):
    files = same_bucket(5)
    owner = join_url(lake_url, "secret", "ds")
    commit, manifest = await make_commit(owner, files)
    await fill(volume, "secret", owner, commit, manifest)
    thief = join_url(lake_url, "team", "ds")
    kept = dict(list(files.items())[:4])
    await make_commit(thief, kept)  # holds four of the five: the fifth is named, not held
    commit, manifest = build_manifest([entry_of(path, data) for path, data in files.items()])

    with pytest.raises(FillError) as caught:
        await fill(volume, "team", thief, commit, manifest)

    missing = next(path for path in files if path not in kept)
    assert "missing from the lake" in caught.value.reason and caught.value.failed_paths == [missing]
    assert not (volume / "team" / "ds" / commit).exists()
