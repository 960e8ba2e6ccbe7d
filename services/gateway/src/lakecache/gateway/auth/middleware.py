"""The aiohttp middleware that authenticates every request and enforces each route's permission.

Install it outside the service's problem middleware, so it sees the final status of every
response (for the audit record of mutating requests)::

    app.middlewares.append(auth_middleware(auth))
    app.middlewares.append(problem_middleware)

Per request: public route → handler. Otherwise the bearer token — or, without an
``Authorization`` header, the dashboard's session cookie (``sessions.py``) — must be valid (401
with ``WWW-Authenticate: Bearer`` if not; a browser asking for a page is sent to ``/login``
instead), a change made with the cookie must carry the session's CSRF token (403 if not), the
route must declare a permission (403 if not), and
:func:`~lakecache.gateway.auth.policy.authorize` must allow it (403 if not). Every 401 and 403
writes one denial record; every mutating request (a non-safe method) that reaches its handler
writes one record unless the handler's domain calls recorded it themselves. Unknown routes and
methods answer 401 without a token (no route discovery) and aiohttp's 404/405 with one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from lakecache.core.errors import LakeCacheError, Unavailable
from lakecache.core.runtime.problems import problem
from lakecache.gateway.auth.audit import Actor, Outcome
from lakecache.gateway.auth.authenticate import Unauthenticated, authenticate, authenticate_session
from lakecache.gateway.auth.context import (
    ACTOR_KEY,
    DENY_KEY,
    GRANTED_KEY,
    PRINCIPAL_KEY,
    REQUEST_ID_KEY,
    SESSION_KEY,
    Forbidden,
)
from lakecache.gateway.auth.permissions import Permission
from lakecache.gateway.auth.policy import Decision, Resource, authorize
from lakecache.gateway.auth.routes import PUBLIC, RoutePolicy
from lakecache.gateway.auth.sessions import COOKIE, forgery, sign_in_first, wants_page
from lakecache.gateway.auth.store import AuthStore
from lakecache.gateway.http.problems import PayloadTooLarge, RequestInvalid

REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_id(request: web.Request) -> str:
    # A caller's id (the SDK's, a proxy's) ties its logs to ours; anything odd is replaced
    # rather than written into the audit log.
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def auth_middleware(auth: AuthStore, policy: RoutePolicy | None = None, *,
                    refusal_page: Callable[[web.Request, str], web.Response] | None = None) -> Middleware:
    """The middleware for ``auth``; ``policy`` defaults to :meth:`RoutePolicy.for_gateway`;
    ``refusal_page`` answers a 403 to a browser asking for a page (the dashboard's), instead of
    the problem document API clients get."""
    policy = policy or RoutePolicy.for_gateway(auth.settings)

    async def deny(actor: Actor, action: str, resource: Resource, reason: str, status: int) -> None:
        target = f"run:{resource.run}" if resource.run else None
        await auth.audit.record(actor, action, "denied", project=resource.project, target=target, reason=reason,
                                status=status)

    def forbidden(request: web.Request, reason: str) -> web.Response:
        if refusal_page is not None and wants_page(request):
            return refusal_page(request, reason)
        return problem(403, "forbidden", "Forbidden", reason, request.path, request_id=request[REQUEST_ID_KEY])

    def unauthenticated(request: web.Request, exc: Unauthenticated) -> web.Response:
        response = problem(401, "unauthenticated", "Authentication required", str(exc), request.path,
                           request_id=request[REQUEST_ID_KEY])
        challenge = 'Bearer realm="lakecache"'
        response.headers[hdrs.WWW_AUTHENTICATE] = challenge + (f', error="{exc.error}"' if exc.error else "")
        return response

    def unavailable(request: web.Request, what: str, exc: Unavailable) -> web.Response:
        return problem(503, "unavailable", "A backing service is unavailable", f"cannot {what}: {exc}",
                       request.path, request_id=request[REQUEST_ID_KEY])

    async def run(request: web.Request, handler, actor: Actor, action: str, resource: Resource) -> web.StreamResponse:
        mutating = request.method not in _SAFE_METHODS

        async def record(outcome: Outcome, status: int, reason: str | None = None) -> None:
            if mutating and actor.recorded == 0:
                await auth.audit.record(actor, action, outcome, project=resource.project, reason=reason, status=status)

        async def refuse(exc: Forbidden) -> web.Response:
            await deny(actor, exc.action, exc.resource, str(exc), 403)
            return forbidden(request, str(exc))

        request[DENY_KEY] = refuse
        try:
            response = await handler(request)
        except Forbidden as exc:  # raised by a handler not wrapped by ``requires``
            return await refuse(exc)
        except web.HTTPException as exc:
            await record("succeeded" if exc.status < 400 else "failed", exc.status, exc.reason)
            raise
        except Exception as exc:
            await record("failed", 500, type(exc).__name__)
            raise
        await record("succeeded" if response.status < 400 else "failed", response.status)
        return response

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        request[REQUEST_ID_KEY] = request_id = _request_id(request)
        match = request.match_info
        requirement = policy.requirement(match.route)
        if requirement is PUBLIC:
            return _tagged(await handler(request), request_id)
        route = f"{request.method} {match.route.resource.canonical if match.route.resource else request.path}"
        action = (requirement.action if isinstance(requirement, Permission)
                  else "route:unknown" if match.http_exception is not None else "route:undeclared")
        header, session = request.headers.get(hdrs.AUTHORIZATION), request.cookies.get(COOKIE)
        by_cookie = header is None and bool(session)
        try:
            principal = await (authenticate_session(auth, session) if by_cookie
                               else authenticate(auth, header))
        except Unauthenticated as exc:
            owner = exc.owner
            actor = (Actor(owner.subject, owner.kind, owner.user_id, owner.token_id, request_id, route) if owner
                     else Actor("anonymous", "anonymous", request_id=request_id, route=route))
            # Only what the request itself says: no body reads or lookups for a caller without a token.
            resource = await requirement.resource(request, lookups=False) if isinstance(
                requirement, Permission) else Resource()
            await deny(actor, action, resource, str(exc), 401)
            if wants_page(request):
                return sign_in_first(request, signed_out=by_cookie)
            return unauthenticated(request, exc)
        except Unavailable as exc:
            return unavailable(request, "check the token", exc)
        actor = Actor.of(principal, request_id=request_id, route=route)
        request[PRINCIPAL_KEY], request[ACTOR_KEY] = principal, actor
        if by_cookie:
            request[SESSION_KEY] = session
            if request.method not in _SAFE_METHODS:
                forged = await forgery(request, session)
                if forged is not None:
                    await deny(actor, action, Resource(), forged, 403)
                    return forbidden(request, forged)
        if match.http_exception is not None:
            return await handler(request)  # aiohttp's 404/405, to a caller who may know
        if not isinstance(requirement, Permission):
            reason = f"{route} declares no permission, so nobody may call it"
            await deny(actor, action, Resource(), reason, 403)
            return forbidden(request, reason)
        try:
            resource = await requirement.resource(request)
            decision = authorize(principal, requirement.action, resource)
        except (RequestInvalid, PayloadTooLarge) as exc:
            # A body too large or too deep to find its project in: the input guard answers it,
            # and the refused mutation is recorded like one its handler refused.
            status = 413 if isinstance(exc, PayloadTooLarge) else 400
            if request.method not in _SAFE_METHODS:
                await auth.audit.record(actor, requirement.action, "failed", reason=str(exc), status=status)
            raise
        except Unavailable as exc:
            return unavailable(request, f"tell which project {route} touches", exc)
        except LakeCacheError as exc:  # a lookup of the project failed: deny, saying why
            resource, decision = Resource(), Decision.deny(f"cannot tell which project {route} touches: {exc}")
        if not decision.allowed:
            await deny(actor, requirement.action, resource, decision.reason, 403)
            return forbidden(request, decision.reason)
        request[GRANTED_KEY] = (requirement.action, resource.project)
        return _tagged(await run(request, handler, actor, requirement.action, resource), request_id)

    return middleware


def _tagged(response: web.StreamResponse, request_id: str) -> web.StreamResponse:
    if not response.prepared:  # a streamed response (SSE) has sent its headers already
        response.headers.setdefault(REQUEST_ID_HEADER, request_id)
    return response
