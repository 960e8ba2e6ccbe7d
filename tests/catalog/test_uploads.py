"""Uploads through the catalog on the embedded lake: a client needs no lake credentials, and only
bytes that hash to the declared sha256 land under its key."""

from __future__ import annotations

import hashlib
import os

import aiohttp
import pytest

from lakecache.core.layout import content_key
from tests.catalog.conftest import entry
from tests.support.http import call
from tests.support.identity import assertion_headers, gateway_keys

OCTET = {"Content-Type": "application/octet-stream"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def plan(api, contents: list[dict], project: str = "vision", name: str = "cats"):
    return await api.call("POST", f"/api/v1/datasets/{project}/{name}/uploads", json_body={"contents": contents})


async def put(api, digest: str, data: bytes, *, headers: dict | None = None):
    return await api.call("PUT", f"/api/v1/datasets/vision/cats/contents/{digest}", data=data,
                          headers={**OCTET, **(headers or {})})


async def stored(api, digest: str) -> bytes | None:
    lake = api.running.resources.lake
    key = f"vision/cats/{content_key(digest)}"
    return await lake.read(key) if await lake.exists(key) else None


async def test_missing_contents_are_uploaded_through_the_catalog_and_then_present(api):
    await api.create("vision", "cats")
    data = os.urandom(3 * 1024 * 1024 + 7)  # several chunks
    empty = b""

    first = await plan(api, [{"sha256": sha(data), "size": len(data)}, {"sha256": sha(empty), "size": 0}])
    assert first.status == 200
    for item in first.body["items"]:
        assert item["present"] is False
        assert item["upload"] == {"method": "PUT", "url": None, "headers": OCTET, "expires_at": None}

    created = await put(api, sha(data), data)
    assert created.status == 201 and created.body == {"sha256": sha(data), "size": len(data), "created": True}
    assert (await put(api, sha(empty), empty)).status == 201
    again = await put(api, sha(data), data)
    assert again.status == 201 and again.body["created"] is False
    assert await stored(api, sha(data)) == data

    second = await plan(api, [{"sha256": sha(data), "size": len(data)}, {"sha256": sha(empty), "size": 0}])
    assert [(i["present"], i["upload"]) for i in second.body["items"]] == [(True, None), (True, None)]
    # Committing the uploaded contents needs no object URL: they are in the dataset's store.
    assert await api.committed("vision", "cats", [entry("big.bin", data), entry("empty", empty)])


async def test_an_upload_whose_bytes_differ_from_the_declared_hash_stores_nothing(api):
    await api.create("vision", "cats")
    declared, sent = b"what I promised", b"something else!"

    reply = await put(api, sha(declared), sent)

    assert reply.status == 400 and reply.body["type"] == "urn:lakecache:problem:content-mismatch"
    assert "nothing was stored" in reply.body["detail"]
    assert await stored(api, sha(declared)) is None
    assert list((api.running.resources.settings.home / "tmp" / "catalog").glob("upload-*")) == []


async def test_a_content_of_another_size_under_the_key_is_not_present(api):
    await api.create("vision", "cats")
    data = b"content"
    await api.running.resources.lake.put(f"vision/cats/{content_key(sha(data))}", b"truncated")

    reply = await plan(api, [{"sha256": sha(data), "size": len(data)}])
    assert reply.body["items"][0]["present"] is False
    replaced = await put(api, sha(data), data)
    assert replaced.status == 201 and replaced.body["created"] is True
    assert await stored(api, sha(data)) == data


@pytest.mark.parametrize("body", [
    {}, {"contents": []}, {"contents": "x"}, {"contents": [{"sha256": "0" * 63, "size": 1}]},
    {"contents": [{"sha256": "A" * 64, "size": 1}]}, {"contents": [{"sha256": "0" * 64, "size": -1}]},
    {"contents": [{"sha256": "0" * 64, "size": True}]}, {"contents": [{"sha256": "0" * 64}]},
    {"contents": [{"sha256": "0" * 64, "size": 1}, {"sha256": "0" * 64, "size": 1}]},
    {"contents": [{"sha256": f"{i:064x}", "size": 1} for i in range(1001)]},
    {"contents": [{"sha256": "0" * 64, "size": 6 * 1024**3}]},
])
async def test_malformed_upload_requests_are_refused(api, body):
    await api.create("vision", "cats")

    reply = await api.call("POST", "/api/v1/datasets/vision/cats/uploads", json_body=body)

    assert reply.status == 400 and reply.content_type == "application/problem+json"


async def test_content_uploads_need_a_length_a_hex_name_and_a_known_dataset(api):
    await api.create("vision", "cats")

    async def chunks():
        yield b"streamed without a length"

    unsized = await api.call("PUT", f"/api/v1/datasets/vision/cats/contents/{sha(b'x')}", data=chunks(),
                             headers=OCTET)
    assert unsized.status == 411 and unsized.body["type"] == "urn:lakecache:problem:length-required"
    assert (await put(api, "not-a-hash", b"x")).status == 400
    json_typed = await api.call("PUT", f"/api/v1/datasets/vision/cats/contents/{sha(b'x')}", data=b"x",
                                headers={"Content-Type": "application/json"})
    assert json_typed.status == 400
    missing = await api.call("PUT", f"/api/v1/datasets/vision/none/contents/{sha(b'x')}", data=b"x", headers=OCTET)
    assert missing.status == 404


async def test_an_upload_over_the_configured_limit_is_refused_before_it_is_read(api):
    await api.create("vision", "cats")
    api.catalog.upload_max_bytes = 10
    data = b"eleven bytes"

    reply = await put(api, sha(data), data)

    assert reply.status == 413 and reply.body["type"] == "urn:lakecache:problem:payload-too-large"
    assert await stored(api, sha(data)) is None


async def test_an_editor_of_another_project_cannot_upload_into_this_dataset(api):
    await api.create("vision", "cats")
    data = b"planted"
    target = f"/api/v1/datasets/vision/cats/contents/{sha(data)}"
    signed = assertion_headers(gateway_keys(api.running.resources.settings.home), "catalog", "PUT", target,
                               action="datasets:write", project="nlp")
    async with aiohttp.ClientSession() as session:
        reply = await call(session, api.running.base_url, "PUT", target, data=data, headers={**signed, **OCTET})

    assert reply.status == 403
    assert await stored(api, sha(data)) is None
