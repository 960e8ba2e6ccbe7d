"""Server-side imports on the embedded lake: the catalog lists and commits what lies under a
registered import location, and reads nothing outside the project's locations."""

from __future__ import annotations

import hashlib

import pytest

from tests.catalog.conftest import entry

OBJECTS = {"images/0.jpg": b"zero", "images/1.jpg": b"one", "labels.csv": b"path,label\n"}


async def seed(api, prefix: str, objects: dict[str, bytes]) -> str:
    """Put ``objects`` under ``prefix`` of the catalog's lake; the URL of that prefix."""
    lake = api.running.resources.lake
    for key, data in objects.items():
        await lake.put(f"{prefix}/{key}", data)
    return f"{lake.url.rstrip('/')}/{prefix}"


async def run_import(api, source: str, project: str = "vision", name: str = "cats", **extra):
    return await api.call("POST", f"/api/v1/datasets/{project}/{name}/imports",
                          json_body={"source": source, "message": "import", **extra})


@pytest.fixture
async def location(api) -> str:
    await api.create("vision", "cats")
    url = await seed(api, "imports/vision", {**OBJECTS, "_lakecache/objects/x": b"ours"})
    assert (await api.register_import("vision", "raw", url)).status == 201
    return url


async def test_an_import_commits_every_object_in_place_with_its_checksum(api, location):
    reply = await run_import(api, location)

    assert reply.status == 201, reply.body
    body = reply.body
    assert (body["created"], body["unchanged"], body["files"]) == (True, False, 3)
    assert body["bytes"] == sum(map(len, OBJECTS.values()))
    assert (body["from_checksum"], body["hashed"]) == (3, 0)
    assert body["skipped"] == [{"path": "_lakecache/objects/x", "reason": "LakeCache's own data (_lakecache/)"}]
    assert body["commit"]["files"] == 3 and body["commit"]["author"]
    listed = await api.call("GET", "/api/v1/datasets/vision/cats/refs/latest/entries")
    items = {e["path"]: e for e in listed.body["items"]}
    assert sorted(items) == sorted(OBJECTS)
    assert items["labels.csv"]["object"] == f"{location}/labels.csv" and items["labels.csv"]["etag"]
    assert items["labels.csv"]["sha256"] == hashlib.sha256(OBJECTS["labels.csv"]).hexdigest()
    # The same content committed from the client's side gets the same id.
    await api.create("vision", "copy")
    same = await api.committed("vision", "copy", [entry(path, data) for path, data in OBJECTS.items()])
    assert same == body["commit"]["id"]


async def test_importing_an_unchanged_source_again_answers_the_head(api, location):
    first = await run_import(api, f"{location}/images/")
    again = await run_import(api, f"{location}/images")

    assert first.status == 201 and first.body["files"] == 2
    assert again.status == 200 and (again.body["created"], again.body["unchanged"]) == (False, True)
    assert again.body["commit"]["id"] == first.body["commit"]["id"]


async def test_a_source_outside_the_projects_import_locations_is_refused_by_name(api, location):
    lake = api.running.resources.lake.url.rstrip("/")
    other = await seed(api, "imports/nlp", {"secret.txt": b"nlp only"})
    assert (await api.register_import("nlp", "corpus", other)).status == 201
    await api.committed("vision", "cats", [entry("keep.txt", "keep")])
    head = (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"]

    for source in [other, f"{lake}/imports", f"{lake}/vision/cats", f"{location}-old", f"{location}/../nlp",
                   "s3://anywhere/x"]:
        reply = await run_import(api, source)
        assert reply.status == 403 and reply.content_type == "application/problem+json", source
        assert location in reply.body["detail"], source
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"] == head


async def test_without_registered_locations_nothing_can_be_imported(api):
    await api.create("vision", "cats")
    source = await seed(api, "imports/vision", OBJECTS)

    reply = await run_import(api, source)

    assert reply.status == 403 and "none are registered" in reply.body["detail"]


async def test_unsafe_keys_refuse_the_import_before_anything_is_committed(api, location):
    await seed(api, "imports/vision", {"bad\x01name.txt": b"x"})

    reply = await run_import(api, location)

    assert reply.status == 422 and reply.body["type"] == "urn:lakecache:problem:unsafe-paths"
    assert reply.body["errors"][0]["path"] == "bad\x01name.txt"
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"] is None


async def test_an_empty_source_needs_allow_empty(api, location):
    empty = f"{location}/nothing-here"

    refused = await run_import(api, empty)
    allowed = await run_import(api, empty, allow_empty=True)

    assert refused.status == 422 and refused.body["type"] == "urn:lakecache:problem:empty-commit"
    assert allowed.status == 201 and allowed.body["files"] == 0


@pytest.mark.parametrize("body", [{}, {"source": 3}, {"source": "relative/dir"},
                                  {"source": "s3://raw/x", "message": 1},
                                  {"source": "s3://raw/x", "allow_empty": "yes"}])
async def test_malformed_import_requests_are_refused(api, body):
    await api.create("vision", "cats")

    reply = await api.call("POST", "/api/v1/datasets/vision/cats/imports", json_body=body)

    assert reply.status == 400 and reply.content_type == "application/problem+json"
