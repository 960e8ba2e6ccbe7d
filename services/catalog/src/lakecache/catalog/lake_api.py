"""The catalog's routes that move bytes into a dataset or reach into the lake for a user.

* ``POST …/uploads`` and ``PUT …/contents/{sha256}``: uploads without lake credentials
  (``uploads.py``);
* ``POST …/imports``: a server-side import from a registered import location (``importing.py``);
* ``…/projects/{project}/import-locations``: the locations themselves, which only installation
  administrators register or remove (``imports.py``).

See ``docs/catalog.md``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from lakecache.catalog import datasets, importing, imports, uploads
from lakecache.catalog.domain import check_slug
from lakecache.catalog.storage import catalog_of, commit_json
from lakecache.core.errors import InvalidArgument
from lakecache.core.runtime.access import PATH, Access, caller, route
from lakecache.core.runtime.problems import json_object

OCTET_STREAM = "application/octet-stream"
_DATASET = "/api/v1/datasets/{project}/{name}"
_LOCATIONS = "/api/v1/projects/{project}/import-locations"


async def _dataset(request: web.Request) -> dict[str, Any]:
    m = request.match_info
    return await datasets.get_dataset(catalog_of(request), m["project"], m["name"])


async def plan_uploads(request: web.Request) -> web.Response:
    """Which declared contents the dataset has, and an upload for each it lacks."""
    body = await json_object(request)
    items = await uploads.plan_uploads(catalog_of(request), await _dataset(request), body)
    return web.json_response({"items": items})


async def put_content(request: web.Request) -> web.Response:
    """Store one content (the raw body) under its sha256 in the dataset's content store."""
    if request.content_type != OCTET_STREAM:
        raise InvalidArgument(f"send the content as {OCTET_STREAM}, not {request.content_type!r}")
    sha256 = uploads.check_sha256(request.match_info["sha256"])
    size, created = await uploads.receive_content(catalog_of(request), await _dataset(request), sha256,
                                                  request.content_length, request.content.iter_chunked(1 << 20))
    return web.json_response({"sha256": sha256, "size": size, "created": created}, status=201)


async def import_source(request: web.Request) -> web.Response:
    """Commit what lies under an import location (listed and hashed by the catalog)."""
    body = await json_object(request)
    result, created = await importing.import_source(catalog_of(request), await _dataset(request), body,
                                                    caller(request))
    result["commit"] = commit_json(result["commit"])
    return web.json_response(result, status=201 if created else 200)


async def list_import_locations(request: web.Request) -> web.Response:
    project = check_slug("project", request.match_info["project"])
    items = await imports.list_locations(catalog_of(request), project)
    return web.json_response({"items": [imports.location_json(doc) for doc in items], "next_cursor": None})


async def put_import_location(request: web.Request) -> web.Response:
    body = await json_object(request)
    m = request.match_info
    doc, created = await imports.register(catalog_of(request), m["project"], m["name"], body.get("url"),
                                          caller(request))
    return web.json_response(imports.location_json(doc), status=201 if created else 200)


async def delete_import_location(request: web.Request) -> web.Response:
    m = request.match_info
    await imports.remove(catalog_of(request), check_slug("project", m["project"]), m["name"])
    return web.Response(status=204)


_WRITE = Access("datasets:write", PATH)
_ADMIN = Access("imports:admin")

LAKE_ROUTES = [
    route("POST", _DATASET + "/uploads", plan_uploads, _WRITE),
    route("PUT", _DATASET + "/contents/{sha256}", put_content, _WRITE),
    route("POST", _DATASET + "/imports", import_source, _WRITE),
    route("GET", _LOCATIONS, list_import_locations, Access("datasets:read", PATH)),
    route("PUT", _LOCATIONS + "/{name}", put_import_location, _ADMIN),
    route("DELETE", _LOCATIONS + "/{name}", delete_import_location, _ADMIN),
]
