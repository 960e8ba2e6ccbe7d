"""The dashboard: HTML pages the gateway serves at ``/``, next to the API (ADR 0015).

Server-rendered Jinja2 pages that read through the same authorization as the API
(``backends.py``), a session cookie for browsers (``lakecache.gateway.auth.sessions``), one
stylesheet and one small script of our own under ``/static`` — no third-party JavaScript and
no build step.
"""

from __future__ import annotations

from importlib.resources import files

from aiohttp import web

from lakecache.gateway.web import (
    admin,
    audit_log,
    cache_map,
    dataset,
    hub,
    lineage,
    members,
    own_tokens,
    run_detail,
    runs,
    signin,
)
from lakecache.gateway.web.page import Page, page_routes, public_paths
from lakecache.gateway.web.render import render, templates_setup

STATIC_PATH = "/static"

PAGES: list[Page] = [*signin.PAGES, *hub.PAGES, *cache_map.PAGES, *dataset.PAGES,
                     *admin.PAGES, *audit_log.PAGES, *members.PAGES, *own_tokens.PAGES,
                     *runs.PAGES, *run_detail.PAGES, *lineage.PAGES]


def web_routes() -> list[web.AbstractRouteDef]:
    """The pages' routes and the static files'."""
    static = files("lakecache.gateway.web") / "static"
    return [*page_routes(PAGES), web.static(STATIC_PATH, str(static), append_version=False)]


def refusal_page(request: web.Request, reason: str) -> web.Response:
    """A refused page, as a page: what a browser shows instead of the API's problem document."""
    return render(request, "error.html", title="Not allowed", status=403, message=reason)


def web_public_paths() -> frozenset[str]:
    return public_paths(PAGES) | {STATIC_PATH}


__all__ = ["PAGES", "refusal_page", "templates_setup", "web_public_paths", "web_routes"]
