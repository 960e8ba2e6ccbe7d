"""Sync and import against a real S3 server (versitygw); PUTs counted in its access log."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid

import pytest

from lakecache.core.adapters.registry import object_store_from_url
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.importer import import_prefix
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.staging import plan_tree, stage_tree
from lakecache.sdk.sync import sync_directory
from tests.clients.conftest import run_catalog
from tests.clients.helpers import CountingStore, write_tree

pytestmark = pytest.mark.s3
DS = DatasetRef("team", "s3data")


PUT_OPERATIONS = (" s3_PutObject ", " s3_UploadPart ")


async def put_count(s3_server, bucket: str) -> int:
    """Object and part uploads in the server's access log so far (flushed first)."""
    lines = await s3_server.logged_requests(bucket)
    return sum(1 for line in lines if any(op in line for op in PUT_OPERATIONS))


@pytest.fixture
def bucket(s3_server) -> str:
    name = f"lc-{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        async with s3_server.client() as s3:
            await s3.create_bucket(Bucket=name)

    asyncio.run(create())
    return name


@pytest.fixture
def s3_catalog(s3_server, bucket, tmp_path, monkeypatch):
    yield from run_catalog(
        tmp_path / "home", monkeypatch, lake_url=f"s3://{bucket}", s3_endpoint_url=s3_server.endpoint_url,
        s3_region=s3_server.region, s3_access_key_id=s3_server.access_key, s3_secret_access_key=s3_server.secret_key,
    )


@pytest.fixture
def s3_settings(s3_catalog, s3_server, tmp_path) -> ClientSettings:
    return ClientSettings(
        api_url=s3_catalog.base_url, cache_dir=tmp_path / "client-cache", s3_endpoint_url=s3_server.endpoint_url,
        s3_region=s3_server.region, s3_access_key_id=s3_server.access_key, s3_secret_access_key=s3_server.secret_key,
    )


async def test_resync_puts_only_changed_and_added_files_on_s3(s3_server, s3_settings, bucket, tmp_path):
    root = write_tree(tmp_path / "data", {f"part/{i:02}.bin": os.urandom(3000) for i in range(12)})
    async with CatalogClient(s3_settings) as catalog:
        await catalog.create_dataset(DS.project, DS.name)
        before = await put_count(s3_server, bucket)
        first = await sync_directory(catalog, DS, root, message="first")
        first_puts = await put_count(s3_server, bucket) - before
        # 12 contents, plus the catalog's manifest
        assert first.uploaded == 12 and first_puts == 13

        (root / "part/00.bin").write_bytes(b"changed")
        (root / "part/extra.bin").write_bytes(b"added")
        (root / "part/11.bin").unlink()
        before = await put_count(s3_server, bucket)
        second = await sync_directory(catalog, DS, root, message="second")
        assert second.uploaded == 2 and await put_count(s3_server, bucket) - before == 3

        before = await put_count(s3_server, bucket)
        third = await sync_directory(catalog, DS, root, message="third")
        assert third.unchanged and await put_count(s3_server, bucket) == before


async def test_interrupted_s3_sync_resumes_without_reuploading(s3_server, s3_settings, bucket, tmp_path):
    root = write_tree(tmp_path / "data", {f"f{i:02}": os.urandom(4000) for i in range(10)})
    async with CatalogClient(s3_settings) as catalog:
        dataset = await catalog.create_dataset(DS.project, DS.name)
        tree = plan_tree(root)
        options = s3_settings.lake_options(dataset["lake_url"])
        async with object_store_from_url(dataset["lake_url"], **options) as store:
            before = await put_count(s3_server, bucket)
            with pytest.raises(ExceptionGroup):
                await stage_tree(CountingStore(store, fail_after=3), tree, concurrency=1)
            assert await put_count(s3_server, bucket) - before == 3
        before = await put_count(s3_server, bucket)
        result = await sync_directory(catalog, DS, root, message="resumed")
        assert result.uploaded == 7
        assert await put_count(s3_server, bucket) - before == 8  # 7 contents + the manifest


async def test_import_uses_server_checksums_when_present(s3_server, s3_settings, bucket, tmp_path):
    options = s3_settings.lake_options(f"s3://{bucket}")
    async with object_store_from_url(f"s3://{bucket}/raw", **options) as store:
        for i in range(5):
            await store.put(f"images/{i}.jpg", os.urandom(100 + i))
    async with CatalogClient(s3_settings) as catalog:
        await catalog.create_dataset(DS.project, DS.name)
        before = await put_count(s3_server, bucket)
        result = await import_prefix(catalog, DS, f"s3://{bucket}/raw", message="import")
        entries = [e async for e in catalog.entries(DS.project, DS.name)]
    assert (result.files, result.from_checksum, result.hashed) == (5, 5, 0)
    assert await put_count(s3_server, bucket) - before == 1  # only the manifest: no byte copied
    assert [e["path"] for e in entries] == [f"images/{i}.jpg" for i in range(5)]
    assert entries[0]["object"] == f"s3://{bucket}/raw/images/0.jpg" and entries[0]["etag"]


async def test_import_hashes_objects_without_server_checksums(s3_server, s3_settings, bucket):
    blobs = {f"plain/{i}.txt": os.urandom(50 + i) for i in range(3)}
    async with s3_server.client() as s3:  # a plain put: no SHA-256 checksum kept
        for key, data in blobs.items():
            await s3.put_object(Bucket=bucket, Key=f"legacy/{key}", Body=data)
    async with CatalogClient(s3_settings) as catalog:
        await catalog.create_dataset(DS.project, DS.name)
        result = await import_prefix(catalog, DS, f"s3://{bucket}/legacy", message="legacy")
        entries = {e["path"]: e async for e in catalog.entries(DS.project, DS.name)}
    assert result.files == 3 and result.hashed + result.from_checksum == 3
    for key, data in blobs.items():
        assert entries[key]["sha256"] == hashlib.sha256(data).hexdigest()
