"""``/``: the projects and datasets the signed-in person may read, with search, each dataset's
latest commit and where its versions are cached.

One catalog listing per project (the catalog searches name, description and labels) and one
read of the gateway's own copy read model per project (no call to any cacher).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web

from lakecache.gateway.api.common import API, auth_of
from lakecache.gateway.auth import Permission
from lakecache.gateway.auth.context import principal_of
from lakecache.gateway.auth.principals import UserPrincipal
from lakecache.gateway.copies.status import copy_status_of, overall_state
from lakecache.gateway.upstream.services import upstreams_of
from lakecache.gateway.web import backends
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.render import render

#: Datasets shown of a chosen project, and of each project when all are listed (each then links
#: to its own list): rendering rows is most of this page's time (800 rows took ~100 ms).
#: The search narrows a larger project.
SHOWN, SHOWN_EACH = 200, 50
#: Copies looked at per project to say where datasets are cached.
COPIES_READ = 500


async def visible_projects(request: web.Request) -> list[str]:
    """The projects whose datasets the caller may read: their roles', or every project with a
    member for an installation administrator."""
    principal = principal_of(request)
    if isinstance(principal, UserPrincipal) and principal.global_admin:
        return await auth_of(request).memberships.projects()
    return sorted(p for p in getattr(principal, "roles", {}) if backends.allowed(request, "datasets:read", p))


async def hub(request: web.Request) -> web.StreamResponse:
    search = request.query.get("q", "").strip()[:200]
    chosen = request.query.get("project") or None
    projects = await visible_projects(request)
    rows: list[dict[str, Any]] = []
    more: list[str] = []
    for project in projects if chosen is None else [p for p in projects if p == chosen]:
        query = {"project": project, "limit": str(SHOWN if chosen else SHOWN_EACH), **({"q": search} if search else {})}
        page = await backends.read(request, upstreams_of(request).catalog, f"{API}/datasets", action="datasets:read",
                                   project=project, query=query)
        if page.get("next_cursor"):
            more.append(project)
        cached = await _where_cached(request, project)
        for dataset in page["items"]:
            rows.append({**dataset, "cached": cached.get(dataset["id"], [])})
    return render(request, "hub.html", title="Datasets", rows=rows, projects=projects, chosen=chosen,
                  search=search, more=more)


async def _where_cached(request: web.Request, project: str) -> dict[str, list[dict[str, Any]]]:
    """By dataset id: the sites holding a version, with its state and commit."""
    if not backends.allowed(request, "caches:read", project):
        return {}
    docs, _ = await copy_status_of(request).page(project, site=None, limit=COPIES_READ, cursor=None)
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        if doc.get("dataset_id"):
            found[doc["dataset_id"]].append({"site": doc["site"], "commit_id": doc["commit_id"],
                                             "state": overall_state(doc)})
    return found


PAGES = [Page("/", hub, "Datasets", Permission("self:read"))]
