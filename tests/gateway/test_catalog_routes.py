"""The catalog's upload, import and import-location routes through the gateway, against the real
catalog: a user holding only a LakeCache token uploads and imports; who may do what is the
gateway's to decide, what the bytes may be is the catalog's."""

from __future__ import annotations

import hashlib
import json
import os

from lakecache.core.layout import content_key
from tests.gateway.calls import call_json
from tests.gateway.conftest import TEAM_A

OCTET = {"Content-Type": "application/octet-stream"}
NDJSON = {"Content-Type": "application/x-ndjson"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def new_dataset(gateway, who, name: str = "cats") -> dict:
    status, dataset = await call_json(gateway, "POST", "/api/v1/datasets", who, json={"project": TEAM_A, "name": name})
    assert status == 201, dataset
    return dataset


async def test_a_user_uploads_contents_through_the_gateway_and_commits_them(gateway, people, backends):
    alice = people["alice"]
    await new_dataset(gateway, alice)
    files = {"a.bin": os.urandom(200_000), "b.bin": b"bee"}
    base = f"/api/v1/datasets/{TEAM_A}/cats"

    status, plan = await call_json(gateway, "POST", base + "/uploads", alice,
                                   json={"contents": [{"sha256": sha(d), "size": len(d)} for d in files.values()]})
    assert status == 200 and [i["present"] for i in plan["items"]] == [False, False]
    assert all(i["upload"]["url"] is None for i in plan["items"])  # the embedded lake cannot presign
    for data in files.values():
        status, stored = await call_json(gateway, "PUT", f"{base}/contents/{sha(data)}", alice, data=data,
                                         headers=OCTET)
        assert status == 201 and stored == {"sha256": sha(data), "size": len(data), "created": True}
    status, again = await call_json(gateway, "POST", base + "/uploads", alice,
                                    json={"contents": [{"sha256": sha(d), "size": len(d)} for d in files.values()]})
    assert [i["present"] for i in again["items"]] == [True, True]

    lines = [{"message": "uploaded"}] + [{"path": p, "size": len(d), "sha256": sha(d)} for p, d in files.items()]
    status, committed = await call_json(gateway, "POST", base + "/commits", alice, headers=NDJSON,
                                        data=b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    assert status == 201 and committed["commit"]["files"] == 2
    lake = backends.catalog.resources.lake
    assert await lake.read(f"{TEAM_A}/cats/{content_key(sha(files['a.bin']))}") == files["a.bin"]


async def test_a_full_batch_of_a_thousand_contents_is_planned_in_one_call(gateway, people):
    """The SDK asks about up to 1000 contents a call: that body (~96 KB) must pass the gateway."""
    alice = people["alice"]
    await new_dataset(gateway, alice)
    contents = [{"sha256": sha(i.to_bytes(4, "big")), "size": 4} for i in range(1000)]
    status, plan = await call_json(gateway, "POST", f"/api/v1/datasets/{TEAM_A}/cats/uploads", alice,
                                   json={"contents": contents})
    assert status == 200, plan
    assert len(plan["items"]) == 1000 and not any(item["present"] for item in plan["items"])


async def test_content_uploads_through_the_gateway_are_checked_and_bounded(gateway, people, backends):
    alice = people["alice"]
    await new_dataset(gateway, alice)
    base = f"/api/v1/datasets/{TEAM_A}/cats/contents"

    status, problem = await call_json(gateway, "PUT", f"{base}/{sha(b'promised')}", alice, data=b"delivered",
                                      headers=OCTET)
    assert status == 400 and problem["type"] == "urn:lakecache:problem:content-mismatch"

    async def unsized():
        yield b"no length"

    status, problem = await call_json(gateway, "PUT", f"{base}/{sha(b'no length')}", alice, data=unsized(),
                                      headers=OCTET)
    assert status == 411 and problem["status"] == 411
    status, problem = await call_json(gateway, "PUT", f"{base}/{sha(b'x')}", alice, data=b"x",
                                      headers={**OCTET, "Content-Length": str(6 * 1024**3), "Connection": "close"})
    assert status == 413 and problem["type"] == "urn:lakecache:problem:payload-too-large"
    status, _ = await call_json(gateway, "PUT", f"{base}/not-a-hash", alice, data=b"x", headers=OCTET)
    assert status == 400
    assert not await backends.catalog.resources.lake.exists(f"{TEAM_A}/cats/{content_key(sha(b'promised'))}")


async def test_another_projects_admin_can_neither_plan_nor_upload(gateway, people, backends):
    await new_dataset(gateway, people["alice"])
    bob = people["bob"]  # administers speech, no role in vision
    base = f"/api/v1/datasets/{TEAM_A}/cats"

    status, _ = await call_json(gateway, "POST", base + "/uploads", bob,
                                json={"contents": [{"sha256": sha(b"x"), "size": 1}]})
    assert status == 403
    status, _ = await call_json(gateway, "PUT", f"{base}/contents/{sha(b'x')}", bob, data=b"x", headers=OCTET)
    assert status == 403
    assert not await backends.catalog.resources.lake.exists(f"{TEAM_A}/cats/{content_key(sha(b'x'))}")


async def test_administrators_register_import_locations_and_editors_import_from_them(gateway, people, backends):
    alice, bob, root = people["alice"], people["bob"], people["root"]
    await new_dataset(gateway, alice)
    lake = backends.catalog.resources.lake
    for key, data in {"raw/vision/a.txt": b"a", "raw/vision/b/c.txt": b"c"}.items():
        await lake.put(key, data)
    url = f"{lake.url.rstrip('/')}/raw/vision"
    locations = f"/api/v1/projects/{TEAM_A}/import-locations"

    status, _ = await call_json(gateway, "PUT", locations + "/raw", alice, json={"url": url})
    assert status == 403  # an editor is no installation administrator
    status, registered = await call_json(gateway, "PUT", locations + "/raw", root, json={"url": url})
    assert status == 201 and registered["url"] == url
    status, listed = await call_json(gateway, "GET", locations, alice)
    assert status == 200 and [i["name"] for i in listed["items"]] == ["raw"]
    status, _ = await call_json(gateway, "GET", locations, bob)
    assert status == 403

    imports = f"/api/v1/datasets/{TEAM_A}/cats/imports"
    status, imported = await call_json(gateway, "POST", imports, alice, json={"source": url, "message": "raw"})
    assert status == 201, imported
    assert (imported["files"], imported["created"], imported["commit"]["author"]) == (2, True, "user:alice")
    status, problem = await call_json(gateway, "POST", imports, alice,
                                      json={"source": f"{lake.url.rstrip('/')}/raw", "message": "wider"})
    assert status == 403 and url in problem["detail"]

    status, _ = await call_json(gateway, "DELETE", locations + "/raw", root)
    assert status == 204
    status, problem = await call_json(gateway, "POST", imports, alice, json={"source": url, "message": "again"})
    assert status == 403 and "none are registered" in problem["detail"]
