"""The catalog's HTTP API (``/api/v1``): plain aiohttp handlers over the domain modules.

Every route declares the action it performs (``lakecache.core.identity``): a request is served
only with an assertion the gateway signed for that action and the project the route touches,
and the caller is the assertion's subject. Routes that move bytes or reach into the lake live in
``lake_api.py``. Errors are problem documents (``problems.py``). See ``docs/catalog.md``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from lakecache.catalog import commits, datasets, grants, ingest, tags
from lakecache.catalog.domain import Unchanged, check_slug
from lakecache.catalog.lake_api import LAKE_ROUTES
from lakecache.catalog.storage import CATALOG_KEY, Catalog, catalog_of, commit_json, dataset_json, tag_json
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.runtime.access import CHECKED, PATH, QUERY, Access, caller, require_project, route
from lakecache.core.runtime.problems import BadRequestBody, check_limit, json_object

__all__ = ["CATALOG_KEY", "ROUTES"]

NDJSON = "application/x-ndjson"
PREFIX = "/api/v1/datasets"


def _catalog(request: web.Request) -> Catalog:
    return catalog_of(request)


async def _dataset(request: web.Request) -> dict[str, Any]:
    m = request.match_info
    return await datasets.get_dataset(_catalog(request), m["project"], m["name"])


async def create_dataset(request: web.Request) -> web.Response:
    body = await json_object(request)
    require_project(request, check_slug("project", body.get("project")))
    doc = await datasets.create_dataset(_catalog(request), body, caller(request))
    location = f"{PREFIX}/{doc['project']}/{doc['name']}"
    return web.json_response(dataset_json(doc), status=201, headers={"Location": location})


async def list_datasets(request: web.Request) -> web.Response:
    q = request.query
    page, next_cursor = await datasets.list_datasets(
        _catalog(request), project=q.get("project") or None, tag=q.get("tag") or None, q=q.get("q") or None,
        limit=check_limit(q.get("limit"), default=50, maximum=500), cursor=q.get("cursor") or None,
    )
    return web.json_response({"items": [dataset_json(d) for d in page], "next_cursor": next_cursor})


async def show_dataset(request: web.Request) -> web.Response:
    return web.json_response(dataset_json(await _dataset(request)))


async def update_dataset(request: web.Request) -> web.Response:
    m = request.match_info
    doc = await datasets.update_dataset(_catalog(request), m["project"], m["name"], await json_object(request))
    return web.json_response(dataset_json(doc))


async def delete_dataset(request: web.Request) -> web.Response:
    m = request.match_info
    await datasets.delete_dataset(_catalog(request), m["project"], m["name"], caller(request))
    return web.Response(status=204)


async def create_commit(request: web.Request) -> web.Response:
    if request.content_type != NDJSON:
        raise BadRequestBody(
            f"send the commit as {NDJSON} (header line, then one entry per line), not {request.content_type!r}"
        )
    dataset = await _dataset(request)
    try:
        doc = await ingest.create_commit(_catalog(request), dataset, request.content.iter_any(), caller(request))
    except Unchanged as same:
        return web.json_response({"commit": commit_json(same.head), "created": False, "unchanged": True})
    return web.json_response({"commit": commit_json(doc), "created": True}, status=201)


async def commit_log(request: web.Request) -> web.Response:
    q = request.query
    items, next_cursor = await commits.log(
        _catalog(request), await _dataset(request), q.get("ref") or "latest",
        check_limit(q.get("limit"), default=50, maximum=1000), q.get("cursor") or None,
    )
    return web.json_response({"items": [commit_json(c) for c in items], "next_cursor": next_cursor})


async def show_ref(request: web.Request) -> web.Response:
    commit = await commits.resolve(_catalog(request), await _dataset(request), request.match_info["ref"])
    return web.json_response(commit_json(commit))


async def grant_source(request: web.Request) -> web.Response:
    """A source grant for caching the commit ``ref`` names (the gateway's cache requests)."""
    catalog = _catalog(request)
    dataset = await _dataset(request)
    commit = await commits.resolve(catalog, dataset, request.match_info["ref"])
    return web.json_response({"commit": commit_json(commit), "source_grant": await grants.source_grant(
        catalog, dataset, commit), "expires_in_seconds": catalog.grant_ttl_seconds}, status=201)


async def list_entries(request: web.Request) -> web.Response:
    q = request.query
    catalog = _catalog(request)
    commit = await commits.resolve(catalog, await _dataset(request), request.match_info["ref"])
    # next_cursor is the last path returned: it works as start_after, and as cursor it wins
    # over start_after, so a client that keeps its first start_after while paging moves on.
    start_after = q.get("cursor") or q.get("start_after") or None
    delimiter = q.get("delimiter") or None
    if delimiter not in (None, "/"):
        raise InvalidArgument(f"delimiter must be '/' (paths are '/'-separated) or left out, got {delimiter!r}")
    items, directories, next_cursor = await commits.listing(
        catalog, commit, prefix=q.get("prefix", ""), start_after=start_after,
        limit=check_limit(q.get("limit"), default=1000, maximum=10_000), directories=delimiter is not None,
    )
    answer: dict[str, Any] = {"commit": commit["id"], "items": items, "next_cursor": next_cursor}
    if delimiter is not None:
        answer["directories"] = directories
    return web.json_response(answer)


async def diff(request: web.Request) -> web.Response:
    q = request.query
    if not q.get("from") or not q.get("to"):
        raise InvalidArgument("diff needs both ?from=REF and ?to=REF (e.g. from=v1&to=latest)")
    catalog = _catalog(request)
    dataset = await _dataset(request)
    old = await commits.resolve(catalog, dataset, q["from"])
    new = await commits.resolve(catalog, dataset, q["to"])
    items, summary, next_cursor = await commits.diff(
        catalog, old, new, limit=check_limit(q.get("limit"), default=1000, maximum=10_000),
        cursor=q.get("cursor") or None,
    )
    return web.json_response({"from": old["id"], "to": new["id"], "items": items, "summary": summary,
                              "next_cursor": next_cursor})


async def _dataset_by_id(request: web.Request) -> dict[str, Any]:
    doc = await datasets.get_dataset_by_id(_catalog(request), request.match_info["dataset_id"])
    require_project(request, doc["project"])
    return doc


async def show_dataset_by_id(request: web.Request) -> web.Response:
    return web.json_response(dataset_json(await _dataset_by_id(request)))


async def show_commit_by_id(request: web.Request) -> web.Response:
    """A commit of a dataset named by ids: works after the dataset was deleted (lineage)."""
    dataset = await _dataset_by_id(request)
    commit_id = request.match_info["commit_id"]
    commit = await commits.commit_by_id(_catalog(request), dataset, commit_id)
    if commit is None:
        raise NotFound(f"dataset {dataset['_id']} has no commit {commit_id!r}")
    return web.json_response(commit_json(commit))


async def put_tag(request: web.Request) -> web.Response:
    body = await json_object(request)
    ref, force = body.get("ref"), body.get("force", False)
    if not isinstance(ref, str) or not isinstance(force, bool):
        raise InvalidArgument(f'send {{"ref": "<commit, tag or latest>", "force": false}}, got {json.dumps(body)}')
    doc, created = await tags.set_tag(
        _catalog(request), await _dataset(request), request.match_info["tag"], ref, force=force, user=caller(request)
    )
    return web.json_response(tag_json(doc), status=201 if created else 200)


async def list_tags(request: web.Request) -> web.Response:
    items = await tags.list_tags(_catalog(request), await _dataset(request))
    return web.json_response({"items": [tag_json(t) for t in items], "next_cursor": None})


_DATASET = PREFIX + "/{project}/{name}"
_BY_ID = "/api/v1/dataset-ids/{dataset_id}"
_READ, _WRITE = Access("datasets:read", PATH), Access("datasets:write", PATH)

ROUTES = [
    route("POST", PREFIX, create_dataset, Access("datasets:write", CHECKED)),
    route("GET", PREFIX, list_datasets, Access("datasets:read", QUERY)),
    route("GET", _DATASET, show_dataset, _READ),
    route("PATCH", _DATASET, update_dataset, _WRITE),
    route("DELETE", _DATASET, delete_dataset, Access("datasets:delete", PATH)),
    route("POST", _DATASET + "/commits", create_commit, _WRITE),
    route("GET", _DATASET + "/commits", commit_log, _READ),
    route("GET", _DATASET + "/refs/{ref}", show_ref, _READ),
    route("GET", _DATASET + "/refs/{ref}/entries", list_entries, _READ),
    route("POST", _DATASET + "/refs/{ref}/grants", grant_source, Access("caches:request", PATH)),
    route("GET", _DATASET + "/diff", diff, _READ),
    route("GET", _DATASET + "/tags", list_tags, _READ),
    route("PUT", _DATASET + "/tags/{tag}", put_tag, _WRITE),
    route("GET", _BY_ID, show_dataset_by_id, Access("datasets:read", CHECKED)),
    route("GET", _BY_ID + "/commits/{commit_id}", show_commit_by_id, Access("datasets:read", CHECKED)),
    *LAKE_ROUTES,
]
