"""Sync a local directory into a dataset on the embedded (file://) lake through the real catalog."""

from __future__ import annotations

import os
import unicodedata

import pytest

from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.manifest import UnsafePaths
from lakecache.sdk import hashing
from lakecache.sdk.catalog import CatalogClient, CatalogNotFound
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.staging import plan_tree, stage_tree
from lakecache.sdk.sync import NothingToCommit, sync_directory
from tests.clients.helpers import CountingStore, content_keys, write_tree

DS = DatasetRef("team", "images")


async def new_dataset(catalog: CatalogClient) -> dict:
    return await catalog.create_dataset(DS.project, DS.name, description="test images")


async def test_resync_uploads_only_new_and_changed_contents(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {f"train/{i:03}.bin": os.urandom(1000 + i) for i in range(20)})
    async with CatalogClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
        first = await sync_directory(catalog, DS, root, message="first")
        assert first.created and first.uploaded == 20 and first.files == 20
        assert len(await content_keys(dataset["lake_url"])) == 20

        (root / "train/000.bin").write_bytes(b"changed")
        (root / "train/new.bin").write_bytes(b"added")
        (root / "train/019.bin").unlink()
        second = await sync_directory(catalog, DS, root, message="second")
        assert second.created and second.uploaded == 2 and second.files == 20
        assert len(await content_keys(dataset["lake_url"])) == 22
        assert second.commit["parents"] == [first.commit["id"]]

        summary = (await catalog.diff(DS.project, DS.name, first.commit["id"], second.commit["id"]))["summary"]
        assert summary == {"added": 1, "removed": 1, "changed": 1}


async def test_unchanged_resync_answers_unchanged_and_uploads_nothing(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {"a.txt": b"a", "b/c.txt": b"c"})
    async with CatalogClient(client_settings) as catalog:
        await new_dataset(catalog)
        first = await sync_directory(catalog, DS, root, message="first")
        again = await sync_directory(catalog, DS, root, message="again")
    assert again.unchanged and not again.created
    assert again.uploaded == 0 and again.hashed == 0
    assert again.commit["id"] == first.commit["id"]


async def test_identical_files_are_uploaded_once(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {"a": b"same", "b": b"same", "c/d": b"same"})
    async with CatalogClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
        result = await sync_directory(catalog, DS, root, message="dupes")
    assert (result.files, result.uploaded) == (3, 1)
    assert len(await content_keys(dataset["lake_url"])) == 1


async def test_hash_cache_skips_rehashing_unchanged_files(client_settings, tmp_path, monkeypatch):
    root = write_tree(tmp_path / "data", {f"f{i}": os.urandom(100) for i in range(5)})
    hashed = []
    real = hashing.hash_file
    monkeypatch.setattr(hashing, "hash_file", lambda path: hashed.append(path) or real(path))
    async with CatalogClient(client_settings) as catalog:
        await new_dataset(catalog)
        await sync_directory(catalog, DS, root, message="first")
        assert len(hashed) == 5
        (root / "f0").write_bytes(b"new content")
        result = await sync_directory(catalog, DS, root, message="second")
    assert len(hashed) == 6 and hashed[-1].endswith("f0")
    assert result.hashed == 1


async def test_interrupted_upload_resumes_without_reuploading_finished_files(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {f"f{i:02}": os.urandom(2000) for i in range(10)})
    async with CatalogClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
        tree = plan_tree(root)
        async with object_store_from_url(dataset["lake_url"]) as store:
            failing = CountingStore(store, fail_after=4)
            with pytest.raises(ExceptionGroup):
                await stage_tree(failing, tree, concurrency=1)
            assert len(await content_keys(dataset["lake_url"])) == 4

            resumed = CountingStore(store)
            staged = await stage_tree(resumed, tree, concurrency=3)
        assert resumed.puts == 6 and staged.uploaded == 6 and staged.present == 4
        result = await sync_directory(catalog, DS, root, message="after resume")
    assert result.created and result.uploaded == 0 and result.files == 10


async def test_empty_directory_is_refused_unless_allow_empty(client_settings, tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    async with CatalogClient(client_settings) as catalog:
        await new_dataset(catalog)
        with pytest.raises(NothingToCommit, match="--allow-empty"):
            await sync_directory(catalog, DS, tmp_path / "empty", message="nothing")
        assert (await catalog.get_dataset(DS.project, DS.name))["head"] is None
        result = await sync_directory(catalog, DS, tmp_path / "empty", message="empty", allow_empty=True)
    assert result.created and result.commit["files"] == 0


@pytest.mark.parametrize("bad_name", ["back\\slash.txt", "bell\x07.txt"])
async def test_unsafe_local_names_are_refused_before_any_upload(client_settings, tmp_path, monkeypatch, bad_name):
    root = write_tree(tmp_path / "data", {"ok.txt": b"fine", bad_name: b"bad"})
    monkeypatch.setattr(hashing, "hash_file", lambda path: pytest.fail("nothing may be hashed"))
    async with CatalogClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
        with pytest.raises(UnsafePaths) as refused:
            await sync_directory(catalog, DS, root, message="bad")
    assert [p.path for p in refused.value.problems] == [bad_name]
    assert await content_keys(dataset["lake_url"]) == set()


async def test_nfc_nfd_twins_are_refused_with_both_names(client_settings, tmp_path):
    nfc, nfd = unicodedata.normalize("NFC", "café.txt"), unicodedata.normalize("NFD", "café.txt")
    root = write_tree(tmp_path / "data", {nfc: b"1", nfd: b"2"})
    if len(os.listdir(root)) < 2:
        pytest.skip("this file system normalizes names itself")
    async with CatalogClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
        with pytest.raises(UnsafePaths, match="NFC"):
            await sync_directory(catalog, DS, root, message="twins")
    assert await content_keys(dataset["lake_url"]) == set()


async def test_symlinks_are_skipped_and_never_followed(client_settings, tmp_path):
    outside = write_tree(tmp_path / "outside", {"secret": b"do not publish"})
    root = write_tree(tmp_path / "data", {"real.txt": b"real"})
    (root / "link").symlink_to(outside / "secret")
    (root / "dirlink").symlink_to(outside, target_is_directory=True)
    async with CatalogClient(client_settings) as catalog:
        await new_dataset(catalog)
        result = await sync_directory(catalog, DS, root, message="links")
        paths = [e["path"] async for e in catalog.entries(DS.project, DS.name)]
    assert paths == ["real.txt"]
    assert sorted(p for p, _ in result.skipped) == ["dirlink", "link"]


async def test_sync_to_a_missing_dataset_names_it(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {"a": b"a"})
    async with CatalogClient(client_settings) as catalog:
        with pytest.raises(CatalogNotFound, match="team/images"):
            await sync_directory(catalog, DS, root, message="x")


async def test_progress_callback_reports_hash_and_upload_phases(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {f"f{i}": os.urandom(500) for i in range(4)})
    seen = []
    async with CatalogClient(client_settings) as catalog:
        await new_dataset(catalog)
        await sync_directory(catalog, DS, root, message="p", on_progress=seen.append)
    last = {p.phase: p for p in seen}
    assert set(last) == {"scan", "hash", "upload", "commit"}
    assert (last["upload"].files_done, last["upload"].bytes_done) == (4, 2000)
    assert last["hash"].bytes_total == 2000
