"""``/sites``: the cache map — every site and volume with its capacity bar, and on each volume the
copies the signed-in person may see, with what keeps or evicts them.

Reads, per page: the gateway's read models (volumes as their cachers reported them; the copy
statuses of each visible project), and from the evictor one site summary per site (its usage
estimate and watermarks) and one answer per (project, site) with the facts of every copy there
(last use, leases, pin, TTL left, the verdict). No call per copy. A copy being filled follows its
progress live (the page's script reads the copy's Server-Sent Events stream).

Actions are shown by role and sent by the page's script to the API (``page.py``): request a
cache (editors), evict (editors), pin and unpin (project administrators), set a commit's TTL at
the site (installation administrators).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from lakecache.core.errors import LakeCacheError
from lakecache.gateway.api.common import API
from lakecache.gateway.api.site_list import SITE_VOLUMES_KEY
from lakecache.gateway.auth import Permission
from lakecache.gateway.copies.status import copy_status_of, overall_state
from lakecache.gateway.upstream.services import upstreams_of
from lakecache.gateway.web import backends
from lakecache.gateway.web.hub import visible_projects
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.render import render

#: Volumes and copies read per page (a bigger installation filters by site).
VOLUMES_READ = 500
COPIES_READ = 1000


async def cache_map(request: web.Request) -> web.StreamResponse:
    only_site = request.query.get("site") or None
    volumes_docs, _ = await request.app[SITE_VOLUMES_KEY].page(site=only_site, limit=VOLUMES_READ, cursor=None)
    sites: dict[str, dict[str, Any]] = {}
    for doc in volumes_docs:
        site = sites.setdefault(doc["site"], {"name": doc["site"], "volumes": {}, "summary": None})
        site["volumes"][doc["volume"]] = _volume(doc["volume"], doc)
    for site in sites.values():
        site["summary"] = await _site_summary(request, site["name"])
        for summary in (site["summary"] or {}).get("volumes", []):
            if summary["volume"] in site["volumes"]:
                site["volumes"][summary["volume"]]["eviction"] = summary

    projects = [p for p in await visible_projects(request) if backends.allowed(request, "caches:read", p)]
    for project in projects:
        docs, _ = await copy_status_of(request).page(project, site=only_site, limit=COPIES_READ, cursor=None)
        facts = {}
        for site_name in sorted({doc["site"] for doc in docs}):
            facts.update(await _copy_facts(request, project, site_name))
        for doc in docs:
            for row in _rows(doc, facts, request):
                site = sites.setdefault(row["site"], {"name": row["site"], "volumes": {}, "summary": None})
                volume = site["volumes"].setdefault(row["volume"] or "", _volume(row["volume"] or "(choosing)", {}))
                volume["copies"].append(row)
    requestable = [p for p in projects if backends.allowed(request, "caches:request", p)]
    return render(request, "cache_map.html", title="Cache map", sites=sorted(sites.values(), key=lambda s: s["name"]),
                  requestable=requestable, only_site=only_site, can_set_ttl=backends.allowed(request, "sites:write"),
                  api=API)


def _volume(name: str, reported: dict[str, Any]) -> dict[str, Any]:
    """A volume as the map shows it: what its cacher last reported (any field may be missing)."""
    fields = ("capacity_bytes", "used_bytes", "high_watermark", "low_watermark", "ttl_seconds", "withdrawn")
    shown = {key: reported.get(key) for key in fields}
    if reported.get("capacity_configured") and reported.get("cached_bytes") is not None:
        # A configured capacity bounds LakeCache's own bytes, not the (maybe shared) filesystem's.
        shown["used_bytes"] = reported["cached_bytes"]
    return {"volume": name, **shown, "copies": [], "eviction": None}


async def _site_summary(request: web.Request, site: str) -> dict[str, Any] | None:
    try:
        return await backends.read(request, upstreams_of(request).evictor, f"{API}/sites/{quote(site, safe='')}"
                                   "/eviction", action="sites:read")
    except LakeCacheError:  # the map still shows what the cachers reported
        return None


async def _copy_facts(request: web.Request, project: str, site: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    path = f"{API}/projects/{quote(project, safe='')}/sites/{quote(site, safe='')}/eviction"
    try:
        answer = await backends.read(request, upstreams_of(request).evictor, path, action="caches:read",
                                     project=project)
    except LakeCacheError:
        return {}
    return {(site, item["volume"], item["commit_id"]): item for item in answer.get("items", [])}


#: What the template reads of a volume entry: a copy still waiting for its volume has none, and an
#: entry holds only the fields its events brought so far (no progress before the fill starts).
_NO_ENTRY: dict[str, Any] = {"pinned": False, "error": None, "bytes_total": None, "bytes_done": 0,
                             "files_done": 0, "files_total": None}


def _rows(doc: dict[str, Any], facts: dict[tuple[str, str, str], dict[str, Any]],
          request: web.Request) -> list[dict[str, Any]]:
    """One row per volume of a copy status (one without a volume while the cacher chooses)."""
    project, site, commit_id = doc["project"], doc["site"], doc["commit_id"]
    base = {"project": project, "site": site, "commit_id": commit_id, "dataset": doc.get("dataset"),
            "overall": overall_state(doc), "requested_by": doc.get("requested_by"),
            "events": f"{API}/projects/{quote(project, safe='')}/sites/{quote(site, safe='')}/copies/{commit_id}"
                      "/events",
            "copy_path": f"{API}/projects/{quote(project, safe='')}/sites/{quote(site, safe='')}/copies/{commit_id}",
            "can_evict": backends.allowed(request, "caches:evict", project),
            "can_pin": backends.allowed(request, "caches:pin", project)}
    volumes = doc.get("volumes") or {}
    if not volumes:
        return [{**base, "volume": None, "state": overall_state(doc), "entry": dict(_NO_ENTRY), "facts": None}]
    return [{**base, "volume": name, "state": entry.get("state"), "entry": {**_NO_ENTRY, **entry},
             "facts": facts.get((site, name, commit_id))}
            for name, entry in sorted(volumes.items())]


PAGES = [Page("/sites", cache_map, "Cache map", Permission("sites:read"))]
