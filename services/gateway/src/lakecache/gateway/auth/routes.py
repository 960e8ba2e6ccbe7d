"""The route-permission registry: what every route of an app requires, and nothing else passes.

A route's permission is part of its declaration: every route of the gateway is an ``Operation``
(``lakecache.gateway.http.operation``) naming its ``Permission``, and ``Registry.routes``
(``lakecache.gateway.http.registry``) wraps each handler with :func:`requires` for it — handlers
are never decorated by hand. :func:`requires` returns a new function each time, so one handler
can serve several routes with different permissions.
Routes whose handlers the gateway does not write (the shared probes, ``/metrics``) get their
requirement by path in :class:`RoutePolicy`. Anything else — an undeclared route — is denied to
everyone, administrators included, so a forgotten declaration shows up at once.

:meth:`RoutePolicy.table` lists every route of an app with its requirement (the authorization
matrix test iterates it) and :meth:`RoutePolicy.problems` reports undeclared routes and
permissions reading path variables their route does not have.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

from lakecache.core.runtime.http import PUBLIC_PATHS
from lakecache.gateway.auth.context import DENY_KEY, Forbidden
from lakecache.gateway.auth.permissions import Permission
from lakecache.gateway.auth.settings import AuthSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ATTRIBUTE = "__lakecache_permission__"
_PATH_VARIABLE = re.compile(r"\{([^}:]+)")


class Public:
    """The requirement of routes that answer without a token."""

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC = Public()
Requirement = Permission | Public | None


def requires(permission: Permission) -> Callable[[Handler], Handler]:
    """Declare that the handler's route needs ``permission``.

    The wrapper also answers a :class:`Forbidden` the handler raises (via the auth middleware),
    so object-level denials get their 403 and audit record whatever middlewares sit in between.
    """

    def declare(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except Forbidden as exc:
                deny = request.get(DENY_KEY)
                if deny is None:
                    raise
                return await deny(exc)

        setattr(guarded, _ATTRIBUTE, permission)
        return guarded

    return declare


def declared_permission(handler: object) -> Permission | None:
    permission = getattr(handler, _ATTRIBUTE, None)
    return permission if isinstance(permission, Permission) else None


@dataclass(frozen=True)
class RouteRule:
    method: str
    path: str
    requirement: Requirement


@dataclass(frozen=True)
class RoutePolicy:
    """How the middleware finds a route's requirement: its handler's declaration, else its path
    in ``by_path``, else ``public``; else none (denied)."""

    public: frozenset[str] = frozenset({"/healthz", "/readyz"})
    by_path: Mapping[str, Permission] = field(default_factory=dict)

    @classmethod
    def for_gateway(cls, settings: AuthSettings) -> RoutePolicy:
        """The shared probes public; ``/metrics`` public only when configured, else for administrators."""
        if settings.public_metrics:
            return cls(frozenset(PUBLIC_PATHS))
        return cls(frozenset(PUBLIC_PATHS - {"/metrics"}), {"/metrics": Permission("metrics:read")})

    def requirement(self, route: AbstractRoute) -> Requirement:
        declared = declared_permission(route.handler)
        if declared is not None:
            return declared
        # The route's template, not the request path: "/healthz/" or an encoded path cannot match.
        path = route.resource.canonical if route.resource is not None else None
        if path in self.by_path:
            return self.by_path[path]
        return PUBLIC if path in self.public else None

    def table(self, app: web.Application) -> list[RouteRule]:
        """Every route of ``app`` (sub-applications included) with its requirement."""
        return [RouteRule(route.method, route.resource.canonical if route.resource else "?", self.requirement(route))
                for route in app.router.routes()]

    def problems(self, app: web.Application) -> list[str]:
        """What is wrong with ``app``'s declarations, for a test to assert empty."""
        found = []
        for rule in self.table(app):
            if rule.requirement is None:
                found.append(f"{rule.method} {rule.path} declares no permission and is not public: it denies everyone")
            elif isinstance(rule.requirement, Permission):
                missing = rule.requirement.path_variables - set(_PATH_VARIABLE.findall(rule.path))
                if missing:
                    names = ", ".join(sorted(missing))
                    found.append(f"{rule.method} {rule.path} reads path variables it lacks: {names}")
        return found
