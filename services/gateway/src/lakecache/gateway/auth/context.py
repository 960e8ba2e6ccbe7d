"""What the auth middleware leaves on a request for its handler, and object-level checks.

Handlers read the caller with :func:`principal_of` and pass :func:`actor_of` to domain calls
(so their audit records name the request). Where the route's permission cannot see everything
— the owner of a token, the project of an object found by id — a handler calls :func:`require`
once it knows; a refusal becomes the same 403 and denial record as the middleware's own.
The handler's :func:`~lakecache.gateway.auth.routes.requires` wrapper answers it, inside any
problem middleware (which would otherwise turn the unknown exception into a 500).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from lakecache.core.errors import LakeCacheError
from lakecache.gateway.auth.audit import Actor
from lakecache.gateway.auth.policy import Decision, Resource, authorize
from lakecache.gateway.auth.principals import JobPrincipal, Principal, UserPrincipal

PRINCIPAL_KEY = web.RequestKey("lakecache_principal", UserPrincipal | JobPrincipal)  # type: ignore[arg-type]
ACTOR_KEY = web.RequestKey("lakecache_actor", Actor)
REQUEST_ID_KEY = web.RequestKey("lakecache_request_id", str)
#: What the request was authorized for: the route's action and the project it touches (None for
#: installation-wide actions). Forwarded requests carry it to the service in a signed assertion.
GRANTED_KEY = web.RequestKey("lakecache_granted", tuple)
#: The session secret of a request authenticated by the dashboard's cookie (pages derive their
#: CSRF token from it); absent for bearer tokens.
SESSION_KEY = web.RequestKey("lakecache_session", str)
#: How to answer a :class:`Forbidden` raised by the handler (set by the auth middleware).
DENY_KEY = web.RequestKey("lakecache_deny", Callable[["Forbidden"], Awaitable[web.StreamResponse]])


class Forbidden(LakeCacheError):
    """A handler's own authorization check failed (answered 403 by the auth middleware)."""

    def __init__(self, action: str, resource: Resource, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.action = action
        self.resource = resource


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller (only routes behind a permission have one)."""
    try:
        return request[PRINCIPAL_KEY]
    except KeyError:
        raise RuntimeError(f"{request.method} {request.path} has no principal: is it public, or is the auth "
                           "middleware not installed?") from None


def granted_of(request: web.Request) -> tuple[str, str | None]:
    """(action, project) the request was authorized for."""
    try:
        return request[GRANTED_KEY]
    except KeyError:
        raise RuntimeError(f"{request.method} {request.path} was not authorized: is it public?") from None


def actor_of(request: web.Request) -> Actor:
    """The caller as audit records name it, tied to this request."""
    try:
        return request[ACTOR_KEY]
    except KeyError:
        raise RuntimeError(f"{request.method} {request.path} has no actor: is the auth middleware installed?") from None


def require(request: web.Request, action: str, resource: Resource) -> None:
    """Raise :class:`Forbidden` unless the caller may perform ``action`` on ``resource``."""
    decision = authorize(principal_of(request), action, resource)
    if not decision.allowed:
        raise Forbidden(action, resource, decision)
