"""What pages read from the services behind the gateway, as the signed-in person.

A page may show several projects (the hub) while its route's permission names at most one, so
every read is authorized here for its own project before the gateway asks a service for it,
with the same decision function as the API (``authorize``); the service then checks the
gateway's signed assertion for that action and project, as for any forwarded request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from lakecache.core.errors import InvalidArgument, NotFound, Unavailable
from lakecache.gateway.auth.context import Forbidden, principal_of
from lakecache.gateway.auth.policy import Resource, authorize
from lakecache.gateway.upstream.forward import upstream_json


def allowed(request: web.Request, action: str, project: str | None = None) -> bool:
    return authorize(principal_of(request), action, Resource(project=project)).allowed


def check(request: web.Request, action: str, project: str | None = None) -> None:
    """:class:`Forbidden` unless the caller may perform ``action`` in ``project``."""
    resource = Resource(project=project)
    decision = authorize(principal_of(request), action, resource)
    if not decision.allowed:
        raise Forbidden(action, resource, decision)


async def read(request: web.Request, base: str, path: str, *, action: str, project: str | None = None,
               query: Mapping[str, str] | None = None, method: str = "GET", json_body: Any = None) -> Any:
    """``path`` of the service at ``base`` (percent-encoded), for ``action`` in ``project``: its
    JSON; :class:`NotFound` for a 404, :class:`InvalidArgument` for a refused request (400, 422),
    :class:`Unavailable` for any other failure."""
    check(request, action, project)
    status, answer = await upstream_json(request, base, path, action=action, project=project, query=query,
                                         method=method, json_body=json_body)
    if status == 404:
        raise NotFound((answer or {}).get("detail") or f"{path} does not exist")
    if status >= 400:
        detail = (answer or {}).get("detail") if isinstance(answer, dict) else None
        if status in (400, 422):  # what the page passed on from the person (a filter, a node): theirs to fix
            raise InvalidArgument(detail or f"{path} refused the request")
        raise Unavailable(f"reading {path} answered {status}: {detail or 'no detail'}")
    return answer
