"""The cacher's HTTP API: a site's volumes (``/api/v1/sites/{site}/…``) and a project's copies,
leases and pins (``/api/v1/projects/{project}/sites/{site}/copies/…``).

Every route declares the action it performs (``lakecache.core.identity``); routes about one
copy check that the caller was authorized in the copy's project before touching it. The caller
is the assertion's subject. Errors are problem documents (``problems.py``). See
``docs/cacher.md``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from lakecache.cacher import leases, quotas, retirement, volumes
from lakecache.cacher.storage import Cacher
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.runtime.access import PATH, QUERY, Access, caller, route
from lakecache.core.runtime.problems import check_limit, json_object
from lakecache.core.vocabulary.clock import iso, now
from lakecache.core.vocabulary.copies import ACTIVE_STATES, COPY_STATES, FillProgress

CACHER_KEY = web.AppKey("cacher", Cacher)

SITE = "/api/v1/sites/{site}"


def public_copy(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy as the API shows it (``docs/cacher.md``)."""
    lease_until = doc.get("lease_until")
    leased = lease_until is not None and lease_until > now()
    return {
        "site": doc["site"], "volume": doc["volume"], "commit_id": doc["commit_id"], "project": doc["project"],
        "dataset": doc["dataset"], "dataset_id": doc["dataset_id"], "state": doc["state"],
        "path": doc.get("path") if doc["state"] == "ready" else None,
        "fill_id": doc.get("fill_id"), "files": doc.get("files"), "size_bytes": doc.get("size_bytes"),
        "bytes_fetched": doc.get("bytes_fetched"), "bytes_deduplicated": doc.get("bytes_deduplicated"),
        "duration_seconds": doc.get("duration_seconds"),
        "progress": _progress(doc.get("progress")) if doc["state"] in ACTIVE_STATES else None,
        "error": doc.get("error"), "generation": doc.get("generation", 0),
        "pinned": doc.get("pinned", False), "leased_until": iso(lease_until) if leased else None,
        "requested_at": iso(doc.get("created_at")), "updated_at": iso(doc.get("updated_at")),
        "ready_at": iso(doc.get("ready_at")),
    }


def _progress(recorded: Any) -> dict[str, Any] | None:
    # Every field of the one progress model, also for a copy whose fill recorded fewer.
    try:
        return FillProgress.model_validate(recorded).model_dump(mode="json") if recorded else None
    except ValidationError:
        return None


def _cacher(request: web.Request) -> Cacher:
    cacher = request.app[CACHER_KEY]
    cacher.check_site(request.match_info["site"])
    return cacher


async def add_volume(request: web.Request) -> web.Response:
    cacher = _cacher(request)
    doc = await volumes.register(cacher, volumes.parse_volume(await json_object(request)))
    location = f"/api/v1/sites/{cacher.site}/volumes/{doc['name']}"
    return web.json_response(await volumes.volume_json(cacher, doc), status=201, headers={"Location": location})


async def list_volumes(request: web.Request) -> web.Response:
    cacher = _cacher(request)
    items = [await volumes.volume_json(cacher, v) for v in await volumes.list_volumes(cacher)]
    return web.json_response({"items": items, "next_cursor": None})


async def show_volume(request: web.Request) -> web.Response:
    cacher = _cacher(request)
    return web.json_response(await volumes.volume_json(cacher, await volumes.get_volume(
        cacher, request.match_info["name"])))


async def remove_volume(request: web.Request) -> web.Response:
    cacher = _cacher(request)
    await retirement.unregister(cacher, request.match_info["name"], caller(request))
    return web.Response(status=204)


async def set_quota(request: web.Request) -> web.Response:
    cacher, m = _cacher(request), request.match_info
    project = quotas.check_project(m["project"])
    quota = quotas.parse_quota(await json_object(request))
    await volumes.get_volume(cacher, m["name"])  # a NotFound that lists the site's volumes
    doc = await cacher.volumes.set_quota(m["name"], project, quota)
    if doc is None:
        raise NotFound(f"site {cacher.site!r} has no volume {m['name']!r}")
    return web.json_response(await quotas.project_on(cacher, doc, project))


async def clear_quota(request: web.Request) -> web.Response:
    cacher, m = _cacher(request), request.match_info
    project = quotas.check_project(m["project"])
    await volumes.get_volume(cacher, m["name"])
    if await cacher.volumes.set_quota(m["name"], project, None) is None:
        raise NotFound(f"site {cacher.site!r} has no volume {m['name']!r}")
    return web.Response(status=204)


async def project_quotas(request: web.Request) -> web.Response:
    cacher = _cacher(request)
    project = quotas.check_project(request.match_info["project"])
    items = [await quotas.project_on(cacher, v, project) for v in await volumes.list_volumes(cacher)]
    return web.json_response({"items": items})


async def copies(request: web.Request) -> web.Response:
    cacher, q = _cacher(request), request.query
    state = q.get("state") or None
    if state is not None and state not in COPY_STATES:
        raise InvalidArgument(f"state must be one of {', '.join(COPY_STATES)}, got {state!r}")
    limit = check_limit(q.get("limit"), default=100, maximum=1000)
    page, next_cursor = await cacher.copies.page(volume=q.get("volume") or None, state=state,
                                                 project=q.get("project") or None, limit=limit,
                                                 cursor=q.get("cursor") or None)
    return web.json_response({"items": [public_copy(d) for d in page], "next_cursor": next_cursor})


async def _copy(request: web.Request, volume: str | None) -> dict:
    """The project's copy the path names (the middleware checked the caller acts in that project)."""
    m = request.match_info
    return await leases.copy_or_404(_cacher(request), m["project"], m["commit_id"], volume)


async def show_copy(request: web.Request) -> web.Response:
    return web.json_response(public_copy(await _copy(request, request.query.get("volume") or None)))


async def acquire_lease(request: web.Request) -> web.Response:
    cacher, body = _cacher(request), await json_object(request)
    volume = body.get("volume") or request.query.get("volume") or None
    if volume is not None and not isinstance(volume, str):
        raise InvalidArgument(f"volume must be a volume name (e.g. nfs1), got {volume!r}")
    await _copy(request, volume)
    holder = body.get("holder") or caller(request)
    if not isinstance(holder, str) or len(holder) > 200:
        raise InvalidArgument(f"holder must be a string of at most 200 characters (e.g. a job id), got {holder!r}")
    lease = await leases.acquire(cacher, request.match_info["project"], request.match_info["commit_id"], volume,
                                 holder, leases.check_ttl(body.get("ttl_seconds", 600)))
    return web.json_response(lease, status=201)


async def _leased_copy(request: web.Request) -> None:
    m = request.match_info
    await leases.copy_of_lease(_cacher(request), m["project"], m["commit_id"], m["lease_id"])


async def renew_lease(request: web.Request) -> web.Response:
    cacher = _cacher(request)
    await _leased_copy(request)
    body = await json_object(request) if request.can_read_body else {}
    ttl = leases.check_ttl(body["ttl_seconds"]) if "ttl_seconds" in body else None
    m = request.match_info
    return web.json_response(await leases.renew(cacher, m["commit_id"], m["lease_id"], ttl))


async def release_lease(request: web.Request) -> web.Response:
    await _leased_copy(request)
    m = request.match_info
    await leases.release(_cacher(request), m["commit_id"], m["lease_id"])
    return web.Response(status=204)


async def _pin(request: web.Request, pinned: bool) -> web.Response:
    await _copy(request, request.query.get("volume") or None)
    doc = await leases.set_pin(_cacher(request), request.match_info["project"], request.match_info["commit_id"],
                               request.query.get("volume") or None, pinned, caller(request))
    return web.json_response(public_copy(doc))


async def pin(request: web.Request) -> web.Response:
    return await _pin(request, True)


async def unpin(request: web.Request) -> web.Response:
    return await _pin(request, False)


#: One project's copy of a commit at the site: another project's copy of the same commit is another copy.
_COPY = "/api/v1/projects/{project}/sites/{site}/copies/{commit_id}"
_READ_SITE, _LEASE, _PIN = Access("sites:read"), Access("leases:write", PATH), Access("caches:pin", PATH)

ROUTES = [
    route("POST", SITE + "/volumes", add_volume, Access("sites:write")),
    route("GET", SITE + "/volumes", list_volumes, _READ_SITE),
    route("GET", SITE + "/volumes/{name}", show_volume, _READ_SITE),
    route("DELETE", SITE + "/volumes/{name}", remove_volume, Access("sites:write")),
    # A quota is a setting of the volume (installation-wide), whichever project it names.
    route("PUT", SITE + "/volumes/{name}/quotas/{project}", set_quota, Access("sites:write")),
    route("DELETE", SITE + "/volumes/{name}/quotas/{project}", clear_quota, Access("sites:write")),
    route("GET", "/api/v1/projects/{project}/sites/{site}/quotas", project_quotas, Access("caches:read", PATH)),
    route("GET", SITE + "/copies", copies, Access("caches:read", QUERY)),
    route("GET", _COPY, show_copy, Access("caches:read", PATH)),
    route("POST", _COPY + "/leases", acquire_lease, _LEASE),
    route("PUT", _COPY + "/leases/{lease_id}", renew_lease, _LEASE),
    route("DELETE", _COPY + "/leases/{lease_id}", release_lease, _LEASE),
    route("PUT", _COPY + "/pin", pin, _PIN),
    route("DELETE", _COPY + "/pin", unpin, _PIN),
]
