"""The catalog's HTTP API (``/api/v1``): plain aiohttp handlers over the domain modules.

The caller's identity is the ``X-LakeCache-User`` header (set by the gateway; ``local`` when
absent). Errors are problem documents (``problems.py``). See ``docs/catalog.md``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from lakecache.catalog import commits, datasets, ingest, tags
from lakecache.catalog.domain import Unchanged
from lakecache.catalog.storage import Catalog, commit_json, dataset_json, tag_json
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.runtime.problems import BadRequestBody, caller, check_limit, json_object

CATALOG_KEY = web.AppKey("catalog", Catalog)
NDJSON = "application/x-ndjson"
PREFIX = "/api/v1/datasets"


def _catalog(request: web.Request) -> Catalog:
    return request.app[CATALOG_KEY]


async def _dataset(request: web.Request) -> dict[str, Any]:
    m = request.match_info
    return await datasets.get_dataset(_catalog(request), m["project"], m["name"])


async def create_dataset(request: web.Request) -> web.Response:
    doc = await datasets.create_dataset(_catalog(request), await json_object(request), caller(request))
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


async def list_entries(request: web.Request) -> web.Response:
    q = request.query
    catalog = _catalog(request)
    commit = await commits.resolve(catalog, await _dataset(request), request.match_info["ref"])
    # next_cursor is the last path returned: it works as start_after, and as cursor it wins
    # over start_after, so a client that keeps its first start_after while paging moves on.
    start_after = q.get("cursor") or q.get("start_after") or None
    items, next_cursor = await commits.entries(
        catalog, commit, prefix=q.get("prefix", ""), start_after=start_after,
        limit=check_limit(q.get("limit"), default=1000, maximum=10_000),
    )
    return web.json_response({"commit": commit["id"], "items": items, "next_cursor": next_cursor})


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
    return await datasets.get_dataset_by_id(_catalog(request), request.match_info["dataset_id"])


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

ROUTES = [
    web.post(PREFIX, create_dataset),
    web.get(PREFIX, list_datasets, allow_head=False),
    web.get(_DATASET, show_dataset, allow_head=False),
    web.patch(_DATASET, update_dataset),
    web.delete(_DATASET, delete_dataset),
    web.post(_DATASET + "/commits", create_commit),
    web.get(_DATASET + "/commits", commit_log, allow_head=False),
    web.get(_DATASET + "/refs/{ref}", show_ref, allow_head=False),
    web.get(_DATASET + "/refs/{ref}/entries", list_entries, allow_head=False),
    web.get(_DATASET + "/diff", diff, allow_head=False),
    web.get(_DATASET + "/tags", list_tags, allow_head=False),
    web.put(_DATASET + "/tags/{tag}", put_tag),
    web.get(_BY_ID, show_dataset_by_id, allow_head=False),
    web.get(_BY_ID + "/commits/{commit_id}", show_commit_by_id, allow_head=False),
]
