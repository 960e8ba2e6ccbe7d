"""The cacher's HTTP API (``/api/v1/sites/{site}/…``): volumes, copies, leases and pins.

The caller's identity is the ``X-LakeCache-User`` header (set by the gateway; ``local`` when
absent). Errors are problem documents (``problems.py``). See ``docs/cacher.md``.
"""

from __future__ import annotations

from aiohttp import web

from lakecache.cacher import leases, volumes
from lakecache.cacher.copies import list_copies
from lakecache.cacher.storage import Cacher, public_copy
from lakecache.core.errors import InvalidArgument
from lakecache.core.runtime.problems import caller, check_limit, json_object

CACHER_KEY = web.AppKey("cacher", Cacher)

STATES = ("requested", "filling", "ready", "failed", "evicting", "evicted")
SITE = "/api/v1/sites/{site}"


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


async def copies(request: web.Request) -> web.Response:
    cacher, q = _cacher(request), request.query
    state = q.get("state") or None
    if state is not None and state not in STATES:
        raise InvalidArgument(f"state must be one of {', '.join(STATES)}, got {state!r}")
    limit = check_limit(q.get("limit"), default=100, maximum=1000)
    page, next_cursor = await list_copies(cacher, volume=q.get("volume") or None, state=state,
                                          project=q.get("project") or None, limit=limit,
                                          cursor=q.get("cursor") or None)
    return web.json_response({"items": [public_copy(d) for d in page], "next_cursor": next_cursor})


async def show_copy(request: web.Request) -> web.Response:
    cacher = _cacher(request)
    doc = await leases.copy_or_404(cacher, request.match_info["commit_id"], request.query.get("volume") or None)
    return web.json_response(public_copy(doc))


async def acquire_lease(request: web.Request) -> web.Response:
    cacher, body = _cacher(request), await json_object(request)
    holder = body.get("holder") or caller(request)
    if not isinstance(holder, str) or len(holder) > 200:
        raise InvalidArgument(f"holder must be a string of at most 200 characters (e.g. a job id), got {holder!r}")
    lease = await leases.acquire(cacher, request.match_info["commit_id"], body.get("volume") or
                                 request.query.get("volume") or None, holder,
                                 leases.check_ttl(body.get("ttl_seconds", 600)))
    return web.json_response(lease, status=201)


async def renew_lease(request: web.Request) -> web.Response:
    cacher = _cacher(request)
    body = await json_object(request) if request.can_read_body else {}
    ttl = leases.check_ttl(body["ttl_seconds"]) if "ttl_seconds" in body else None
    m = request.match_info
    return web.json_response(await leases.renew(cacher, m["commit_id"], m["lease_id"], ttl))


async def release_lease(request: web.Request) -> web.Response:
    m = request.match_info
    await leases.release(_cacher(request), m["commit_id"], m["lease_id"])
    return web.Response(status=204)


async def _pin(request: web.Request, pinned: bool) -> web.Response:
    doc = await leases.set_pin(_cacher(request), request.match_info["commit_id"],
                               request.query.get("volume") or None, pinned, caller(request))
    return web.json_response(public_copy(doc))


async def pin(request: web.Request) -> web.Response:
    return await _pin(request, True)


async def unpin(request: web.Request) -> web.Response:
    return await _pin(request, False)


_COPY = SITE + "/copies/{commit_id}"

ROUTES = [
    web.post(SITE + "/volumes", add_volume),
    web.get(SITE + "/volumes", list_volumes, allow_head=False),
    web.get(SITE + "/volumes/{name}", show_volume, allow_head=False),
    web.get(SITE + "/copies", copies, allow_head=False),
    web.get(_COPY, show_copy, allow_head=False),
    web.post(_COPY + "/leases", acquire_lease),
    web.put(_COPY + "/leases/{lease_id}", renew_lease),
    web.delete(_COPY + "/leases/{lease_id}", release_lease),
    web.put(_COPY + "/pin", pin),
    web.delete(_COPY + "/pin", unpin),
]
