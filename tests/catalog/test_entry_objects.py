"""A commit entry's ``object`` may point only inside the dataset's location or its project's
import locations: the cacher opens it with its own rights, so anything else is a confused deputy."""

from __future__ import annotations

from tests.catalog.conftest import entry


async def _state(api, project: str, name: str) -> tuple[str | None, int]:
    head = (await api.call("GET", f"/api/v1/datasets/{project}/{name}")).body["head"]
    return head, len(await api.manifest_keys())


async def test_an_entry_pointing_at_another_projects_content_is_refused_and_nothing_is_stored(api):
    secret = await api.create("nlp", "secret")
    await api.committed("nlp", "secret", [entry("key.pem", "private")])
    await api.create("vision", "cats")
    before = await _state(api, "vision", "cats")
    stolen = f"{secret['lake_url']}/_lakecache/objects/sha256/ab/{'ab' * 32}"

    reply = await api.commit("vision", "cats", [entry("ok.txt", "ok"), entry("loot.pem", "private", object=stolen)])

    assert reply.status == 422 and reply.content_type == "application/problem+json"
    assert reply.body["type"] == "urn:lakecache:problem:objects-outside-locations"
    assert reply.body["errors"] == [{"path": "loot.pem", "object": stolen}] and reply.body["total"] == 1
    assert "nothing was committed" in reply.body["detail"] and "none registered" in reply.body["detail"]
    assert await _state(api, "vision", "cats") == before


async def test_entries_pointing_outside_every_location_are_all_listed(api):
    await api.create("vision", "cats")
    assert (await api.register_import("vision", "raw", "s3://raw/vision")).status == 201
    outside = ["file:///etc/shadow", "s3://raw/vision-other/a", "s3://raw", "s3://raw/vision/../nlp/x",
               "s3://raw/vision/x?versionId=1"]

    reply = await api.commit("vision", "cats", [entry(f"f{i}", str(i), object=url) for i, url in enumerate(outside)])

    assert reply.status == 422 and reply.body["total"] == len(outside)
    assert sorted(e["object"] for e in reply.body["errors"]) == sorted(outside)
    assert "s3://raw/vision" in reply.body["detail"]
    assert (await api.call("GET", "/api/v1/datasets/vision/cats")).body["head"] is None


async def test_entries_inside_the_dataset_or_a_registered_import_location_are_committed(api):
    cats = await api.create("vision", "cats")
    assert (await api.register_import("vision", "raw", "s3://raw/vision")).status == 201
    files = [entry("imported.jpg", "img", object="s3://raw/vision/2024/img.jpg"),
             entry("own.txt", "own", object=f"{cats['lake_url']}/elsewhere/own.txt"),
             entry("synced.txt", "synced")]

    commit = await api.committed("vision", "cats", files)

    listed = await api.call("GET", f"/api/v1/datasets/vision/cats/refs/{commit}/entries")
    assert [e.get("object") for e in listed.body["items"]] == [
        "s3://raw/vision/2024/img.jpg", f"{cats['lake_url']}/elsewhere/own.txt", None]


async def test_another_projects_import_location_is_not_one_of_yours(api):
    await api.create("vision", "cats")
    assert (await api.register_import("nlp", "corpus", "s3://raw/nlp")).status == 201

    reply = await api.commit("vision", "cats", [entry("t.txt", "t", object="s3://raw/nlp/t.txt")])

    assert reply.status == 422 and reply.body["errors"][0]["path"] == "t.txt"
