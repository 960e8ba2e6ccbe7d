"""The object-store conformance suite against ``S3ObjectStore`` on versitygw (posix backend)."""

from __future__ import annotations

import os
import uuid

import pytest
from aiobotocore.session import get_session

from lakecache.core.adapters.objects.s3 import S3ObjectStore
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.errors import (
    ConfigurationError,
    Conflict,
    InvalidArgument,
    PreconditionFailed,
    Unavailable,
)
from tests.ports.objectstore_suite import ObjectStoreConformance, PresignedUploadConformance

pytestmark = pytest.mark.s3

PREFIX = "lake/prefix/"


def raw_client(server):
    return get_session().create_client(
        "s3", endpoint_url=server.endpoint_url, region_name=server.region,
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
    )


async def create_bucket(server, name: str) -> None:
    async with raw_client(server) as client:
        await client.create_bucket(Bucket=name)


@pytest.fixture
async def store(s3_server):
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    await create_bucket(s3_server, bucket)
    suite = ObjectStoreConformance
    lake = S3ObjectStore.from_url(
        f"s3://{bucket}/{PREFIX}",
        endpoint_url=s3_server.endpoint_url, region=s3_server.region,
        access_key_id=s3_server.access_key, secret_access_key=s3_server.secret_key,
        chunk_size=suite.CHUNK_SIZE, multipart_threshold=suite.MULTIPART_THRESHOLD,
        part_size=suite.PART_SIZE, max_concurrency=suite.MAX_CONCURRENCY,
    )
    async with lake:
        yield lake


class TestS3ObjectStore(ObjectStoreConformance, PresignedUploadConformance):
    LONGEST_KEY = 1024 - len(PREFIX)  # S3's limit applies to the full key
    PRESIGNS = True

    # versitygw's posix backend stores each key as a file path, so `a` (a file) and `a/b`
    # (a file under directory `a`) cannot both exist; it answers 409 ObjectParentIsFile,
    # which the adapter reports as Conflict. AWS S3 and the local store hold both. A wrapper,
    # not the mark applied to the inherited function: that would mark the shared function
    # itself, and every other adapter's run of the suite after this module was imported.
    @pytest.mark.xfail(reason="versitygw posix backend maps keys onto files (409 ObjectParentIsFile)",
                       raises=Conflict, strict=True)
    async def test_a_key_and_a_key_below_it_coexist(self, store):
        await ObjectStoreConformance.test_a_key_and_a_key_below_it_coexist(self, store)


async def test_keys_are_relative_to_the_url_prefix(s3_server):
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    await create_bucket(s3_server, bucket)
    options = dict(endpoint_url=s3_server.endpoint_url, region=s3_server.region,
                   access_key_id=s3_server.access_key, secret_access_key=s3_server.secret_key)
    async with S3ObjectStore.from_url(f"s3://{bucket}/team/lake", **options) as inner:
        await inner.put("ds/file", b"inner")
    async with S3ObjectStore.from_url(f"s3://{bucket}", **options) as whole:
        assert [o.key async for o in whole.iter_objects()] == ["team/lake/ds/file"]
        assert await whole.read("team/lake/ds/file") == b"inner"


def test_registry_builds_the_s3_store_without_io():
    lake = object_store_from_url("s3://bucket/some/prefix/", endpoint_url="http://127.0.0.1:1")

    assert isinstance(lake, S3ObjectStore)
    assert lake.url == "s3://bucket/some/prefix"


@pytest.mark.parametrize(
    "url", ["s3://", "s3://key:secret@bucket/x", "s3://bucket?region=x", "http://bucket"]
)
def test_malformed_s3_urls_raise_configuration_error(url):
    with pytest.raises(ConfigurationError, match="s3://bucket"):
        S3ObjectStore.from_url(url)


def test_part_size_below_the_s3_minimum_is_refused():
    with pytest.raises(ConfigurationError, match="part_size"):
        S3ObjectStore.from_url("s3://bucket", part_size=1024)


async def test_large_puts_go_multipart_and_failed_ones_leave_no_upload(store, s3_server):
    bucket = store.url.removeprefix("s3://").split("/")[0]
    data = os.urandom(ObjectStoreConformance.PART_SIZE * 2 + 1)

    info = await store.put("big", data)
    with pytest.raises(PreconditionFailed):
        await store.put("big", data, if_none_match=True)
    with pytest.raises(InvalidArgument):
        await store.put("other", data, sha256="0" * 64)

    assert info.etag.endswith('-3"')  # three parts: 5 MiB, 5 MiB, 1 byte
    async with raw_client(s3_server) as client:
        uploads = await client.list_multipart_uploads(Bucket=bucket)
    assert uploads.get("Uploads", []) == []


async def test_wrong_credentials_raise_configuration_error(s3_server):
    lake = S3ObjectStore.from_url(
        "s3://any-bucket", endpoint_url=s3_server.endpoint_url, region=s3_server.region,
        access_key_id=s3_server.access_key, secret_access_key="wrong-secret",
    )
    async with lake:
        with pytest.raises(ConfigurationError, match="s3://any-bucket/k"):
            await lake.head("k")


async def test_unreachable_server_raises_unavailable():
    lake = S3ObjectStore.from_url(
        "s3://bucket", endpoint_url="http://127.0.0.1:9", access_key_id="a", secret_access_key="b",
        max_attempts=1,
    )
    async with lake:
        with pytest.raises(Unavailable, match="s3://bucket/k"):
            await lake.head("k")
