"""A full volume (real ENOSPC on a small tmpfs) and GET counts on a real S3 server."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import uuid

import pytest

from lakecache.cacher.fill import FetchOptions, FillError, fill_commit
from lakecache.core.adapters.registry import object_store_from_url
from tests.cacher.helpers import all_files, chunks, make_commit, mount_tmpfs, tree_of


async def test_full_volume_fails_cleanly_and_the_fill_succeeds_after_enlarging(tmp_path, lake_url):
    volume = tmp_path / "small-volume"
    volume.mkdir()
    files = {f"f/{i}.bin": os.urandom(300_000) for i in range(6)}  # 1.8 MB on a 1 MiB volume
    commit, manifest = await make_commit(lake_url, files)
    mount_tmpfs(volume, "size=1m,mode=0755", purpose="the ENOSPC test")
    try:
        with pytest.raises(FillError) as caught:
            await fill_commit(volume, "team", "ds", commit, chunks(manifest), object_store_from_url,
                              lake_url=lake_url, parents=[], check_space=False)
        assert caught.value.retryable is True
        assert "full" in caught.value.reason and caught.value.failed_paths[0] in files
        assert all_files(volume / ".lakecache" / "tmp") == []
        assert all_files(volume / ".lakecache" / "staging") == []
        assert not (volume / "team" / "ds" / commit).exists()

        with pytest.raises(FillError) as precheck:  # with the space check, it fails before any GET
            await fill_commit(volume, "team", "ds", commit, chunks(manifest), object_store_from_url,
                              lake_url=lake_url, parents=[])
        assert precheck.value.retryable is True and "only" in precheck.value.reason

        await asyncio.to_thread(subprocess.run, ["mount", "-o", "remount,size=4m", str(volume)], check=True)
        result = await fill_commit(volume, "team", "ds", commit, chunks(manifest), object_store_from_url,
                                   lake_url=lake_url, parents=[])
        assert tree_of(result.view_path) == files
        assert all_files(volume / ".lakecache" / "tmp") == []
    finally:
        await asyncio.to_thread(subprocess.run, ["umount", str(volume)], check=False)


@pytest.mark.s3
@pytest.mark.parametrize("size", [300_000, 3 << 20], ids=["one-get", "parallel-parts"])
async def test_full_volume_fails_cleanly_when_s3_objects_are_written_natively(s3_server, tmp_path, size):
    # On S3 the runtime's threads write the bytes: a small object from one GET, a large one
    # (above ranged_threshold) from parallel ranged GETs. Either way ENOSPC is a full volume.
    bucket = f"lc-{uuid.uuid4().hex[:10]}"
    async with s3_server.client() as s3:
        await s3.create_bucket(Bucket=bucket)
    options = {"endpoint_url": s3_server.endpoint_url, "region": s3_server.region,
               "access_key_id": s3_server.access_key, "secret_access_key": s3_server.secret_key}
    lake_url = f"s3://{bucket}/datasets/team/ds"
    files = {f"f/{i}.bin": os.urandom(size) for i in range(2 if size > 1 << 20 else 6)}
    commit, manifest = await make_commit(lake_url, files, options)
    volume = tmp_path / "small-volume"
    volume.mkdir()
    mount_tmpfs(volume, "size=1m,mode=0755", purpose="the ENOSPC test")
    try:
        with pytest.raises(FillError) as caught:
            await fill_commit(volume, "team", "ds", commit, chunks(manifest),
                              functools.partial(object_store_from_url, **options), lake_url=lake_url, parents=[],
                              check_space=False, options=FetchOptions(ranged_threshold=1 << 20, part_size=1 << 20))
        assert caught.value.retryable is True
        assert "full" in caught.value.reason and caught.value.failed_paths[0] in files
        assert all_files(volume / ".lakecache" / "tmp") == []
        assert not (volume / "team" / "ds" / commit).exists()
    finally:
        await asyncio.to_thread(subprocess.run, ["umount", str(volume)], check=False)


GET_OPERATION = " s3_GetObject "


async def get_count(s3_server, bucket: str) -> int:
    """GETs in the server's access log so far (flushed first)."""
    return sum(1 for line in await s3_server.logged_requests(bucket) if GET_OPERATION in line and bucket in line)


@pytest.mark.s3
async def test_new_version_fetches_only_changed_objects_from_s3(s3_server, tmp_path):
    bucket = f"lc-{uuid.uuid4().hex[:10]}"
    async with s3_server.client() as s3:
        await s3.create_bucket(Bucket=bucket)
    options = {"endpoint_url": s3_server.endpoint_url, "region": s3_server.region,
               "access_key_id": s3_server.access_key, "secret_access_key": s3_server.secret_key}
    open_store = functools.partial(object_store_from_url, **options)
    lake_url = f"s3://{bucket}/datasets/team/ds"
    volume = tmp_path / "volume"
    volume.mkdir()
    base = {f"shard/{i:03}.bin": os.urandom(4000) for i in range(100)}
    first, m1 = await make_commit(lake_url, base, options)
    changed = dict(base, **{f"shard/{i:03}.bin": os.urandom(4000) for i in range(0, 100, 20)})  # 5 %
    second, m2 = await make_commit(lake_url, changed, options)

    before = await get_count(s3_server, bucket)
    one = await fill_commit(volume, "team", "ds", first, chunks(m1), open_store, lake_url=lake_url, parents=[])
    middle = await get_count(s3_server, bucket)
    two = await fill_commit(volume, "team", "ds", second, chunks(m2), open_store, lake_url=lake_url, parents=[])
    after = await get_count(s3_server, bucket)

    assert middle - before == 100 == one.objects_fetched
    assert after - middle == 5 == two.objects_fetched
    assert two.bytes_fetched == 5 * 4000 and two.bytes_deduplicated == 95 * 4000
    assert tree_of(two.view_path) == changed
