"""The evictor's HTTP API: why a copy is kept or was evicted, and per-dataset/commit TTLs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from lakecache.core.contracts.eviction import EvictionTtlChanged
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.publishing import EventPublisher
from lakecache.core.runtime.problems import caller, json_object
from lakecache.evictor.sites import SitePolicies

POLICIES_KEY = web.AppKey("evictor_policies", SitePolicies)
PUBLISHER_KEY = web.AppKey("evictor_publisher", EventPublisher)
SITE = "/api/v1/sites/{site}"


async def explain_copy(request: web.Request) -> web.Response:
    """``GET …/copies/{commit_id}/eviction?volume=V``: the verdict and the facts behind it."""
    site, commit_id = request.match_info["site"], request.match_info["commit_id"]
    policies = request.app[POLICIES_KEY]
    state = await policies.state(site)
    volume = request.query.get("volume")
    if volume is None:
        holding = sorted(name for name, v in state.volumes.items() if commit_id in v.copies)
        if not holding:
            raise NotFound(f"the evictor knows no copy of commit {commit_id} at site {site!r}; it learns of copies "
                           "from cache.ready events (is the site's cacher running, and this evictor the one "
                           "that owns the site?)")
        volume = holding[0]
    return web.json_response(await policies.explain(site, volume, commit_id, datetime.now(UTC)))


async def site_summary(request: web.Request) -> web.Response:
    """``GET …/eviction``: each volume's watermark state and copy counts."""
    site = request.match_info["site"]
    policies = request.app[POLICIES_KEY]
    state = await policies.state(site)
    now = datetime.now(UTC)
    volumes: list[dict[str, Any]] = []
    for name, volume in sorted(state.volumes.items()):
        high, low = volume.watermarks(policies.settings)
        counts: dict[str, int] = {}
        for copy in volume.copies.values():
            counts[copy.status] = counts.get(copy.status, 0) + 1
        volumes.append({"volume": name, "capacity_bytes": volume.capacity_bytes, "used_bytes": volume.used_bytes(),
                        "high_watermark": high, "low_watermark": low, "reclaiming": volume.reclaiming,
                        "ttl_seconds": volume.ttl_seconds, "copies": counts})
    return web.json_response({"site": site, "now": now.isoformat(), "dry_run": policies.settings.dry_run,
                              "default_ttl_seconds": policies.settings.default_ttl_seconds, "volumes": volumes})


async def set_ttl(request: web.Request) -> web.Response:
    """``PUT …/ttl``: ``{"scope": "dataset"|"commit", "target": id, "ttl_seconds": n|null}``."""
    body = await json_object(request)
    unknown = sorted(set(body) - {"scope", "target", "ttl_seconds"})
    if unknown:
        raise InvalidArgument(f"unknown field(s) {', '.join(unknown)}; send scope, target and ttl_seconds")
    ttl = body.get("ttl_seconds")
    if body.get("scope") not in ("dataset", "commit") or not isinstance(body.get("target"), str) or not (
            ttl is None or (isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0)):
        raise InvalidArgument('send {"scope": "dataset" or "commit", "target": "<dataset id or commit id>", '
                              '"ttl_seconds": <whole seconds > 0, or null to clear>}')
    event = await request.app[PUBLISHER_KEY].emit(EvictionTtlChanged(
        site=request.match_info["site"], scope=body["scope"], target=body["target"], ttl_seconds=ttl,
        changed_by=caller(request)))
    return web.json_response({"accepted": True, "event_id": event.id}, status=202)


ROUTES = [
    web.get(SITE + "/eviction", site_summary),
    web.get(SITE + "/copies/{commit_id}/eviction", explain_copy),
    web.put(SITE + "/ttl", set_ttl),
]
