"""Datasets over HTTP: create, list (filters, pages), show, update, slug and location rules."""

from __future__ import annotations

from tests.catalog.conftest import entry
from tests.support.identity import PROJECT_HEADER, TEST_SUBJECT, assertion_headers, gateway_keys


async def test_created_dataset_has_defaults_and_is_shown_by_name(api):
    created = await api.create("vision", "cats", description="cat photos", tags=["images", "pets"])
    lake = api.running.resources.lake.url.rstrip("/")
    assert created["project"] == "vision" and created["name"] == "cats"
    assert created["lake_url"] == f"{lake}/vision/cats"
    assert created["owner"] == TEST_SUBJECT and created["head"] is None
    assert created["tags"] == ["images", "pets"] and created["description"] == "cat photos"
    assert created["created_at"] == created["updated_at"] and created["created_at"].endswith("Z")
    shown = await api.call("GET", "/api/v1/datasets/vision/cats")
    assert shown.status == 200 and shown.body == created


async def test_owner_is_the_caller_named_by_the_gateway_header(api):
    reply = await api.call("POST", "/api/v1/datasets", json_body={"project": "nlp", "name": "wiki"},
                           headers={"X-LakeCache-User": "ada"})
    assert reply.status == 201 and reply.body["owner"] == "ada"


async def test_invalid_names_are_refused_with_a_suggestion(api):
    reply = await api.call("POST", "/api/v1/datasets", json_body={"project": "vision", "name": "My_Cats"})
    assert reply.status == 400
    assert reply.content_type == "application/problem+json"
    assert reply.body["type"] == "urn:lakecache:problem:invalid-argument"
    assert "'My_Cats'" in reply.body["detail"] and "'my-cats'" in reply.body["detail"]
    for project in ["", "-x", "a" * 64, "UPPER"]:
        reply = await api.call("POST", "/api/v1/datasets", json_body={"project": project, "name": "ok"})
        assert reply.status == 400, project
        assert "project" in reply.body["detail"]


async def test_duplicate_name_is_a_conflict(api):
    await api.create("vision", "cats")
    reply = await api.call("POST", "/api/v1/datasets", json_body={"project": "vision", "name": "cats"})
    assert reply.status == 409 and "already exists" in reply.body["detail"]


async def test_lake_url_must_lie_inside_the_projects_prefix_of_the_catalog_lake(api):
    lake = api.running.resources.lake.url.rstrip("/")
    inside = await api.create("vision", "dogs", lake_url=f"{lake}/vision/teams/dogs/")
    assert inside["lake_url"] == f"{lake}/vision/teams/dogs"
    outside = await api.call("POST", "/api/v1/datasets",
                             json_body={"project": "vision", "name": "owls", "lake_url": "s3://elsewhere/owls"})
    assert outside.status == 400
    assert "outside the catalog's lake" in outside.body["detail"] and lake in outside.body["detail"]
    unsafe = await api.call("POST", "/api/v1/datasets",
                            json_body={"project": "vision", "name": "owls", "lake_url": f"{lake}/vision/a/../b"})
    assert unsafe.status == 400 and "'..'" in unsafe.body["detail"]


async def test_list_filters_by_project_tag_and_text(api):
    await api.create("vision", "cats", tags=["pets"], description="Whiskers and paws")
    await api.create("vision", "dogs", tags=["pets"])
    await api.create("vision", "cars", tags=["vehicles"])
    await api.create("nlp", "wiki", description="encyclopedia text")

    async def names(**params):
        reply = await api.call("GET", "/api/v1/datasets", params=params)
        assert reply.status == 200
        return [f"{d['project']}/{d['name']}" for d in reply.body["items"]]

    assert await names(project="vision") == ["vision/cars", "vision/cats", "vision/dogs"]
    assert await names(project="nlp") == ["nlp/wiki"]
    assert await names(project="vision", tag="pets") == ["vision/cats", "vision/dogs"]
    assert await names(project="vision", q="WHISKERS") == ["vision/cats"]
    assert await names(project="nlp", q="wiki") == ["nlp/wiki"]
    assert await names(project="nlp", tag="pets") == []


async def test_list_pages_with_an_opaque_cursor_until_exhausted(api):
    for i in range(7):
        await api.create("proj", f"ds-{i}")
    seen, cursor, pages = [], None, 0
    while True:
        reply = await api.call("GET", "/api/v1/datasets", params={"project": "proj", "limit": 3, "cursor": cursor})
        assert reply.status == 200
        seen += [d["name"] for d in reply.body["items"]]
        pages += 1
        cursor = reply.body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == [f"ds-{i}" for i in range(7)]
    text_page = await api.call("GET", "/api/v1/datasets", params={"project": "proj", "limit": 2, "q": "ds-"})
    assert [d["name"] for d in text_page.body["items"]] == ["ds-0", "ds-1"]
    rest = await api.call("GET", "/api/v1/datasets",
                          params={"project": "proj", "q": "ds-", "cursor": text_page.body["next_cursor"]})
    assert [d["name"] for d in rest.body["items"]] == [f"ds-{i}" for i in range(2, 7)]
    bad = await api.call("GET", "/api/v1/datasets", params={"project": "proj", "cursor": "!!nope"})
    assert bad.status == 400 and "without a cursor" in bad.body["detail"]
    assert (await api.call("GET", "/api/v1/datasets", params={"project": "proj", "limit": 0})).status == 400


async def test_update_changes_description_and_tags_only(api):
    created = await api.create("vision", "cats")
    reply = await api.call("PATCH", "/api/v1/datasets/vision/cats",
                           json_body={"description": "now with dogs", "tags": ["pets", "pets", "mixed"]})
    assert reply.status == 200
    assert reply.body["description"] == "now with dogs" and reply.body["tags"] == ["pets", "mixed"]
    assert reply.body["updated_at"] >= created["updated_at"] and reply.body["created_at"] == created["created_at"]
    refused = await api.call("PATCH", "/api/v1/datasets/vision/cats", json_body={"owner": "mallory"})
    assert refused.status == 400 and "owner" in refused.body["detail"]
    missing = await api.call("PATCH", "/api/v1/datasets/vision/nope", json_body={"description": "x"})
    assert missing.status == 404 and "vision/nope" in missing.body["detail"]


async def test_deleted_dataset_disappears_and_its_name_can_be_reused(api):
    old = await api.create("vision", "cats")
    commit = await api.committed("vision", "cats", [entry("a.txt", "a")])
    assert (await api.call("DELETE", "/api/v1/datasets/vision/cats")).status == 204
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).status == 404
    assert (await api.call("GET", "/api/v1/datasets", params={"project": "vision"})).body["items"] == []
    new = await api.create("vision", "cats")
    assert new["id"] != old["id"] and new["head"] is None
    # The old commit stays readable for lineage: its document and manifest are kept.
    kept = await api.catalog.commits.by_id(old["id"], commit)
    assert kept is not None and await api.running.resources.lake.exists(kept["manifest_key"])
    # …and served by id, which is what events and run lineage carry.
    in_vision = {PROJECT_HEADER: "vision"}
    by_id = await api.call("GET", f"/api/v1/dataset-ids/{old['id']}", headers=in_vision)
    assert by_id.status == 200 and by_id.body["deleted"] is True and by_id.body["name"] == "cats"
    shown = await api.call("GET", f"/api/v1/dataset-ids/{old['id']}/commits/{commit}", headers=in_vision)
    assert shown.status == 200 and shown.body["id"] == commit and shown.body["files"] == 1
    missing = await api.call("GET", f"/api/v1/dataset-ids/{old['id']}/commits/{'0' * 64}", headers=in_vision)
    assert missing.status == 404 and missing.content_type == "application/problem+json"
    assert (await api.call("GET", "/api/v1/dataset-ids/nope", headers=in_vision)).status == 404
    assert (await api.call("DELETE", "/api/v1/datasets/vision/none")).status == 404


async def test_unknown_routes_answer_with_problem_documents(api):
    keys = gateway_keys(api.running.resources.settings.home)
    signed = assertion_headers(keys, "catalog", "GET", "/api/v1/nothing-here", action="datasets:read", project="vision")
    reply = await api.call("GET", "/api/v1/nothing-here", headers=signed)
    assert reply.status == 404 and reply.content_type == "application/problem+json"
    assert reply.body["status"] == 404 and reply.body["title"]
