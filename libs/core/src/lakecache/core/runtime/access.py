"""Who may call an internal service: every route declares its action, every request proves it.

A service behind the gateway (catalog, cacher, evictor, tracker) declares each route with the
one action it performs and where the request names its project::

    route("POST", "/api/v1/datasets/{project}/{name}/commits", create_commit,
          Access("datasets:write", project=PATH))

and :func:`identity_middleware` answers every request but the probes only when it carries a
valid assertion (``Authorization: Bearer``) signed by a trusted issuer for this service, this
method and target, and this action — and, where the route names a project in its path or query,
for that project. A route whose project only its handler can know (a body field, a looked-up
document) declares ``project=CHECKED`` and calls :func:`require_project` once it knows; a
handler that forgets to is answered 500 instead of succeeding. A route without a declaration
refuses everyone, and the runtime refuses to start a service that has one (:func:`undeclared`).

``/metrics`` takes the installation's metrics token instead (``Authorization: Bearer``), so a
scraper needs no signing key. ``X-LakeCache-User`` and other headers prove nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from lakecache.core.errors import PermissionDenied
from lakecache.core.identity.actions import ACTION_NAMES, INSTALLATION_ACTIONS, PROJECT_ACTIONS
from lakecache.core.identity.assertions import Assertion, verify_assertion
from lakecache.core.identity.keys import KeyRing
from lakecache.core.identity.tokens import InvalidCredential, unknown_key
from lakecache.core.runtime.problems import problem

log = logging.getLogger(__name__)

PROBES = frozenset({"/healthz", "/readyz"})
METRICS = "/metrics"
#: Where a route names its project: a path variable, a query parameter, or only the handler knows.
PATH, QUERY, CHECKED = "path", "query", "checked"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_ATTRIBUTE = "__lakecache_access__"

ASSERTION_KEY = web.RequestKey("lakecache_assertion", Assertion)
_CHECKED_KEY = web.RequestKey("lakecache_project_checked", bool)


@dataclass(frozen=True)
class Access:
    """What one route performs: ``action``, and where its project is (``project``: ``PATH`` or
    ``QUERY`` with ``name`` the variable, ``CHECKED`` by the handler, or None for an
    installation-wide action)."""

    action: str
    project: str | None = None
    name: str = "project"

    def __post_init__(self) -> None:
        if self.action not in ACTION_NAMES:
            raise ValueError(f"unknown action {self.action!r}; see lakecache.core.identity.actions")
        if self.project not in (PATH, QUERY, CHECKED, None):
            raise ValueError(f"project must be PATH, QUERY, CHECKED or None, got {self.project!r}")
        if (self.project is None) != (self.action in INSTALLATION_ACTIONS):
            scope = "installation-wide" if self.action in INSTALLATION_ACTIONS else "per project"
            raise ValueError(f"{self.action} is {scope}: project must be "
                             f"{'None' if self.action in INSTALLATION_ACTIONS else 'PATH, QUERY or CHECKED'}")
        assert self.action in PROJECT_ACTIONS or self.project is None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route(method: str, path: str, handler: Handler, access: Access) -> web.RouteDef:
    """An aiohttp route whose handler carries its :class:`Access` (read by the middleware)."""

    async def declared(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    declared.__name__ = declared.__qualname__ = handler.__name__
    setattr(declared, _ATTRIBUTE, access)
    options = {"allow_head": False} if method == "GET" else {}
    return web.route(method, path, declared, **options)


def access_of(handler: object) -> Access | None:
    found = getattr(handler, _ATTRIBUTE, None)
    return found if isinstance(found, Access) else None


def undeclared(app: web.Application) -> list[str]:
    """Routes of ``app`` that are neither probes nor declared: each would refuse everyone."""
    found = []
    for entry in app.router.routes():
        path = entry.resource.canonical if entry.resource is not None else "?"
        if path in PROBES or path == METRICS or access_of(entry.handler) is not None:
            continue
        found.append(f"{entry.method} {path}")
    return found


def assertion_of(request: web.Request) -> Assertion:
    """The verified assertion of ``request`` (every declared route has one)."""
    try:
        return request[ASSERTION_KEY]
    except KeyError:
        raise RuntimeError(f"{request.method} {request.path} carries no verified assertion: is the identity "
                           "middleware installed?") from None


def caller(request: web.Request) -> str:
    """Who the request acts for, as the verified assertion says (``user:alice``, ``run:…``)."""
    return assertion_of(request).subject


def require_project(request: web.Request, project: str) -> None:
    """Refuse (``PermissionDenied``) unless the assertion was signed for ``project``: for routes
    that declared ``CHECKED`` and learned the project from the body or a stored document."""
    granted = assertion_of(request).project
    request[_CHECKED_KEY] = True
    if granted != project:
        raise PermissionDenied(f"the request was authorized in project {granted!r}, but what it touches belongs "
                               f"to project {project!r}")


@dataclass(frozen=True)
class IdentityPolicy:
    """How one service checks its callers."""

    service: str
    keys: KeyRing
    issuers: frozenset[str]
    metrics_token: str | None
    leeway_seconds: float = 5.0


class _Replays:
    """Assertion ids seen on non-safe methods, kept until they expire (one process's memory)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def first_use(self, assertion: Assertion) -> bool:
        now = int(time.time())
        if len(self._seen) > 10_000:
            self._seen = {jti: exp for jti, exp in self._seen.items() if exp >= now}
        if assertion.id in self._seen:
            return False
        self._seen[assertion.id] = assertion.expires_at
        return True


def _bearer(request: web.Request) -> str | None:
    scheme, _, credential = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return credential.strip() or None if scheme.lower() == "bearer" else None


def _denied(request: web.Request, status: int, detail: str) -> web.Response:
    kind, title = ("unauthenticated", "Authentication required") if status == 401 else ("forbidden", "Forbidden")
    response = problem(status, kind, title, detail, request.path)
    if status == 401:
        response.headers[hdrs.WWW_AUTHENTICATE] = 'Bearer realm="lakecache-internal"'
    return response


def identity_middleware(policy: IdentityPolicy) -> Middleware:
    """The middleware that authenticates and authorizes every request of an internal service."""
    replays = _Replays()

    async def verified(request: web.Request, token: str) -> Assertion:
        if unknown_key(token, policy.keys) and policy.keys.should_refresh():
            await asyncio.to_thread(policy.keys.refresh)  # a rotated or newly started issuer
        return verify_assertion(token, policy.keys, audience=policy.service, issuers=policy.issuers,
                                method=request.method, target=request.rel_url.raw_path_qs,
                                leeway_seconds=policy.leeway_seconds)

    def scope_problem(request: web.Request, access: Access, assertion: Assertion) -> str | None:
        if assertion.action != access.action:
            return (f"the request was authorized for {assertion.action!r}, but {request.method} "
                    f"{request.match_info.route.resource.canonical} performs {access.action!r}")
        if access.project in (PATH, QUERY):
            source: Any = request.match_info if access.project == PATH else request.query
            named = source.get(access.name)
            if not named or named != assertion.project:
                return (f"the request was authorized in project {assertion.project!r}, but it names project "
                        f"{named!r}")
        elif access.project is None and assertion.project is not None:
            return f"{access.action!r} is installation-wide, but the request was authorized in a project"
        return None

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        path = request.match_info.route.resource.canonical if request.match_info.route.resource else None
        if path in PROBES and request.match_info.http_exception is None:
            return await handler(request)
        token = _bearer(request)
        if path == METRICS and request.match_info.http_exception is None:
            if policy.metrics_token is None:
                return _denied(request, 403, "this service's metrics are disabled: no metrics token is configured "
                                             "(identity.keys_dir/metrics-token)")
            if token is None or not hmac.compare_digest(token.encode(), policy.metrics_token.encode()):
                return _denied(request, 401, "send the installation's metrics token as a bearer token")
            return await handler(request)
        if token is None:
            return _denied(request, 401, f"the {policy.service} answers only requests signed by a trusted service "
                                         "(Authorization: Bearer <assertion>); call the gateway instead")
        try:
            assertion = await verified(request, token)
        except InvalidCredential as exc:
            log.info("%s %s refused: %s", request.method, request.path, exc)
            return _denied(request, 401, str(exc))
        if request.match_info.http_exception is not None:
            return await handler(request)  # aiohttp's 404/405, to a verified caller
        access = access_of(request.match_info.handler)
        if access is None:
            return _denied(request, 403, f"{request.method} {path} declares no action, so nobody may call it")
        wrong = scope_problem(request, access, assertion)
        if wrong is not None:
            log.warning("%s %s refused for %s: %s", request.method, request.path, assertion.subject, wrong)
            return _denied(request, 403, wrong)
        if request.method not in _SAFE and not replays.first_use(assertion):
            return _denied(request, 401, "this assertion was already used; sign a new one for each request")
        request[ASSERTION_KEY] = assertion
        try:
            response = await handler(request)
        except PermissionDenied as exc:
            log.warning("%s %s refused for %s: %s", request.method, request.path, assertion.subject, exc)
            return _denied(request, 403, str(exc))
        if access.project == CHECKED and not request.get(_CHECKED_KEY) and response.status < 400:
            # Fail closed: the route promised to check its project and did not.
            log.error("%s %s answered without checking its project; refused", request.method, path)
            return problem(500, "internal", "Internal error", f"{request.method} {path} did not check which "
                                                              "project it touches; the log has the details",
                           request.path)
        return response

    return middleware
