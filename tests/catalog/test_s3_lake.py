"""Uploads, imports and manifest checks on an S3 lake (versitygw): users need only the catalog.

Presigned PUT URLs are checked against the real server: it must store the declared content and
refuse any other body, length or key.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import uuid

import aiohttp
import pytest

from lakecache.catalog.api import ROUTES
from lakecache.catalog.bootstrap import SERVICE
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.layout import content_key
from lakecache.core.runtime import start_service
from tests.catalog.conftest import CatalogClient, entry
from tests.support.identity import internal_session

pytestmark = pytest.mark.s3


@pytest.fixture
async def s3_api(tmp_path, s3_server, monkeypatch):
    bucket = await s3_server.new_bucket("catalog")
    monkeypatch.setenv("LAKECACHE_CATALOG__PORT", "0")
    settings = SERVICE.settings_type(home=tmp_path, bus_url=f"memory://catalog-{uuid.uuid4().hex[:8]}",
                                     lake_url=f"s3://{bucket}", **s3_server.lake_settings())
    async with start_service(SERVICE, settings) as running, \
            internal_session(tmp_path, "catalog", ROUTES) as session:
        yield CatalogClient(running, session)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def upload_plan(api, *contents: bytes) -> list[dict]:
    reply = await api.call("POST", "/api/v1/datasets/vision/cats/uploads",
                           json_body={"contents": [{"sha256": sha(c), "size": len(c)} for c in contents]})
    assert reply.status == 200, reply.body
    return reply.body["items"]


async def send(upload: dict, body: bytes, url: str | None = None) -> int:
    headers = {**upload["headers"], "Content-Length": str(len(body))}  # what an HTTP client sends
    async with aiohttp.ClientSession() as http, \
            http.request(upload["method"], url or upload["url"], data=body, headers=headers) as answer:
        return answer.status


async def test_a_client_uploads_through_presigned_urls_and_commits_without_lake_credentials(s3_api):
    dataset = await s3_api.create("vision", "cats")
    files = {"a.bin": os.urandom(2000), "b.bin": os.urandom(10), "empty": b""}

    items = await upload_plan(s3_api, *files.values())
    for item, data in zip(items, files.values(), strict=True):
        upload = item["upload"]
        assert item["present"] is False and upload["method"] == "PUT"
        assert upload["url"].startswith("http") and upload["expires_at"].endswith("Z")
        assert f"/vision/cats/{content_key(sha(data))}?" in upload["url"]
        assert upload["headers"]["Content-Length"] == str(len(data))
        assert "x-amz-checksum-sha256" in upload["headers"]
        assert await send(upload, data) == 200

    assert [i["present"] for i in await upload_plan(s3_api, *files.values())] == [True, True, True]
    commit = await s3_api.committed("vision", "cats", [entry(p, d) for p, d in files.items()])
    lake = s3_api.running.resources.lake
    assert await lake.read(f"vision/cats/{content_key(sha(files['a.bin']))}") == files["a.bin"]
    assert dataset["lake_url"].startswith("s3://") and commit


async def test_a_presigned_url_stores_nothing_but_the_declared_content_at_its_key(s3_api):
    await s3_api.create("vision", "cats")
    declared = os.urandom(500)
    [item] = await upload_plan(s3_api, declared)
    upload = item["upload"]

    assert 400 <= await send(upload, os.urandom(500)) < 500  # other bytes, same length
    assert 400 <= await send(upload, declared[:-1]) < 500  # another length
    elsewhere = upload["url"].replace(sha(declared), sha(b"other"), 1)
    assert 400 <= await send(upload, declared, url=elsewhere) < 500  # another key
    [still] = await upload_plan(s3_api, declared)
    assert still["present"] is False
    assert not await s3_api.running.resources.lake.exists(f"vision/cats/{content_key(sha(b'other'))}")


async def test_content_uploads_through_the_catalog_also_work_on_s3(s3_api):
    await s3_api.create("vision", "cats")
    data = os.urandom(1234)

    reply = await s3_api.call("PUT", f"/api/v1/datasets/vision/cats/contents/{sha(data)}", data=data,
                              headers={"Content-Type": "application/octet-stream"})
    forged = await s3_api.call("PUT", f"/api/v1/datasets/vision/cats/contents/{sha(b'x' * 1234)}", data=data,
                               headers={"Content-Type": "application/octet-stream"})

    assert reply.status == 201 and reply.body["created"] is True
    assert forged.status == 400
    assert [i["present"] for i in await upload_plan(s3_api, data, b"x" * 1234)] == [True, False]


async def test_an_s3_import_uses_server_checksums_or_hashes_and_skips_markers(s3_api, s3_server):
    await s3_api.create("vision", "cats")
    bucket = s3_api.running.resources.lake.url.removeprefix("s3://").split("/")[0]
    options = s3_api.running.resources.settings.lake_options_for(f"s3://{bucket}")
    checked = {f"checked/{i}.jpg": os.urandom(100 + i) for i in range(3)}
    plain = {f"plain/{i}.txt": os.urandom(50 + i) for i in range(2)}
    async with object_store_from_url(f"s3://{bucket}/raw/vision", **options) as store:
        for key, data in checked.items():
            await store.put(key, data)  # keeps a full-object SHA-256 checksum
    async with s3_server.client() as s3:
        for key, data in plain.items():  # a plain put: no checksum kept
            await s3.put_object(Bucket=bucket, Key=f"raw/vision/{key}", Body=data)
        await s3.put_object(Bucket=bucket, Key="raw/vision/folder/", Body=b"")
    assert (await s3_api.register_import("vision", "raw", f"s3://{bucket}/raw/vision")).status == 201

    reply = await s3_api.call("POST", "/api/v1/datasets/vision/cats/imports",
                              json_body={"source": f"s3://{bucket}/raw/vision", "message": "raw"})

    assert reply.status == 201, reply.body
    assert (reply.body["files"], reply.body["from_checksum"], reply.body["hashed"]) == (5, 3, 2)
    assert {"path": "folder/", "reason": "directory marker"} in reply.body["skipped"]
    listed = await s3_api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries")
    entries = {e["path"]: e for e in listed.body["items"]}
    for key, data in {**checked, **plain}.items():
        assert entries[key]["sha256"] == sha(data)
        assert entries[key]["object"] == f"s3://{bucket}/raw/vision/{key}"


async def test_a_manifest_overwritten_in_the_s3_lake_is_refused(s3_api):
    await s3_api.create("vision", "cats")
    commit = await s3_api.committed("vision", "cats", [entry("a", "a"), entry("b", "b")])
    doc = await s3_api.stored("commits").find_one({"id": commit})
    forged = gzip.compress(b'{"path":"a","size":1,"sha256":"' + sha(b"a").encode() + b'"}\n')  # "b" dropped

    await s3_api.running.resources.lake.put(doc["manifest_key"], forged)
    reply = await s3_api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries")

    assert reply.status == 409 and commit in reply.body["detail"]
