"""The catalog answers only requests the gateway signed, for the action and project they touch.

A few routes as an attacker on the host would try them; the full route × credential matrix lives
with the gateway's tests.
"""

from __future__ import annotations

import aiohttp

from tests.catalog.conftest import entry, ndjson
from tests.support.http import call
from tests.support.identity import assertion_headers, gateway_keys

NDJSON = {"Content-Type": "application/x-ndjson"}


async def _datasets(api, project: str) -> list[str]:
    reply = await api.call("GET", "/api/v1/datasets", params={"project": project})
    assert reply.status == 200
    return [d["name"] for d in reply.body["items"]]


async def test_requests_without_a_credential_are_refused_and_change_nothing(api):
    await api.create("vision", "cats")
    base = api.running.base_url
    async with aiohttp.ClientSession() as anonymous:
        listed = await call(anonymous, base, "GET", "/api/v1/datasets", params={"project": "vision"})
        created = await call(anonymous, base, "POST", "/api/v1/datasets", json_body={"project": "vision", "name": "x"})
        committed = await call(anonymous, base, "POST", "/api/v1/datasets/vision/cats/commits",
                               data=ndjson({"message": "m"}, [entry("a", "a")]), headers=NDJSON)
    for reply in (listed, created, committed):
        assert reply.status == 401 and reply.content_type == "application/problem+json"
        assert reply.body["type"] == "urn:lakecache:problem:unauthenticated"
    assert await _datasets(api, "vision") == ["cats"]
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"] is None


async def test_a_forged_user_header_alone_proves_nothing(api):
    base = api.running.base_url
    async with aiohttp.ClientSession(headers={"X-LakeCache-User": "user:admin"}) as forger:
        created = await call(forger, base, "POST", "/api/v1/datasets", json_body={"project": "vision", "name": "x"})
        shown = await call(forger, base, "GET", "/api/v1/projects/vision/import-locations")
    assert created.status == 401 and shown.status == 401
    assert await _datasets(api, "vision") == []


async def test_an_assertion_for_another_project_is_forbidden(api):
    await api.create("vision", "cats")
    keys = gateway_keys(api.running.resources.settings.home)
    target = "/api/v1/datasets/vision/cats/commits"
    signed = assertion_headers(keys, "catalog", "POST", target, action="datasets:write", project="nlp")
    async with aiohttp.ClientSession() as session:
        commit = await call(session, api.running.base_url, "POST", target,
                            data=ndjson({"message": "m"}, [entry("a", "a")]), headers={**signed, **NDJSON})
        create_signed = assertion_headers(keys, "catalog", "POST", "/api/v1/datasets", action="datasets:write",
                                          project="nlp")
        created = await call(session, api.running.base_url, "POST", "/api/v1/datasets",
                             json_body={"project": "vision", "name": "dogs"}, headers=create_signed)
    assert commit.status == 403 and "nlp" in commit.body["detail"] and "vision" in commit.body["detail"]
    assert created.status == 403
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"] is None
    assert await _datasets(api, "vision") == ["cats"]


async def test_only_installation_administrators_register_import_locations(api):
    keys = gateway_keys(api.running.resources.settings.home)
    target = "/api/v1/projects/vision/import-locations/raw"
    as_editor = assertion_headers(keys, "catalog", "PUT", target, action="datasets:write", project="vision")
    async with aiohttp.ClientSession() as session:
        refused = await call(session, api.running.base_url, "PUT", target, json_body={"url": "s3://raw"},
                             headers=as_editor)
    assert refused.status == 403 and "imports:admin" in refused.body["detail"]
    listed = await api.call("GET", "/api/v1/projects/vision/import-locations")
    assert listed.status == 200 and listed.body["items"] == []
