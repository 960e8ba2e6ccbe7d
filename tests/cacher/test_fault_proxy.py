"""Fills through a TCP proxy that corrupts, truncates or drops S3 responses on the wire.

The proxy sits between the S3 adapter and versitygw, so the damage happens below botocore
and aiohttp, where a flaky network or middlebox would cause it. A damaged transfer must be
retried (bounded) and the fill must end byte-identical; damage on every attempt must fail
the fill, naming the object, with nothing published.
"""

from __future__ import annotations

import functools
import hashlib
import os
import uuid
from pathlib import Path

import pytest

from lakecache.cacher.fill import FetchOptions, FillError, fill_commit
from lakecache.core.adapters.registry import object_store_from_url
from tests.cacher.helpers import all_files, chunks, make_commit, tree_of
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.s3

GET_OPERATION = " s3_GetObject "
WHOLE = FetchOptions(max_concurrency=4, backoff_seconds=0.01, attempts=3)
RANGED = FetchOptions(max_concurrency=4, ranged_threshold=64 << 10, part_size=32 << 10,
                      backoff_seconds=0.01, attempts=3)


async def gets_of(s3_server, bucket: str, sha256: str) -> int:
    """GETs of the content ``sha256`` in the server's access log so far (flushed first)."""
    lines = await s3_server.logged_requests(bucket)
    return sum(1 for line in lines if GET_OPERATION in line and bucket in line and sha256 in line)


@pytest.fixture
async def lake(s3_server):
    bucket = f"lc-{uuid.uuid4().hex[:10]}"
    async with s3_server.client() as s3:
        await s3.create_bucket(Bucket=bucket)
    options = {"endpoint_url": s3_server.endpoint_url, "region": s3_server.region,
               "access_key_id": s3_server.access_key, "secret_access_key": s3_server.secret_key}
    files = {f"shard/{i}.bin": os.urandom(200_000 + i) for i in range(3)}
    lake_url = f"s3://{bucket}/datasets/team/ds"
    commit, manifest = await make_commit(lake_url, files, options)
    async with FaultProxy.for_url(s3_server.endpoint_url) as proxy:
        open_store = functools.partial(object_store_from_url, **dict(options, endpoint_url=proxy.url))
        yield {"bucket": bucket, "files": files, "lake_url": lake_url, "commit": commit,
               "manifest": manifest, "proxy": proxy, "open_store": open_store}


async def fill(lake, volume: Path, options: FetchOptions):
    return await fill_commit(volume, "team", "ds", lake["commit"], chunks(lake["manifest"]), lake["open_store"],
                             lake_url=lake["lake_url"], parents=[], options=options)


@pytest.mark.parametrize("fault", ["flip", "truncate", "reset"])
@pytest.mark.parametrize("options", [WHOLE, RANGED], ids=["whole", "ranged"])
async def test_damaged_response_is_refetched_and_the_fill_is_byte_identical(
    s3_server, lake, volume, fault, options
):
    target = "shard/1.bin"
    sha = hashlib.sha256(lake["files"][target]).hexdigest()
    proxy: FaultProxy = lake["proxy"]
    before = await gets_of(s3_server, lake["bucket"], sha)
    proxy.arm(fault, count=1, after=1000, path_contains=sha)

    result = await fill(lake, volume, options)

    assert proxy.faults_applied == 1 and proxy.applied[0].fault == fault
    assert tree_of(result.view_path) == lake["files"]
    for path, data in lake["files"].items():
        on_disk = (result.view_path / path).read_bytes()
        assert hashlib.sha256(on_disk).hexdigest() == hashlib.sha256(data).hexdigest()
    requests_per_try = 1 if options is WHOLE else -(-len(lake["files"][target]) // options.part_size)
    assert await gets_of(s3_server, lake["bucket"], sha) - before > requests_per_try  # a refetch
    assert all_files(volume / ".lakecache" / "tmp") == []


async def test_corruption_on_every_ranged_attempt_fails_naming_the_object(s3_server, lake, volume):
    target = "shard/2.bin"
    sha = hashlib.sha256(lake["files"][target]).hexdigest()
    proxy: FaultProxy = lake["proxy"]
    proxy.arm("flip", count=1000, path_contains=sha)

    with pytest.raises(FillError) as caught:
        await fill(lake, volume, RANGED)

    assert caught.value.retryable is False
    assert caught.value.failed_paths == [target]
    assert sha in caught.value.reason and "do not match the manifest's sha256" in caught.value.reason
    assert f"after {RANGED.attempts} attempts" in caught.value.reason
    assert not (volume / "team" / "ds" / lake["commit"]).exists()
    assert all_files(volume / ".lakecache" / "tmp") == []
    assert all_files(volume / ".lakecache" / "staging") == []


async def test_corruption_on_every_whole_object_attempt_fails_naming_the_object(s3_server, lake, volume):
    """Whole-object GETs ask for the S3 checksum, so botocore rejects the bytes at EOF."""
    target = "shard/0.bin"
    sha = hashlib.sha256(lake["files"][target]).hexdigest()
    proxy: FaultProxy = lake["proxy"]
    proxy.arm("flip", count=1000, path_contains=sha)

    with pytest.raises(FillError) as caught:
        await fill(lake, volume, WHOLE)

    assert caught.value.failed_paths == [target] and sha in caught.value.reason
    assert f"after {WHOLE.attempts} attempts" in caught.value.reason
    assert proxy.faults_applied == WHOLE.attempts
    assert not (volume / "team" / "ds" / lake["commit"]).exists()
    assert all_files(volume / ".lakecache" / "tmp") == []
