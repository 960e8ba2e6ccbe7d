"""``/datasets/{project}/{name}``: one dataset — its description, labels, owner and lake location;
its commits (newest first, paged) with their tags and where each is cached; the difference
between two refs (``?from=&to=``); and a file browser of one ref by directory (``?ref=&prefix=``).

Reads, per page, a bounded number whatever the dataset's size: from the catalog the dataset, one
page of its commit log, its tags, one page of one directory of a commit (the catalog sums each
subdirectory: ``delimiter=/``) and, when asked, one page of a diff; from the gateway's own copy
read model the copies of the commits shown (one query), and the sites that reported a volume
(for the cache action). No call per commit or per file.

Actions, shown only to who may do them and sent by the page's script to the API (``page.py``):
cache a version at a site (``caches:request``) and tag a commit (``datasets:write``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from lakecache.core.errors import LakeCacheError
from lakecache.gateway.api.common import API
from lakecache.gateway.api.site_list import SITE_VOLUMES_KEY
from lakecache.gateway.auth import Permission
from lakecache.gateway.copies.status import copy_status_of, overall_state
from lakecache.gateway.upstream.services import upstreams_of
from lakecache.gateway.web import backends
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.render import render

#: Commits, diff lines and directory items per page (each has a "more" link).
COMMITS_SHOWN = 25
DIFF_SHOWN = 200
FILES_SHOWN = 200
#: Copies read for the commits shown (a commit is cached at a handful of sites).
COPIES_READ = 500
#: Volumes read to offer their sites in the cache action.
VOLUMES_READ = 500
#: Query parameters of this page (anything else is dropped from its links).
_PARAMS = ("cursor", "from", "to", "diff_cursor", "ref", "prefix", "files_cursor")


async def dataset_page(request: web.Request) -> web.StreamResponse:
    project, name = request.match_info["project"], request.match_info["name"]
    query = {key: request.query[key][:4096] for key in _PARAMS if request.query.get(key)}
    base = f"{API}/datasets/{quote(project, safe='')}/{quote(name, safe='')}"

    async def catalog(path: str, params: dict[str, str] | None = None) -> Any:
        return await backends.read(request, upstreams_of(request).catalog, base + path, action="datasets:read",
                                   project=project, query=params)

    dataset = await catalog("")  # a 404 here is the page's 404
    # Before its first commit a dataset has no log (the catalog answers 404 for ``latest``).
    log = (await catalog("/commits", {"limit": str(COMMITS_SHOWN), **_only(query, cursor="cursor")})
           if dataset.get("head") is not None else {"items": [], "next_cursor": None})
    tags = (await catalog("/tags"))["items"]
    tags_of: dict[str, list[str]] = defaultdict(list)
    for tag in tags:
        tags_of[tag["commit"]].append(tag["name"])
    commits = log["items"]
    cached = await _where_cached(request, project, [c["id"] for c in commits])
    rows = [{**c, "tags": tags_of.get(c["id"], []), "cached": cached.get(c["id"], [])} for c in commits]

    diff = await _section(catalog, "/diff", {"from": query["from"], "to": query["to"], "limit": str(DIFF_SHOWN),
                                             **_only(query, cursor="diff_cursor")}) \
        if "from" in query and "to" in query else None
    ref, prefix = query.get("ref", "latest"), query.get("prefix", "")
    files = None
    if dataset.get("head") is not None:
        files = await _section(catalog, f"/refs/{quote(ref, safe='')}/entries",
                               {"prefix": prefix, "delimiter": "/", "limit": str(FILES_SHOWN),
                                **_only(query, cursor="files_cursor")})

    can_request = backends.allowed(request, "caches:request", project)
    sites = await _sites(request) if can_request else []
    return render(request, "dataset.html", title=f"{project}/{name}", dataset=dataset, rows=rows, tags=tags,
                  more_commits=log.get("next_cursor"), diff=diff, ref=ref, prefix=prefix, files=files,
                  crumbs=_crumbs(prefix), cut=prefix.rfind("/") + 1, query=query, link=_linker(request.path, query),
                  sites=sites,
                  can_request=can_request, can_tag=backends.allowed(request, "datasets:write", project),
                  can_see_copies=backends.allowed(request, "caches:read", project), api=API,
                  tag_pattern=_TAG_PATTERN_HTML)


#: The API's tag rule, as the tag field's ``pattern`` (HTML anchors it itself).
_TAG_PATTERN_HTML = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,127}"


def _only(query: dict[str, str], *, cursor: str) -> dict[str, str]:
    """The page's ``cursor`` parameter as the catalog's ``cursor``."""
    return {"cursor": query[cursor]} if cursor in query else {}


async def _section(catalog: Any, path: str, params: dict[str, str]) -> dict[str, Any]:
    """A part of the page chosen by its query (a diff, a directory): what the catalog says is
    wrong with the refs or the cursor is shown in its place, the rest of the page still shows."""
    try:
        return await catalog(path, params)
    except LakeCacheError as exc:
        return {"error": str(exc)}


async def _where_cached(request: web.Request, project: str, commit_ids: list[str]) -> dict[str, list[dict]]:
    """By commit: the sites holding it, with the state and the volumes' sizes."""
    if not backends.allowed(request, "caches:read", project):
        return {}
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in await copy_status_of(request).of_commits(project, commit_ids, limit=COPIES_READ):
        volumes = doc.get("volumes") or {}
        found[doc["commit_id"]].append({"site": doc["site"], "state": overall_state(doc),
                                        "volumes": sorted(volumes), "error": (doc.get("failure") or {}).get("reason")})
    for copies in found.values():
        copies.sort(key=lambda c: c["site"])
    return found


async def _sites(request: web.Request) -> list[str]:
    docs, _ = await request.app[SITE_VOLUMES_KEY].page(site=None, limit=VOLUMES_READ, cursor=None)
    return sorted({doc["site"] for doc in docs})


def _crumbs(prefix: str) -> list[tuple[str, str]]:
    """(label, prefix) from the root to ``prefix``'s directory: ``train/cat/`` gives the root,
    ``train/`` and ``cat/``."""
    crumbs, walked = [("(root)", "")], ""
    for part in prefix.split("/")[:-1]:
        walked += part + "/"
        crumbs.append((part + "/", walked))
    return crumbs


def _linker(path: str, query: dict[str, str]):
    """This page's URL with some parameters changed (``None`` drops one), and an anchor."""

    def link(anchor: str = "", **changes: str | None) -> str:
        merged = {**query, **{key.rstrip("_"): value for key, value in changes.items()}}
        kept = {key: value for key, value in merged.items() if value not in (None, "")}
        return path + (f"?{urlencode(kept)}" if kept else "") + (f"#{anchor}" if anchor else "")

    return link


PAGES = [Page("/datasets/{project}/{name}", dataset_page, "Dataset",
              Permission("datasets:read", project_from="match_info:project"))]
