"""Reads of cached copies that jobs report: the evictor's ``last use`` of a copy.

A training job that reads a project's ready copy says so (``POST …/copies/{commit_id}/reads``,
what ``lakecache.use`` sends on entering its block); the gateway publishes ``dataset.read``,
which the evictor turns into a read of the copy (its idle time restarts) and which tells how
often a site served a commit from its cache. The copy must be one the project has at the site
and ready there: a read of anything else would move the idle clock of a copy nobody reads.

``reader`` in the event is always the caller's identity (``run:<id>``, ``user:<name>``); a
``reader`` the caller names is added to it, never put in its place, so a report cannot speak
for someone else.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from lakecache.core.contracts.fields import Slug
from lakecache.core.contracts.usage import DatasetRead
from lakecache.core.errors import Conflict, NotFound, Unavailable
from lakecache.gateway.api.backends.cacher_models import CopyPath
from lakecache.gateway.api.caches import copy_document
from lakecache.gateway.api.common import API, Input, publisher_of
from lakecache.gateway.auth import Permission
from lakecache.gateway.auth.context import principal_of
from lakecache.gateway.http.limits import NO_CONTROL
from lakecache.gateway.http.operation import Operation, Reply


class ReadReport(Input):
    volume: Slug | None = Field(None, description="The volume the job reads; needed when the commit is ready on "
                                                   "more than one volume of the site.")
    bytes: int | None = Field(None, ge=0, description="Bytes the job read, when it knows.")
    cache_hit: bool = Field(True, description="Whether the copy was ready when the job arrived (false: the job "
                                              "waited for a fill).")
    reader: str | None = Field(None, min_length=1, max_length=200, pattern=NO_CONTROL,
                               description="A name for what read it (a data loader, a host); recorded after the "
                                           "caller's own identity.")


class ReadAccepted(BaseModel):
    event_id: str = Field(description="The id of the `dataset.read` event sent.")
    project: str
    site: str
    volume: str | None = Field(description="The volume read; null when the site holds it on several and none "
                                           "was named.")
    commit_id: str
    reader: str = Field(description="Who read it, as recorded.")
    cache_hit: bool


async def record_read(request: web.Request, params: CopyPath, body: ReadReport) -> Reply:
    doc = await copy_document(request, params)
    if doc is None:
        raise NotFound(f"project {params.project!r} has no copy of commit {params.commit_id} at site "
                       f"{params.site!r}; request one with POST {API}/caches")
    ready = sorted(name for name, v in (doc.get("volumes") or {}).items() if v.get("state") == "ready")
    volume = body.volume
    if volume is not None and volume not in ready:
        raise Conflict(f"commit {params.commit_id} is not ready on volume {volume!r} of site {params.site!r} "
                       f"(ready on: {', '.join(ready) or 'none'}); report a read of the volume the job reads")
    if not ready:
        raise Conflict(f"project {params.project!r}'s copy of commit {params.commit_id} at site {params.site!r} is "
                       "not ready; a read is reported once the job reads it")
    if volume is None and len(ready) == 1:
        volume = ready[0]
    if not doc.get("dataset_id"):
        raise Unavailable(f"the gateway does not know the dataset of commit {params.commit_id} at site "
                          f"{params.site!r} yet; retry in a moment")
    subject = principal_of(request).subject
    reader = f"{subject} ({body.reader})" if body.reader else subject
    event = await publisher_of(request).emit(DatasetRead(
        project=params.project, site=params.site, volume=volume, dataset_id=doc["dataset_id"],
        commit_id=params.commit_id, reader=reader, cache_hit=body.cache_hit, bytes_read=body.bytes))
    return Reply(ReadAccepted(event_id=event.id, project=params.project, site=params.site, volume=volume,
                              commit_id=params.commit_id, reader=reader, cache_hit=body.cache_hit), status=202)


OPERATIONS = [
    Operation("POST", f"{API}/projects/{{project}}/sites/{{site}}/copies/{{commit_id}}/reads", record_read,
              "Report a job's read of a cached copy", Permission("caches:read", project_from="match_info:project"),
              params=CopyPath, body=ReadReport, response=ReadAccepted, status=202, errors=(404, 409), tag="caches",
              description="Publishes `dataset.read`: the evictor counts the copy as used now (its idle time "
                          "restarts). The copy must be ready at the site; `lakecache.use` sends it when a job "
                          "starts reading."),
]
