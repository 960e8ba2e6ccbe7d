"""A dashboard page's declaration: path, handler, and what it requires — like an API ``Operation``.

    Page("/datasets/{project}/{name}", dataset_page, "Dataset",
         Permission("datasets:read", project_from="match_info:project"))

Pages are GET routes that answer HTML. Every one names its permission (or ``PUBLIC``: the
sign-in page), so the auth middleware's deny-by-default covers them exactly as it covers the API
and the authorization matrix lists them. Pages only *read*: a dashboard action is a request to
the documented JSON API, sent by the page's script with the session's CSRF token, so each change
has one implementation, one permission and one audit record whichever client makes it
(ADR 0015). The sign-in and sign-out forms are the exceptions (``signin.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from lakecache.core.errors import Conflict, InvalidArgument, LakeCacheError, NotFound, Unavailable
from lakecache.gateway.auth import PUBLIC, Permission, requires
from lakecache.gateway.auth.context import DENY_KEY, Forbidden
from lakecache.gateway.auth.routes import Public
from lakecache.gateway.web.render import render

PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Page:
    path: str
    handler: PageHandler
    title: str
    permission: Permission | Public
    method: str = "GET"

    def route(self) -> web.RouteDef:
        handler = _html_errors(self.handler)
        if self.permission is not PUBLIC:
            handler = requires(self.permission)(handler)
        options = {"allow_head": False} if self.method == "GET" else {}
        return web.route(self.method, self.path, handler, **options)


#: A page's failure, as the status it answers.
_STATUS: tuple[tuple[type[LakeCacheError], int], ...] = (
    (NotFound, 404), (InvalidArgument, 400), (Conflict, 409), (Unavailable, 503))


def _html_errors(handler: PageHandler) -> PageHandler:
    """A page's failure as an HTML page (the API's are problem documents): a refusal is still
    recorded by the auth middleware, and nothing of the exception but its message is shown."""

    @functools.wraps(handler)
    async def page(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Forbidden as exc:
            deny = request.get(DENY_KEY)
            if deny is not None:
                await deny(exc)  # the audit record; the answer is this page
            return render(request, "error.html", title="Not allowed", status=403, message=str(exc))
        except LakeCacheError as exc:
            status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
            return render(request, "error.html", title="Not found" if status == 404 else "Cannot show this",
                          status=status, message=str(exc))

    return page


def page_routes(pages: Iterable[Page]) -> list[web.RouteDef]:
    return [page.route() for page in pages]


def public_paths(pages: Iterable[Page]) -> frozenset[str]:
    return frozenset(page.path for page in pages if page.permission is PUBLIC)
