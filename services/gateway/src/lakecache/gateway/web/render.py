"""HTML from Jinja2 templates (autoescaped), with what every page's frame needs.

The environment is built once per app (``templates_setup``), not at import. Every page gets:
``me`` (the signed-in user: name, administrator or not, roles by project), ``csrf`` (the
session's CSRF token, which the frame puts in a ``<meta>`` for the page's script and which
forms carry), ``path`` (for the navigation) and ``title``. Pages are ``no-store``: they show
what one person may see, and must not outlive the session in a shared browser's cache.
"""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from lakecache.gateway.auth.context import PRINCIPAL_KEY, SESSION_KEY
from lakecache.gateway.auth.principals import UserPrincipal
from lakecache.gateway.auth.sessions import csrf_token
from lakecache.gateway.web import format as fmt

TEMPLATES_KEY = web.AppKey("lakecache_templates", jinja2.Environment)
#: Sent with every page: no inline script, no framing, nothing from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def templates_setup(app: web.Application) -> None:
    env = jinja2.Environment(loader=jinja2.PackageLoader("lakecache.gateway.web", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(size=fmt.size, when=fmt.when, ago=fmt.ago, duration=fmt.duration, short=fmt.short,
                       percent=fmt.percent)
    app[TEMPLATES_KEY] = env


def render(request: web.Request, template: str, *, title: str, status: int = 200, **context: Any) -> web.Response:
    principal = request.get(PRINCIPAL_KEY)
    session = request.get(SESSION_KEY)
    me = None
    if isinstance(principal, UserPrincipal):
        me = {"name": principal.name, "admin": principal.global_admin,
              "roles": {project: str(role) for project, role in principal.roles.items()}}
    html = request.app[TEMPLATES_KEY].get_template(template).render(
        me=me, csrf=csrf_token(session) if session else "", path=request.path, title=title, **context)
    return web.Response(text=html, status=status, content_type="text/html", headers=SECURITY_HEADERS)
