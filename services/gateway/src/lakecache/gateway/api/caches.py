"""Cached copies at the gateway: ask for one (``202`` + status URL), its status from the read
model, its live progress as Server-Sent Events, and eviction on request.

A copy is one project's (``/projects/{project}/sites/{site}/copies/{commit_id}``): another
project's request for the same commit makes another copy, so it can never change who may read,
lease, pin or evict this one. The bytes on the volume are shared; access is not.

A cache request carries the catalog's source grant, asked for as the requester: the cacher
reads only what it allows (``lakecache.core.identity.grants``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from lakecache.core.contracts.cache import CacheRequested
from lakecache.core.contracts.eviction import ManualEvictionRequested
from lakecache.core.contracts.fields import Slug
from lakecache.core.errors import Conflict, InvalidArgument, NotFound, Unavailable
from lakecache.core.vocabulary.copies import CopyState, FillPhase
from lakecache.gateway.api.backends.cacher_models import Copy, CopyPath
from lakecache.gateway.api.backends.catalog_models import Ref
from lakecache.gateway.api.common import API, Input, ListQuery, NextCursor, ProjectName, ProjectPath, publisher_of
from lakecache.gateway.auth import Permission
from lakecache.gateway.auth.context import principal_of
from lakecache.gateway.copies import copy_status_of
from lakecache.gateway.copies.status import overall_state
from lakecache.gateway.copies.stream import stream_status
from lakecache.gateway.http.limits import NO_CONTROL
from lakecache.gateway.http.operation import Operation, Reply
from lakecache.gateway.upstream import upstream_json, upstreams_of


class EvictQuery(Input):
    volume: Slug | None = Field(None, description="The volume whose copy to evict; needed when the commit is "
                                                   "cached on more than one volume of the site.")


class CacheRequest(Input):
    project: ProjectName
    dataset: Slug = Field(description="The dataset's name in the project.")
    ref: Annotated[Ref, Field(pattern=NO_CONTROL)] = "latest"
    site: Slug = Field(description="The site whose volume should hold the copy.")
    volume: Slug | None = Field(None, description="A volume of the site; the cacher picks one when omitted.")


class ProjectCopiesQuery(ListQuery):
    site: Slug | None = Field(None, description="Only copies at this site.")


class VolumeCopy(BaseModel):
    """One volume's copy. Its progress fields are the cacher's ``FillProgress``, field for field
    (``lakecache.core.vocabulary.copies``): null where unknown, e.g. once evicted."""

    volume: str
    state: CopyState = Field(description="A copy adopted from the cacher may be `evicting` for a moment.")
    path: str | None = Field(None, description="Where jobs at the site read the commit (ready copies).")
    phase: FillPhase | None = Field(None, description="What the fill is doing; `done` once ready.")
    files_done: int | None = Field(None, description="Files of the commit whose content is on the volume.")
    files_total: int | None = Field(None, description="Files in the commit.")
    objects_done: int | None = Field(None, description="Objects the fill fetched so far.")
    objects_total: int | None = Field(None, description="Objects the fill fetches (content not already there).")
    bytes_done: int | None = Field(None, description="Bytes fetched so far (ready: the commit's size).")
    bytes_total: int | None = Field(None, description="Bytes to fetch (ready: the commit's size).")
    rate_bytes_per_s: float | None = Field(None, description="Bytes fetched per second so far.")
    eta_seconds: float | None = Field(None, description="Seconds left, estimated.")
    error: str | None = Field(None, description="Why the fill failed (failed copies).")
    pinned: bool = False
    updated_at: datetime = Field(description="Time of the fact this entry reflects.")


class CopyStatus(BaseModel):
    site: str
    commit_id: str
    project: str | None
    dataset_id: str | None
    dataset: str | None
    state: CopyState = Field(description="`ready` if any volume of the site holds it ready, else the newest fact.")
    requested_at: datetime | None
    requested_by: str | None
    updated_at: datetime | None
    error: str | None = Field(description="Why the request was refused before any volume was chosen.")
    volumes: list[VolumeCopy]
    links: dict[str, str] = Field(description="`self` (this status) and `events` (its live progress, SSE).")


class CopyStatusPage(BaseModel):
    items: list[CopyStatus]
    next_cursor: NextCursor


class CacheRequestAccepted(BaseModel):
    request_id: str
    status_url: str
    events_url: str
    status: CopyStatus


class EvictionAccepted(BaseModel):
    request_id: str
    site: str
    volume: str
    commit_id: str
    status_url: str


def copy_path(site: str, project: str, commit_id: str) -> str:
    return f"{API}/projects/{project}/sites/{site}/copies/{commit_id}"


def status_url(site: str, project: str, commit_id: str) -> str:
    return copy_path(site, project, commit_id)


def status_json(doc: dict[str, Any]) -> CopyStatus:
    volumes = [VolumeCopy(volume=name, updated_at=entry["at"], **{k: v for k, v in entry.items() if k in
                                                                   VolumeCopy.model_fields and k != "volume"})
               for name, entry in sorted((doc.get("volumes") or {}).items())]
    url = status_url(doc["site"], doc["project"], doc["commit_id"])
    return CopyStatus(site=doc["site"], commit_id=doc["commit_id"], project=doc.get("project"),
                      dataset_id=doc.get("dataset_id"), dataset=doc.get("dataset"), state=overall_state(doc),
                      requested_at=doc.get("requested_at"), requested_by=doc.get("requested_by"),
                      updated_at=doc.get("updated_at"), error=(doc.get("failure") or {}).get("reason"),
                      volumes=volumes, links={"self": url, "events": url + "/events"})


async def copy_document(request: web.Request, params: CopyPath) -> dict[str, Any] | None:
    """The read model's document of the copy the path names, adopting the cacher's if it lacks one
    (a copy made before this gateway ran)."""
    view = copy_status_of(request)
    doc = await view.get(params.site, params.project, params.commit_id)
    if doc is None:
        status, copy = await upstream_json(request, upstreams_of(request).cacher(params.site),
                                           copy_path(params.site, params.project, params.commit_id),
                                           action="caches:read", project=params.project)
        if status == 200 and isinstance(copy, dict) and copy.get("project") == params.project:
            doc = await view.seed(_cachers_copy(copy, params))
    return doc


def _cachers_copy(copy: dict[str, Any], params: CopyPath) -> dict[str, Any]:
    """The cacher's answer about a copy, checked against its contract before it is adopted."""
    try:
        Copy.model_validate(copy)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise Unavailable(f"the cacher of site {params.site!r} answered about commit {params.commit_id} in a shape "
                          f"this gateway does not read ({where}: {first['msg']}); the cacher and the gateway may run "
                          "different versions: ask an operator") from None
    return copy


async def _known(request: web.Request, params: CopyPath) -> dict[str, Any]:
    doc = await copy_document(request, params)
    if doc is None:
        raise NotFound(f"project {params.project!r} has no copy of commit {params.commit_id} at site "
                       f"{params.site!r}; request one with POST {API}/caches")
    return doc


async def show_copy_status(request: web.Request, params: CopyPath) -> CopyStatus:
    return status_json(await _known(request, params))


async def list_project_copies(request: web.Request, params: ProjectPath, query: ProjectCopiesQuery) -> CopyStatusPage:
    docs, cursor = await copy_status_of(request).page(params.project, site=query.site, limit=query.limit,
                                                      cursor=query.cursor)
    return CopyStatusPage(items=[status_json(doc) for doc in docs], next_cursor=cursor)


async def copy_events(request: web.Request, params: CopyPath) -> web.StreamResponse:
    doc = await _known(request, params)
    return await stream_status(request, doc, status_json)


async def request_cache(request: web.Request, body: CacheRequest) -> Reply:
    upstreams = upstreams_of(request)
    grant_path = f"{API}/datasets/{body.project}/{body.dataset}/refs/{quote(body.ref, safe='')}/grants"
    status, granted = await upstream_json(request, upstreams.catalog, grant_path, method="POST",
                                          action="caches:request", project=body.project)
    if status == 404:
        raise NotFound(f"project {body.project!r} has no dataset {body.dataset!r} with a ref {body.ref!r}: "
                       f"{(granted or {}).get('detail', 'not found')}")
    if status != 201 or not isinstance(granted, dict):
        raise InvalidArgument(f"the catalog refused ref {body.ref!r} of {body.project}/{body.dataset}: "
                              f"{(granted or {}).get('detail', f'status {status}')}")
    commit = granted["commit"]
    status, volumes = await upstream_json(request, upstreams.cacher(body.site), f"{API}/sites/{body.site}/volumes",
                                          action="sites:read", project=None)
    if status == 404:
        raise NotFound(f"no cacher serves site {body.site!r}; check the site's name (`lakecache site volumes`)")
    names = sorted(v.get("name") for v in (volumes or {}).get("items", []) if isinstance(v, dict))
    if body.volume is not None and body.volume not in names:
        raise NotFound(f"site {body.site!r} has no volume {body.volume!r}; its volumes are "
                       f"{', '.join(names) or 'none yet'}")
    request_id = uuid.uuid4().hex
    view = copy_status_of(request)
    # Recorded and sent together (the outbox): a status never says "requested" for a command lost.
    await view.record_request(CacheRequested(
        request_id=request_id, project=body.project, dataset_id=commit["dataset_id"], dataset=body.dataset,
        commit_id=commit["id"], site=body.site, volume=body.volume, requester=principal_of(request).subject,
        manifest_url=commit.get("manifest_url"), source_grant=granted["source_grant"]))
    doc = await view.get(body.site, body.project, commit["id"])
    assert doc is not None  # recorded above
    url = status_url(body.site, body.project, commit["id"])
    accepted = CacheRequestAccepted(request_id=request_id, status_url=url, events_url=url + "/events",
                                    status=status_json(doc))
    return Reply(accepted, status=202, headers={"Location": url})


async def evict_copy(request: web.Request, params: CopyPath, query: EvictQuery) -> Reply:
    doc = await _known(request, params)
    ready = sorted(name for name, v in (doc.get("volumes") or {}).items() if v.get("state") == "ready")
    volume = query.volume
    if volume is None:
        if not ready:
            raise Conflict(f"commit {params.commit_id} is not ready on any volume of site {params.site!r}; "
                           "nothing to evict")
        if len(ready) > 1:
            raise InvalidArgument(f"commit {params.commit_id} is ready on {len(ready)} volumes of site "
                                  f"{params.site!r} ({', '.join(ready) or 'none'}); say which with ?volume=")
        volume = ready[0]
    elif volume not in ready:
        raise Conflict(f"commit {params.commit_id} is not ready on volume {volume!r} of site {params.site!r}; "
                       f"nothing to evict there")
    request_id = uuid.uuid4().hex
    # The evictor decides it like its own decisions: pins, live leases and pending decisions win.
    await publisher_of(request).emit(ManualEvictionRequested(
        request_id=request_id, site=params.site, volume=volume, commit_id=params.commit_id,
        requested_by=principal_of(request).subject, project=params.project), subject=request_id)
    url = status_url(params.site, params.project, params.commit_id)
    return Reply(EvictionAccepted(request_id=request_id, site=params.site, volume=volume,
                                  commit_id=params.commit_id, status_url=url), status=202, headers={"Location": url})


_SSE_SCHEMA = {"type": "string", "description": "`event: status` messages whose `data` is a CopyStatus JSON "
                                                 "document; the stream ends after a ready, failed or evicted state."}
_COPY = f"{API}/projects/{{project}}/sites/{{site}}/copies/{{commit_id}}"
_IN_PATH = "match_info:project"

OPERATIONS = [
    Operation("GET", f"{API}/projects/{{project}}/copies", list_project_copies, "List a project's cached copies",
              Permission("caches:read", project_from="match_info:project"), params=ProjectPath,
              query=ProjectCopiesQuery, response=CopyStatusPage, tag="caches",
              description="The project's copies at every site (or one), most recently changed first, from the "
                          "gateway's read model: what a dashboard polls."),
    Operation("POST", f"{API}/caches", request_cache, "Ask for a commit to be cached at a site",
              Permission("caches:request", project_from="body:project"), body=CacheRequest,
              response=CacheRequestAccepted, status=202, errors=(404,), tag="caches",
              description="Resolves the ref in the catalog and sends the site's cacher the command; answers at "
                          "once with the status URL (`Location`) and the URL of its live progress. Asking again "
                          "for a commit already cached or being filled joins that copy."),
    Operation("GET", _COPY, show_copy_status, "Show a cached copy's status and progress",
              Permission("caches:read", project_from=_IN_PATH), params=CopyPath, response=CopyStatus,
              errors=(404,), tag="caches",
              description="Answered from the gateway's read model of the cacher's events: per volume, the state, "
                          "progress, the path jobs read (when ready) and the pin."),
    Operation("GET", _COPY + "/events", copy_events, "Follow a cached copy's progress (Server-Sent Events)",
              Permission("caches:read", project_from=_IN_PATH), params=CopyPath, errors=(404,), tag="caches",
              media_type="text/event-stream", raw_schema=_SSE_SCHEMA,
              description="An `event: status` message now and at every change, with comments as keep-alives; "
                          "the stream ends once the copy is ready, failed or evicted."),
    Operation("DELETE", _COPY, evict_copy, "Evict a cached copy now",
              Permission("caches:evict", project_from=_IN_PATH), params=CopyPath, query=EvictQuery,
              response=EvictionAccepted, status=202, errors=(404, 409), tag="caches",
              description="Asks the evictor to evict the copy now. It decides it like its own decisions: not while "
                          "a job holds a lease, the copy is pinned or an eviction is already under way, and not in "
                          "dry run; the status shows whether it went, `…/eviction` what holds it."),
]
