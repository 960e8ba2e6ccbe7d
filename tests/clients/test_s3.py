"""Sync and import on an S3 lake (versitygw) through the gateway, as a user whose only
credential is a LakeCache token: contents go straight to the lake through presigned URLs,
imports are read by the catalog. PUTs are counted in the server's access log."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from lakecache.core.adapters.registry import object_store_from_url
from lakecache.sdk import uploads
from lakecache.sdk.gateway import GatewayClient, GatewayUnavailable
from lakecache.sdk.importer import import_source
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.clients.helpers import write_tree
from tests.support.stack import STACK_VOLUME, Stack, create_user, gateway_call, served_stack

pytestmark = pytest.mark.s3
DS = DatasetRef("team", "s3data")
PUT_OPERATIONS = (" s3_PutObject ", " s3_UploadPart ")


async def put_count(s3_server, bucket: str) -> int:
    """Object and part uploads in the server's access log so far (flushed first)."""
    lines = await s3_server.logged_requests(bucket)
    return sum(1 for line in lines if any(op in line for op in PUT_OPERATIONS))


def s3_options(s3_server) -> dict:
    return {"s3_endpoint_url": s3_server.endpoint_url, "s3_region": s3_server.region,
            "s3_access_key_id": s3_server.access_key, "s3_secret_access_key": s3_server.secret_key}


@pytest.fixture
def bucket(s3_server) -> str:
    name = f"lc-{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        async with s3_server.client() as s3:
            await s3.create_bucket(Bucket=name)

    asyncio.run(create())
    return name


@pytest.fixture
def s3_stack(s3_server, bucket, tmp_path, monkeypatch) -> Iterator[Stack]:
    """The stack on the S3 lake; the lake's credentials are the services' settings only."""
    monkeypatch.chdir(tmp_path)
    for name in ("LAKECACHE_CONFIG", "LAKECACHE_S3_ACCESS_KEY_ID", "LAKECACHE_S3_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    with served_stack(tmp_path / "home", tmp_path / STACK_VOLUME, lake_url=f"s3://{bucket}",
                      **s3_options(s3_server)) as running:
        yield running


@pytest.fixture
def user(s3_stack, tmp_path) -> ClientSettings:
    token = create_user(s3_stack.base_url, s3_stack.token, "ada", {DS.project: "editor"})
    return ClientSettings(api_url=s3_stack.base_url, token=token, home=tmp_path / "no-home",
                          cache_dir=tmp_path / "client-cache")


def spy_on_uploads(monkeypatch) -> list[str | None]:
    """Where each upload went: the presigned URL's host, or None for the gateway."""
    real, hosts = uploads.Uploader._send, []

    async def send(self, lake, file, ticket, tracker):
        hosts.append(urlsplit(ticket.url).netloc if ticket.url else None)
        return await real(self, lake, file, ticket, tracker)

    monkeypatch.setattr(uploads.Uploader, "_send", send)
    return hosts


async def test_resync_puts_only_changed_and_added_files_straight_to_s3(s3_server, bucket, user, tmp_path, monkeypatch):
    root = write_tree(tmp_path / "data", {f"part/{i:02}.bin": os.urandom(3000) for i in range(12)})
    hosts = spy_on_uploads(monkeypatch)
    async with GatewayClient(user) as catalog:
        await catalog.create_dataset(DS.project, DS.name)
        before = await put_count(s3_server, bucket)
        first = await sync_directory(catalog, DS, root, message="first")
        # 12 contents, plus the catalog's manifest
        assert first.uploaded == 12 and await put_count(s3_server, bucket) - before == 13
        assert hosts == [urlsplit(s3_server.endpoint_url).netloc] * 12  # presigned: not through the gateway

        (root / "part/00.bin").write_bytes(b"changed")
        (root / "part/extra.bin").write_bytes(b"added")
        (root / "part/11.bin").unlink()
        before = await put_count(s3_server, bucket)
        second = await sync_directory(catalog, DS, root, message="second")
        assert second.uploaded == 2 and await put_count(s3_server, bucket) - before == 3

        before = await put_count(s3_server, bucket)
        third = await sync_directory(catalog, DS, root, message="third")
        assert third.unchanged and await put_count(s3_server, bucket) == before


async def test_interrupted_s3_sync_resumes_without_reuploading(s3_server, bucket, user, tmp_path, monkeypatch):
    root = write_tree(tmp_path / "data", {f"f{i:02}": os.urandom(4000) for i in range(10)})
    real, sent = uploads.Uploader._send, []

    async def lose_the_network_after_three(self, lake, file, ticket, tracker):
        if len(sent) == 3:
            raise GatewayUnavailable("the connection failed (simulated)")
        sent.append(file.path)
        return await real(self, lake, file, ticket, tracker)

    async with GatewayClient(user) as catalog:
        await catalog.create_dataset(DS.project, DS.name)
        monkeypatch.setattr(uploads.Uploader, "_send", lose_the_network_after_three)
        before = await put_count(s3_server, bucket)
        with pytest.raises(GatewayUnavailable, match="simulated"):
            await sync_directory(catalog, DS, root, message="cut off", concurrency=1)
        assert await put_count(s3_server, bucket) - before == 3
        monkeypatch.setattr(uploads.Uploader, "_send", real)
        before = await put_count(s3_server, bucket)
        result = await sync_directory(catalog, DS, root, message="resumed")
        assert (result.present, result.uploaded) == (3, 7)
        assert await put_count(s3_server, bucket) - before == 8  # 7 contents + the manifest


async def test_import_from_a_registered_location_uses_server_checksums(s3_server, s3_stack, bucket, user):
    async with object_store_from_url(f"s3://{bucket}/raw", **{k.removeprefix("s3_"): v for k, v in
                                                               s3_options(s3_server).items()}) as store:
        for i in range(5):
            await store.put(f"images/{i}.jpg", os.urandom(100 + i))
    gateway_call(s3_stack.base_url, s3_stack.token, "PUT", f"/api/v1/projects/{DS.project}/import-locations/raw",
                 {"url": f"s3://{bucket}/raw"})
    async with GatewayClient(user) as catalog:
        await catalog.create_dataset(DS.project, DS.name)
        before = await put_count(s3_server, bucket)
        result = await import_source(catalog, DS, f"s3://{bucket}/raw", message="import")
        entries = [e async for e in catalog.entries(DS.project, DS.name)]
    assert (result.files, result.from_checksum, result.hashed) == (5, 5, 0)
    assert await put_count(s3_server, bucket) - before == 1  # only the manifest: no byte copied
    assert [e["path"] for e in entries] == [f"images/{i}.jpg" for i in range(5)]
    assert entries[0]["object"] == f"s3://{bucket}/raw/images/0.jpg" and entries[0]["etag"]


async def test_import_hashes_objects_without_server_checksums(s3_server, s3_stack, bucket, user):
    blobs = {f"plain/{i}.txt": os.urandom(50 + i) for i in range(3)}
    async with s3_server.client() as s3:  # a plain put: no SHA-256 checksum kept
        for key, data in blobs.items():
            await s3.put_object(Bucket=bucket, Key=f"legacy/{key}", Body=data)
    gateway_call(s3_stack.base_url, s3_stack.token, "PUT", f"/api/v1/projects/{DS.project}/import-locations/legacy",
                 {"url": f"s3://{bucket}/legacy"})
    async with GatewayClient(user) as catalog:
        await catalog.create_dataset(DS.project, DS.name)
        result = await import_source(catalog, DS, f"s3://{bucket}/legacy", message="legacy")
        entries = {e["path"]: e async for e in catalog.entries(DS.project, DS.name)}
    assert result.files == 3 and result.hashed + result.from_checksum == 3
    for key, data in blobs.items():
        assert entries[key]["sha256"] == hashlib.sha256(data).hexdigest()
