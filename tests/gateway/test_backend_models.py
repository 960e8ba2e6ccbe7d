"""The gateway's models of the catalog's, cacher's and evictor's APIs, against the real services.

The three services run in-process on the embedded adapters and one in-memory bus, as ``lakecache
up`` runs them (``tests/evictor/conftest.py``). Every call is signed as the gateway signs it
(``tests/support/identity.py``), sends inputs the gateway's models accept and validates the answer
against the response model strictly, refusing unknown fields; every refusal is one both the model
and the service make (the service with a 400). A change on either side fails here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from lakecache.catalog.domain import check_tag_name
from lakecache.core.contracts.cache import CacheEvicted, CacheFailed, CacheRequested
from lakecache.core.errors import InvalidArgument
from lakecache.core.runtime import RunningService
from lakecache.core.runtime.problems import check_limit
from lakecache.gateway.api.backends import cacher_models as c
from lakecache.gateway.api.backends import catalog_models as m
from lakecache.gateway.api.backends import evictor_models as e
from tests.catalog.conftest import entry, ndjson
from tests.evictor.conftest import SITE, VOLUME, VOLUME_TTL, Lake, running_lake
from tests.support.http import Reply, call
from tests.support.identity import PROJECT_HEADER, TEST_SUBJECT, gateway_keys, signing_middleware, source_grant


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    params: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None

    def check(self, values: dict[str, str], query: dict[str, str] | None, body: Any) -> None:
        """Validate the inputs as the gateway's binding does (raises ``ValidationError``)."""
        if self.params is not None:
            self.params.model_validate(values)
        if query is not None:
            assert self.query is not None, f"{self.method} {self.path} takes no query"
            self.query.model_validate(query)
        if self.body is not None:  # no body at all is validated as {}
            self.body.model_validate_json(json.dumps({} if body is None else body))

    def url(self, values: dict[str, str]) -> str:
        return self.path.format(**{k: quote(v, safe="") for k, v in values.items()})


DATASETS, DATASET = "/api/v1/datasets", "/api/v1/datasets/{project}/{name}"
CREATE_DATASET = Route("POST", DATASETS, body=m.NewDataset)
LIST_DATASETS = Route("GET", DATASETS, query=m.DatasetsQuery)
SHOW_DATASET = Route("GET", DATASET, m.DatasetPath)
UPDATE_DATASET = Route("PATCH", DATASET, m.DatasetPath, body=m.DatasetChanges)
DELETE_DATASET = Route("DELETE", DATASET, m.DatasetPath)
COMMIT_LOG = Route("GET", DATASET + "/commits", m.DatasetPath, m.CommitLogQuery)
SHOW_REF = Route("GET", DATASET + "/refs/{ref}", m.RefPath)
ENTRIES = Route("GET", DATASET + "/refs/{ref}/entries", m.RefPath, m.EntriesQuery)
DIFF = Route("GET", DATASET + "/diff", m.DatasetPath, m.DiffQuery)
LIST_TAGS = Route("GET", DATASET + "/tags", m.DatasetPath)
PUT_TAG = Route("PUT", DATASET + "/tags/{tag}", m.TagPath, body=m.NewTag)

SITE_PATH, COPY = "/api/v1/sites/{site}", "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}"
ADD_VOLUME = Route("POST", SITE_PATH + "/volumes", c.SitePath, body=c.NewVolume)
LIST_VOLUMES = Route("GET", SITE_PATH + "/volumes", c.SitePath)
SHOW_VOLUME = Route("GET", SITE_PATH + "/volumes/{name}", c.VolumePath)
SET_QUOTA = Route("PUT", SITE_PATH + "/volumes/{name}/quotas/{project}", c.QuotaPath, body=c.NewQuota)
CLEAR_QUOTA = Route("DELETE", SITE_PATH + "/volumes/{name}/quotas/{project}", c.QuotaPath)
PROJECT_QUOTAS = Route("GET", "/api/v1/projects/{project}/sites/{site}/quotas", e.ProjectSitePath)
LIST_COPIES = Route("GET", SITE_PATH + "/copies", c.SitePath, c.CopiesQuery)
SHOW_COPY = Route("GET", COPY, c.CopyPath, c.CopyQuery)
ACQUIRE = Route("POST", COPY + "/leases", c.CopyPath, c.CopyQuery, c.NewLease)
RENEW = Route("PUT", COPY + "/leases/{lease_id}", c.LeasePath, body=c.LeaseRenewal)
RELEASE = Route("DELETE", COPY + "/leases/{lease_id}", c.LeasePath)
PIN = Route("PUT", COPY + "/pin", c.CopyPath, c.PinQuery)
UNPIN = Route("DELETE", COPY + "/pin", c.CopyPath, c.PinQuery)

SUMMARY = Route("GET", SITE_PATH + "/eviction", e.SitePath)
EXPLAIN = Route("GET", COPY + "/eviction", e.CopyPath, e.ExplainQuery)
SET_TTL = Route("PUT", SITE_PATH + "/ttl", e.SitePath, body=e.TtlOverride)


def signing_session(lake: Lake) -> aiohttp.ClientSession:
    """A session whose requests to the lake's services are signed as the gateway signs them,
    each for the action its service's own route table declares."""
    keys = gateway_keys(lake.home)
    signers = {s.base_url: signing_middleware(keys, s.definition.name, s.parts.routes)
               for s in (lake.catalog, lake.cacher, lake.evictor)}

    async def sign(request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
        return await signers[str(request.url.origin())](request, handler)

    return aiohttp.ClientSession(middlewares=(sign,))


async def signed(lake: Lake, service: RunningService, method: str, path: str, **options: Any) -> Reply:
    async with signing_session(lake) as session:
        return await call(session, service.base_url, method, path, **options)


async def send(lake: Lake, service: RunningService, route: Route, values: dict[str, str] | None = None, *,
               query: dict[str, str] | None = None, body: Any = None) -> Reply:
    """Send a request whose inputs the gateway's models accept."""
    route.check(values or {}, query, body)
    return await signed(lake, service, route.method, route.url(values or {}), json_body=body, params=query,
                        headers=_project_of(values, body))


def _project_of(values: dict[str, str] | None, body: Any) -> dict[str, str]:
    """The project to sign for, for routes that only learn theirs from the body."""
    project = (body or {}).get("project") if isinstance(body, dict) else None
    project = project or (values or {}).get("project")
    return {PROJECT_HEADER: project} if isinstance(project, str) and project else {}


def answer(reply: Reply, status: int, model: type[BaseModel]) -> Any:
    assert reply.status == status, reply.body
    return model.model_validate_json(json.dumps(reply.body), strict=True, extra="forbid")


async def refused(lake: Lake, service: RunningService, route: Route, values: dict[str, str] | None = None, *,
                  query: dict[str, str] | None = None, body: Any = None) -> None:
    """The gateway's models refuse the request, and so does the service, with a 400."""
    with pytest.raises(ValidationError):
        route.check(values or {}, query, body)
    reply = await signed(lake, service, route.method, route.url(values or {}), json_body=body, params=query,
                         headers=_project_of(values, body))
    assert reply.status == 400, (route, values, query, body, reply.body)


async def commit(lake: Lake, values: dict[str, str], header: dict[str, Any], entries: list[dict[str, Any]]) -> Reply:
    m.DatasetPath.model_validate(values)
    m.CommitHeaderLine.model_validate_json(json.dumps(header))
    for line in entries:
        m.CommitEntryLine.model_validate_json(json.dumps(line))
    return await signed(lake, lake.catalog, "POST", DATASET.format(**values) + "/commits",
                        data=ndjson(header, entries), headers={"Content-Type": "application/x-ndjson"})


@pytest.fixture
async def lake(tmp_path) -> AsyncIterator[Lake]:
    async with running_lake(tmp_path) as lake:
        yield lake


async def test_catalog_datasets_agree_with_their_models(lake):
    cats, dogs = {"project": "vision", "name": "cats"}, {"project": "vision", "name": "dogs"}
    body = {"project": "vision", "name": "cats", "description": "cat photos", "tags": ["pets", "images", "pets"]}
    created = answer(await send(lake, lake.catalog, CREATE_DATASET, body=body), 201, m.Dataset)
    assert created.tags == ["pets", "images"] and created.head is None
    answer(await send(lake, lake.catalog, CREATE_DATASET, body={**dogs, "lake_url": None}), 201, m.Dataset)
    assert answer(await send(lake, lake.catalog, SHOW_DATASET, cats), 200, m.Dataset) == created

    first = answer(await send(lake, lake.catalog, LIST_DATASETS, query={"project": "vision", "limit": "1"}), 200,
                   m.DatasetPage)
    query = {"project": "vision", "limit": "1", "cursor": first.next_cursor}
    second = answer(await send(lake, lake.catalog, LIST_DATASETS, query=query), 200, m.DatasetPage)
    assert [d.name for d in first.items + second.items] == ["cats", "dogs"] and second.next_cursor is None
    blank = {"project": "vision", "tag": "", "q": "", "limit": "", "cursor": ""}  # empty parameters count as absent
    assert len(answer(await send(lake, lake.catalog, LIST_DATASETS, query=blank), 200, m.DatasetPage).items) == 2
    query = {"project": "vision", "tag": "pets", "q": "CAT"}
    found = answer(await send(lake, lake.catalog, LIST_DATASETS, query=query), 200, m.DatasetPage)
    assert [d.name for d in found.items] == ["cats"]

    changes = {"description": "only cats", "tags": ["felines"]}
    updated = answer(await send(lake, lake.catalog, UPDATE_DATASET, cats, body=changes), 200, m.Dataset)
    assert (updated.description, updated.tags) == ("only cats", ["felines"])
    answer(await send(lake, lake.catalog, UPDATE_DATASET, cats, body={}), 200, m.Dataset)
    assert (await send(lake, lake.catalog, DELETE_DATASET, dogs)).status == 204

    await refused(lake, lake.catalog, CREATE_DATASET, body={"project": "vision", "name": "My_Cats"})
    await refused(lake, lake.catalog, CREATE_DATASET, body={**dogs, "tags": ["two words"]})
    await refused(lake, lake.catalog, CREATE_DATASET, body={**dogs, "description": None})
    await refused(lake, lake.catalog, CREATE_DATASET, body={**dogs, "tags": [f"t{i}" for i in range(51)]})
    await refused(lake, lake.catalog, UPDATE_DATASET, cats, body={"owner": "eve"})
    await refused(lake, lake.catalog, UPDATE_DATASET, cats, body={"tags": None})
    await refused(lake, lake.catalog, LIST_DATASETS, query={"project": "vision", "limit": "501"})
    await refused(lake, lake.catalog, LIST_DATASETS, query={"project": "vision", "limit": "10.0"})


async def test_catalog_commits_refs_entries_diffs_and_tags_agree_with_their_models(lake):
    cats = {"project": "vision", "name": "cats"}
    await send(lake, lake.catalog, CREATE_DATASET, body=cats)
    # Entries may name objects outside the dataset only in an import location an administrator registered.
    registered = await signed(lake, lake.catalog, "PUT", "/api/v1/projects/vision/import-locations/raw",
                              json_body={"url": "s3://raw"})
    assert registered.status == 201, registered.body
    files = [entry("train/0.jpg", "zero"), entry("train/1.jpg", "one"),
             entry("labels.csv", "x,y\n", object="s3://raw/labels.csv", etag="e1", version_id="v7")]
    header = {"message": "first", "parents": None, "allow_empty": False}
    made = answer(await commit(lake, cats, header, files), 201, m.CommitCreated)
    again = answer(await commit(lake, cats, header, files), 200, m.CommitCreated)
    assert (made.created, again.created, again.unchanged, again.commit) == (True, False, True, made.commit)
    old = made.commit.id
    newer = [entry("train/0.jpg", "zero"), entry("train/1.jpg", "uno"), entry("train/2.jpg", "two")]
    answer(await commit(lake, cats, {"message": "second", "parents": [old]}, newer), 201, m.CommitCreated)

    page = answer(await send(lake, lake.catalog, COMMIT_LOG, cats, query={"limit": "1"}), 200, m.CommitPage)
    rest = answer(await send(lake, lake.catalog, COMMIT_LOG, cats, query={"limit": "1", "cursor": page.next_cursor}),
                  200, m.CommitPage)
    assert [x.id for x in rest.items] == [old] and rest.next_cursor is None
    answer(await send(lake, lake.catalog, COMMIT_LOG, cats, query={"ref": old[:8]}), 200, m.CommitPage)
    assert answer(await send(lake, lake.catalog, SHOW_REF, {**cats, "ref": old[:8]}), 200, m.Commit).id == old
    answer(await send(lake, lake.catalog, SHOW_REF, {**cats, "ref": "latest"}), 200, m.Commit)

    latest, first = {**cats, "ref": "latest"}, {**cats, "ref": old}
    query = {"prefix": "train/", "limit": "2"}
    page = answer(await send(lake, lake.catalog, ENTRIES, latest, query=query), 200, m.EntryPage)
    assert page.next_cursor == "train/1.jpg"  # a path, not an opaque cursor
    rest = answer(await send(lake, lake.catalog, ENTRIES, latest, query={**query, "cursor": page.next_cursor}), 200,
                  m.EntryPage)
    assert [x.path for x in rest.items] == ["train/2.jpg"]
    imported = answer(await send(lake, lake.catalog, ENTRIES, first, query={"start_after": "labels"}), 200, m.EntryPage)
    top = answer(await send(lake, lake.catalog, ENTRIES, first, query={"delimiter": "/", "limit": "1"}), 200,
                 m.EntryPage)
    assert top.directories == [] and [x.path for x in top.items] == ["labels.csv"] and top.next_cursor == "labels.csv"
    rest = answer(await send(lake, lake.catalog, ENTRIES, first, query={"delimiter": "/", "cursor": top.next_cursor}),
                  200, m.EntryPage)
    assert rest.directories == [m.Directory(path="train/", files=2, bytes=7)] and rest.items == []
    await refused(lake, lake.catalog, ENTRIES, latest, query={"delimiter": ","})
    assert (imported.items[0].object, imported.items[0].etag) == ("s3://raw/labels.csv", "e1")

    query = {"from": old, "to": "latest", "limit": "1"}
    page = answer(await send(lake, lake.catalog, DIFF, cats, query=query), 200, m.Diff)
    rest = answer(await send(lake, lake.catalog, DIFF, cats, query={**query, "cursor": page.next_cursor}), 200, m.Diff)
    assert page.summary == rest.summary == m.DiffSummary(added=1, removed=1, changed=1)

    tag = answer(await send(lake, lake.catalog, PUT_TAG, {**cats, "tag": "v1"}, body={"ref": old}), 201, m.Tag)
    assert answer(await send(lake, lake.catalog, PUT_TAG, {**cats, "tag": "v1"}, body={"ref": old}), 200, m.Tag) == tag
    moved = {"ref": "latest", "force": True}
    assert answer(await send(lake, lake.catalog, PUT_TAG, {**cats, "tag": "v1"}, body=moved), 200, m.Tag).commit != old
    answer(await send(lake, lake.catalog, PUT_TAG, {**cats, "tag": "abc"}, body={"ref": "v1"}), 201, m.Tag)
    tags = answer(await send(lake, lake.catalog, LIST_TAGS, cats), 200, m.TagPage)
    assert [t.name for t in tags.items] == ["abc", "v1"]

    for bad_header, bad_entry in [({"allow_empty": "yes"}, files[0]), (header, {**files[0], "size": -1}),
                                  (header, {**files[0], "object": "raw/labels.csv"})]:
        with pytest.raises(ValidationError):
            await commit(lake, cats, bad_header, [bad_entry])
        reply = await signed(lake, lake.catalog, "POST", DATASET.format(**cats) + "/commits",
                             data=ndjson(bad_header, [bad_entry]), headers={"Content-Type": "application/x-ndjson"})
        assert reply.status == 400, reply.body
    await refused(lake, lake.catalog, COMMIT_LOG, cats, query={"limit": "0"})
    await refused(lake, lake.catalog, SHOW_REF, {**cats, "ref": "x" * 129})
    await refused(lake, lake.catalog, ENTRIES, latest, query={"limit": "10001"})
    await refused(lake, lake.catalog, DIFF, cats, query={"from": old})
    for name in ("latest", "beef", "-v1"):
        await refused(lake, lake.catalog, PUT_TAG, {**cats, "tag": name}, body={"ref": "latest"})
    await refused(lake, lake.catalog, PUT_TAG, {**cats, "tag": "v2"}, body={"ref": "latest", "force": "yes"})
    await refused(lake, lake.catalog, PUT_TAG, {**cats, "tag": "v2"}, body={"ref": ""})


async def test_cacher_volumes_copies_leases_and_pins_agree_with_their_models(lake, tmp_path):
    site = {"site": SITE}
    (tmp_path / "nfs2").mkdir()
    spec = {"name": "nfs2", "path": str(tmp_path / "nfs2"), "capacity_bytes": 10**12, "ttl_seconds": 3600,
            "high_watermark": 0.8, "low_watermark": 0.5}
    added = answer(await send(lake, lake.cacher, ADD_VOLUME, site, body=spec), 201, c.Volume)
    assert added.capacity_configured and added.capacity_bytes == 10**12
    page = answer(await send(lake, lake.cacher, LIST_VOLUMES, site), 200, c.VolumePage)
    assert [v.name for v in page.items] == [VOLUME, "nfs2"]
    answer(await send(lake, lake.cacher, SHOW_VOLUME, {**site, "name": VOLUME}), 200, c.Volume)
    for body in ({"name": "nfs3", "path": "relative/dir"}, {"name": "nfs3", "path": "/tmp", "high_watermark": 0.7},
                 {"name": "nfs3", "path": "/tmp", "size": 1}, {"name": "NFS3", "path": "/tmp"},
                 {"name": "nfs3", "path": "/" + "a" * 4999}, {"name": "nfs3", "path": "/mnt/a\x00b"},
                 {"name": "nfs3", "path": str(tmp_path / "nfs2"), "ttl_seconds": 10 ** 20}):
        await refused(lake, lake.cacher, ADD_VOLUME, site, body=body)

    made = await lake.commit(tmp_path)
    await lake.cache(made)
    await lake.cache(await lake.commit(tmp_path, {"a.txt": b"a"}, dataset="texts"))
    copy = {**site, "project": "team", "commit_id": made["id"]}
    ready = answer(await send(lake, lake.cacher, SHOW_COPY, copy), 200, c.Copy)
    assert ready.state == "ready" and ready.path and ready.progress is None
    answer(await send(lake, lake.cacher, SHOW_COPY, copy, query={"volume": VOLUME}), 200, c.Copy)
    query = {"state": "ready", "project": "team", "volume": VOLUME, "limit": "1"}
    page = answer(await send(lake, lake.cacher, LIST_COPIES, site, query=query), 200, c.CopyPage)
    rest = answer(await send(lake, lake.cacher, LIST_COPIES, site, query={**query, "cursor": page.next_cursor}), 200,
                  c.CopyPage)
    assert "/" in page.next_cursor and len(rest.items) == 1  # the last copy's id, not an opaque cursor

    missing = "f" * 64  # a commit without a manifest, granted as the catalog would: its fill fails
    images = (await signed(lake, lake.catalog, "GET", DATASET.format(project="team", name="images"))).body
    await lake.catalog.resources.publisher.emit(CacheRequested(
        request_id="r-missing", project="team", dataset_id=made["dataset_id"], dataset="images", commit_id=missing,
        site=SITE, volume=VOLUME, requester="ada", manifest_url=made["manifest_url"].replace(made["id"], missing),
        source_grant=source_grant(lake.home, project="team", dataset="images", dataset_id=made["dataset_id"],
                                  commit_id=missing, location=images["lake_url"])))
    await lake.wait_for(CacheFailed, missing)
    failed = answer(await send(lake, lake.cacher, SHOW_COPY, {**copy, "commit_id": missing}), 200, c.Copy)
    assert failed.state == "failed" and failed.error is not None

    lease = answer(await send(lake, lake.cacher, ACQUIRE, copy, body={"holder": "job-7", "ttl_seconds": 60}), 201,
                   c.Lease)
    other = answer(await send(lake, lake.cacher, ACQUIRE, copy, query={"volume": VOLUME}, body={"volume": ""}), 201,
                   c.Lease)
    assert (lease.holder, other.holder, other.ttl_seconds) == ("job-7", TEST_SUBJECT, 600)  # by default, the caller
    held = {**copy, "lease_id": lease.id}
    answer(await send(lake, lake.cacher, RENEW, held, body={"ttl_seconds": 120}), 200, c.Lease)
    assert answer(await send(lake, lake.cacher, RENEW, held), 200, c.Lease).ttl_seconds == 120
    await refused(lake, lake.cacher, RENEW, held, body={"ttl_seconds": None})  # while the lease exists
    leased = answer(await send(lake, lake.cacher, SHOW_COPY, copy), 200, c.Copy)
    assert leased.leased_until is not None
    for name in (lease.id, other.id):
        assert (await send(lake, lake.cacher, RELEASE, {**copy, "lease_id": name})).status == 204
    assert answer(await send(lake, lake.cacher, PIN, copy, query={"volume": VOLUME}), 200, c.Copy).pinned
    assert not answer(await send(lake, lake.cacher, UNPIN, copy), 200, c.Copy).pinned

    quota = {**site, "name": VOLUME, "project": "team"}
    set_ = answer(await send(lake, lake.cacher, SET_QUOTA, quota, body={"quota_bytes": 10**9}), 200, c.ProjectQuota)
    assert set_.quota_bytes == 10**9 and set_.charged_bytes and set_.charged_bytes > 0
    shown = answer(await send(lake, lake.cacher, SHOW_VOLUME, {**site, "name": VOLUME}), 200, c.Volume)
    assert [p.project for p in shown.projects] == ["team"]
    mine = answer(await send(lake, lake.cacher, PROJECT_QUOTAS, {**site, "project": "team"}), 200, c.ProjectQuotaPage)
    assert {q.volume for q in mine.items} == {VOLUME, "nfs2"}
    for body in ({"quota_bytes": 0}, {"quota_bytes": -1}, {"quota_bytes": 1.5}, {"quota_bytes": "1G"}, {},
                 {"quota_bytes": 2**63}, {"quota_bytes": 1, "size": 1}, {"quota_bytes": None}):
        await refused(lake, lake.cacher, SET_QUOTA, quota, body=body)
    assert (await send(lake, lake.cacher, CLEAR_QUOTA, quota)).status == 204

    await refused(lake, lake.cacher, LIST_COPIES, site, query={"project": "team", "state": "gone"})
    await refused(lake, lake.cacher, LIST_COPIES, site, query={"project": "team", "limit": "1001"})
    for body in ({"ttl_seconds": 600.0}, {"ttl_seconds": 0}, {"ttl_seconds": None}, {"holder": "x" * 201}):
        await refused(lake, lake.cacher, ACQUIRE, copy, body=body)


async def test_evictor_summary_explanations_and_ttls_agree_with_their_models(lake, tmp_path):
    site = {"site": SITE}
    made = await lake.commit(tmp_path)
    await lake.cache(made)
    copy = {**site, "project": "team", "commit_id": made["id"]}
    lease = await lake.lease(made["id"])
    summary = answer(await send(lake, lake.evictor, SUMMARY, site), 200, e.SiteEviction)
    assert [(v.volume, v.copies) for v in summary.volumes] == [(VOLUME, {"ready": 1})]
    kept = answer(await send(lake, lake.evictor, EXPLAIN, copy), 200, e.CopyEviction)
    assert [x.lease_id for x in kept.live_leases] == [lease["id"]] and kept.last_decision is None
    answer(await send(lake, lake.evictor, EXPLAIN, copy, query={"volume": VOLUME}), 200, e.CopyEviction)

    for body in ({"scope": "dataset", "target": made["dataset_id"], "ttl_seconds": 7200},
                 {"scope": "dataset", "target": made["dataset_id"], "ttl_seconds": None},
                 {"scope": "commit", "target": made["id"]}):
        answer(await send(lake, lake.evictor, SET_TTL, site, body=body), 202, e.TtlChanged)
    await lake.settle()  # the overrides are cleared again before the clock moves
    for body in ({"scope": "volume", "target": "x"}, {"scope": "commit", "target": ""},
                 {"scope": "commit", "target": "x", "ttl_seconds": 0},
                 {"scope": "commit", "target": "x", "ttl_seconds": 60.0},
                 {"scope": "commit", "target": "x", "why": "tidy"}):
        await refused(lake, lake.evictor, SET_TTL, site, body=body)
    await refused(lake, lake.evictor, SET_TTL, {"site": "Not_A_Site"}, body={"scope": "commit", "target": "x"})

    await lake.release(made["id"], lease["id"])
    await lake.advance(2 * VOLUME_TTL)
    await lake.wait_for(CacheEvicted, made["id"])
    await lake.until_explained(made["id"], lambda v: v["state"] == "evicted", "the eviction to be known")
    evicted = answer(await send(lake, lake.evictor, EXPLAIN, copy), 200, e.CopyEviction)
    assert evicted.last_decision is not None and evicted.last_decision.outcome == "evicted"
    answer(await send(lake, lake.evictor, SUMMARY, site), 200, e.SiteEviction)


@given(st.text(alphabet="abfAF09gZz._-:/ ", max_size=8) | st.sampled_from(["latest", "Latest", "a" * 128, "b" * 129]))
def test_tag_names_are_refused_exactly_where_the_catalog_refuses_them(name):
    try:
        check_tag_name(name)
        catalog_accepts = True
    except InvalidArgument:
        catalog_accepts = False
    try:
        m.TagPath(project="vision", name="cats", tag=name)
        model_accepts = True
    except ValidationError:
        model_accepts = False
    assert model_accepts == catalog_accepts


@given(st.text(alphabet="0123456789+-_. e", max_size=6))
def test_limits_are_read_as_the_services_read_them(raw):
    try:
        expected = check_limit(raw, default=50, maximum=500)
    except InvalidArgument:
        expected = None
    try:
        limit = m.DatasetsQuery.model_validate({"limit": raw}).limit
    except ValidationError:
        limit = None
    assert limit == expected
