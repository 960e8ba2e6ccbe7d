"""A dataset's lake location is bound to its project; import locations belong to one project.

The catalog writes manifests and content under a dataset's location with its own rights and
grants the cacher reads there, so no location may reach into another project's, overlap another
dataset's, or be an import source at the same time.
"""

from __future__ import annotations

from tests.catalog.conftest import entry


def lake_of(api) -> str:
    return api.running.resources.lake.url.rstrip("/")


async def refused(api, **body) -> str:
    reply = await api.call("POST", "/api/v1/datasets", json_body=body)
    assert reply.status == 400 and reply.content_type == "application/problem+json", reply.body
    return reply.body["detail"]


async def test_an_editor_of_one_project_cannot_place_a_dataset_in_another_projects_prefix(api):
    lake = lake_of(api)
    await api.create("nlp", "wiki")

    detail = await refused(api, project="vision", name="stolen", lake_url=f"{lake}/nlp/wiki")
    assert "outside project vision's prefix" in detail and f"{lake}/vision/" in detail
    assert "outside project vision" in await refused(api, project="vision", name="x", lake_url=f"{lake}/nlp")
    assert "outside project vision" in await refused(api, project="vision", name="x", lake_url=f"{lake}/vision")
    assert "outside the catalog's lake" in await refused(api, project="vision", name="x", lake_url=lake)
    # The prefix is compared by segments: "vision-team" is not inside "vision".
    assert "outside project vision" in await refused(api, project="vision", name="x",
                                                     lake_url=f"{lake}/vision-team/x")


async def test_dataset_locations_never_overlap_another_live_dataset(api):
    lake = lake_of(api)
    await api.create("vision", "cats")

    inside = await refused(api, project="vision", name="kittens", lake_url=f"{lake}/vision/cats/kittens")
    assert "overlaps the location of dataset vision/cats" in inside
    around = await api.create("vision", "dogs", lake_url=f"{lake}/vision/pets/dogs")
    assert around["lake_url"] == f"{lake}/vision/pets/dogs"
    assert "vision/dogs" in await refused(api, project="vision", name="pets", lake_url=f"{lake}/vision/pets")
    # The default location of a new name is checked too.
    await api.create("vision", "owls", lake_url=f"{lake}/vision/birds")
    assert "vision/owls" in await refused(api, project="vision", name="birds")


async def test_reserved_and_escaped_locations_are_refused(api):
    lake = lake_of(api)
    await api.create("vision", "cats")

    assert "_lakecache" in await refused(api, project="vision", name="x", lake_url=f"{lake}/vision/cats/_lakecache")
    assert "_lakecache" in await refused(api, project="vision", name="x", lake_url=f"{lake}/vision/_lakecache/x")
    # An escape could spell cats' location another way; plain segments only.
    assert "%" in await refused(api, project="vision", name="x", lake_url=f"{lake}/vision/%63ats")


async def test_a_deleted_datasets_location_can_be_reused_by_its_project(api):
    lake = lake_of(api)
    old = await api.create("vision", "cats")
    await api.committed("vision", "cats", [entry("a.txt", "a")])
    assert (await api.call("DELETE", "/api/v1/datasets/vision/cats")).status == 204

    again = await api.create("vision", "cats")
    assert again["lake_url"] == old["lake_url"] == f"{lake}/vision/cats"
    assert again["id"] != old["id"]


async def test_import_locations_are_registered_listed_and_removed(api):
    created = await api.register_import("vision", "raw", "s3://raw-bucket/images/")
    assert created.status == 201
    assert created.body["url"] == "s3://raw-bucket/images" and created.body["name"] == "raw"
    assert created.body["created_by"] and created.body["created_at"].endswith("Z")
    same = await api.register_import("vision", "raw", "s3://raw-bucket/images")
    assert same.status == 200 and same.body == created.body
    moved = await api.register_import("vision", "raw", "s3://raw-bucket/other")
    assert moved.status == 409 and "delete it first" in moved.body["detail"]

    listed = await api.call("GET", "/api/v1/projects/vision/import-locations")
    assert listed.status == 200 and listed.body == {"items": [created.body], "next_cursor": None}
    assert (await api.call("GET", "/api/v1/projects/nlp/import-locations")).body["items"] == []

    assert (await api.call("DELETE", "/api/v1/projects/vision/import-locations/raw")).status == 204
    gone = await api.call("DELETE", "/api/v1/projects/vision/import-locations/raw")
    assert gone.status == 404 and gone.content_type == "application/problem+json"
    assert (await api.call("GET", "/api/v1/projects/vision/import-locations")).body["items"] == []


async def test_malformed_import_locations_are_refused(api):
    for url in ["relative/dir", "http://host/x", "s3://", "s3://bucket/a/../b", "s3://bucket/x?versionId=1",
                "s3://bucket/a//b", "s3://user@bucket/x", "file://host/dir", "file:///", "s3://bucket/%2e%2e",
                "s3://bucket/x/_lakecache"]:
        reply = await api.register_import("vision", "raw", url)
        assert reply.status == 400 and reply.content_type == "application/problem+json", url
    assert (await api.register_import("vision", "Bad_Name", "s3://raw")).status == 400
    assert (await api.call("PUT", "/api/v1/projects/vision/import-locations/raw", json_body={})).status == 400


async def test_an_import_location_never_overlaps_another_projects_or_a_dataset(api):
    lake = lake_of(api)
    await api.create("nlp", "wiki")
    assert (await api.register_import("nlp", "corpus", "s3://shared/nlp")).status == 201

    other_project = await api.register_import("vision", "steal", "s3://shared/nlp/texts")
    assert other_project.status == 400 and "project nlp" in other_project.body["detail"]
    around = await api.register_import("vision", "all", "s3://shared")
    assert around.status == 400
    dataset = await api.register_import("vision", "wiki", f"{lake}/nlp/wiki")
    assert dataset.status == 400 and "nlp/wiki" in dataset.body["detail"]
    # The same project may hold nested locations of its own.
    assert (await api.register_import("nlp", "subset", "s3://shared/nlp/small")).status == 201
    assert (await api.call("GET", "/api/v1/projects/vision/import-locations")).body["items"] == []


async def test_a_dataset_location_never_overlaps_an_import_location(api):
    lake = lake_of(api)
    assert (await api.register_import("vision", "raw", f"{lake}/vision/raw")).status == 201

    assert "import location 'raw'" in await refused(api, project="vision", name="raw")
    assert "import location" in await refused(api, project="vision", name="x", lake_url=f"{lake}/vision/raw/x")


async def test_a_file_location_must_be_inside_a_local_lake(api, tmp_path):
    plain = tmp_path / "plain-dir"
    plain.mkdir()

    reply = await api.register_import("vision", "disk", plain.as_uri())
    assert reply.status == 400 and "not inside a local lake" in reply.body["detail"]
    assert not (plain / "blobs").exists() and not (plain / "index.sqlite3").exists()
    inside = await api.register_import("vision", "raw", f"{lake_of(api)}/imports/vision")
    assert inside.status == 201
