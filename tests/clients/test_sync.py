"""Sync a local directory into a dataset through the gateway (embedded ``file://`` lake, where
contents are uploaded through the gateway), as a user holding nothing but a LakeCache token."""

from __future__ import annotations

import os
import unicodedata

import pytest

from lakecache.core.manifest import UnsafePaths
from lakecache.sdk import hashing, uploads
from lakecache.sdk.gateway import GatewayClient, GatewayForbidden, GatewayNotFound, GatewayUnavailable
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import NothingToCommit, sync_directory
from tests.clients.conftest import PROJECT
from tests.clients.helpers import content_keys, sha256, write_tree
from tests.support.stack import create_user

DS = DatasetRef(PROJECT, "images")


async def new_dataset(catalog: GatewayClient) -> dict:
    return await catalog.create_dataset(DS.project, DS.name, description="test images")


async def test_resync_uploads_only_new_and_changed_contents(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {f"train/{i:03}.bin": os.urandom(1000 + i) for i in range(20)})
    async with GatewayClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
        first = await sync_directory(catalog, DS, root, message="first")
        assert first.created and first.uploaded == 20 and first.files == 20 and first.present == 0
        assert len(await content_keys(dataset["lake_url"])) == 20

        (root / "train/000.bin").write_bytes(b"changed")
        (root / "train/new.bin").write_bytes(b"added")
        (root / "train/019.bin").unlink()
        second = await sync_directory(catalog, DS, root, message="second")
        assert second.created and second.uploaded == 2 and second.files == 20 and second.present == 18
        assert len(await content_keys(dataset["lake_url"])) == 22
        assert second.commit["parents"] == [first.commit["id"]]

        summary = (await catalog.diff(DS.project, DS.name, first.commit["id"], second.commit["id"]))["summary"]
        assert summary == {"added": 1, "removed": 1, "changed": 1}


async def test_unchanged_resync_answers_unchanged_and_uploads_nothing(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {"a.txt": b"a", "b/c.txt": b"c"})
    async with GatewayClient(client_settings) as catalog:
        await new_dataset(catalog)
        first = await sync_directory(catalog, DS, root, message="first")
        again = await sync_directory(catalog, DS, root, message="again")
    assert again.unchanged and not again.created
    assert again.uploaded == 0 and again.hashed == 0
    assert again.commit["id"] == first.commit["id"]


async def test_identical_files_are_uploaded_once(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {"a": b"same", "b": b"same", "c/d": b"same", "empty": b""})
    async with GatewayClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
        result = await sync_directory(catalog, DS, root, message="dupes")
        entries = {e["path"]: e async for e in catalog.entries(DS.project, DS.name)}
    assert (result.files, result.uploaded) == (4, 2)
    assert await content_keys(dataset["lake_url"]) == {sha256(b"same"), sha256(b"")}
    assert (entries["empty"]["size"], entries["c/d"]["sha256"]) == (0, sha256(b"same"))


async def test_hash_cache_skips_rehashing_unchanged_files(client_settings, tmp_path, monkeypatch):
    root = write_tree(tmp_path / "data", {f"f{i}": os.urandom(100) for i in range(5)})
    hashed = []
    real = hashing.hash_file
    monkeypatch.setattr(hashing, "hash_file", lambda tree, file, **kw: hashed.append(file.path) or real(tree, file,
                                                                                                         **kw))
    async with GatewayClient(client_settings) as catalog:
        await new_dataset(catalog)
        await sync_directory(catalog, DS, root, message="first")
        assert len(hashed) == 5
        (root / "f0").write_bytes(b"new content")
        result = await sync_directory(catalog, DS, root, message="second")
    assert hashed[5:] == ["f0"]
    assert result.hashed == 1


async def test_interrupted_upload_resumes_without_reuploading_finished_files(client_settings, tmp_path, monkeypatch):
    root = write_tree(tmp_path / "data", {f"f{i:02}": os.urandom(2000) for i in range(10)})
    real_send, sent = uploads.Uploader._send, []

    async def send_then_lose_the_network(self, lake, file, ticket, tracker):
        if len(sent) == 4:
            raise GatewayUnavailable(f"upload {file.path!r}: the connection failed (simulated)")
        sent.append(file.path)
        return await real_send(self, lake, file, ticket, tracker)

    async with GatewayClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
        monkeypatch.setattr(uploads.Uploader, "_send", send_then_lose_the_network)
        with pytest.raises(GatewayUnavailable, match="simulated"):
            await sync_directory(catalog, DS, root, message="cut off", concurrency=1)
        assert len(await content_keys(dataset["lake_url"])) == 4
        assert (await catalog.get_dataset(DS.project, DS.name))["head"] is None  # nothing committed

        monkeypatch.setattr(uploads.Uploader, "_send", real_send)
        resumed = await sync_directory(catalog, DS, root, message="resumed", concurrency=3)
    assert (resumed.created, resumed.present, resumed.uploaded, resumed.files) == (True, 4, 6, 10)
    assert len(await content_keys(dataset["lake_url"])) == 10


async def test_empty_directory_is_refused_unless_allow_empty(client_settings, tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    async with GatewayClient(client_settings) as catalog:
        await new_dataset(catalog)
        with pytest.raises(NothingToCommit, match="--allow-empty"):
            await sync_directory(catalog, DS, tmp_path / "empty", message="nothing")
        assert (await catalog.get_dataset(DS.project, DS.name))["head"] is None
        result = await sync_directory(catalog, DS, tmp_path / "empty", message="empty", allow_empty=True)
    assert result.created and result.commit["files"] == 0


@pytest.mark.parametrize("bad_name", ["back\\slash.txt", "bell\x07.txt"])
async def test_unsafe_local_names_are_refused_before_any_upload(client_settings, tmp_path, monkeypatch, bad_name):
    root = write_tree(tmp_path / "data", {"ok.txt": b"fine", bad_name: b"bad"})
    monkeypatch.setattr(hashing, "hash_file", lambda *args, **kw: pytest.fail("nothing may be hashed"))
    async with GatewayClient(client_settings) as catalog:
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
    async with GatewayClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
        with pytest.raises(UnsafePaths, match="NFC"):
            await sync_directory(catalog, DS, root, message="twins")
    assert await content_keys(dataset["lake_url"]) == set()


async def test_symlinks_and_fifos_are_skipped_and_never_followed(client_settings, tmp_path):
    outside = write_tree(tmp_path / "outside", {"secret": b"do not publish"})
    root = write_tree(tmp_path / "data", {"real.txt": b"real"})
    (root / "link").symlink_to(outside / "secret")
    (root / "dirlink").symlink_to(outside, target_is_directory=True)
    os.mkfifo(root / "pipe")
    async with GatewayClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
        result = await sync_directory(catalog, DS, root, message="links")
        paths = [e["path"] async for e in catalog.entries(DS.project, DS.name)]
    assert paths == ["real.txt"]
    assert sorted(p for p, _ in result.skipped) == ["dirlink", "link", "pipe"]
    assert await content_keys(dataset["lake_url"]) == {sha256(b"real")}


async def test_sync_to_a_missing_dataset_names_it(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {"a": b"a"})
    async with GatewayClient(client_settings) as catalog:
        with pytest.raises(GatewayNotFound, match="team/images"):
            await sync_directory(catalog, DS, root, message="x")


async def test_progress_callback_reports_hash_and_upload_phases(client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {f"f{i}": os.urandom(500) for i in range(4)})
    seen = []
    async with GatewayClient(client_settings) as catalog:
        await new_dataset(catalog)
        await sync_directory(catalog, DS, root, message="p", on_progress=seen.append)
    last = {p.phase: p for p in seen}
    assert set(last) == {"scan", "hash", "upload", "commit"}
    assert (last["upload"].files_done, last["upload"].bytes_done, last["upload"].bytes_total) == (4, 2000, 2000)
    assert last["hash"].bytes_total == 2000


async def test_a_viewer_token_cannot_upload_or_commit(stack, client_settings, tmp_path):
    root = write_tree(tmp_path / "data", {"a.txt": b"from a viewer"})
    async with GatewayClient(client_settings) as catalog:
        dataset = await new_dataset(catalog)
    viewer = create_user(stack.base_url, stack.token, "vic", {PROJECT: "viewer"})
    settings = ClientSettings(api_url=stack.base_url, token=viewer, home=tmp_path / "no-home",
                              cache_dir=tmp_path / "viewer-cache")
    async with GatewayClient(settings) as catalog:
        with pytest.raises(GatewayForbidden) as refused:
            await sync_directory(catalog, DS, root, message="not allowed")
    assert refused.value.status == 403
    assert await content_keys(dataset["lake_url"]) == set()
