"""The gateway's HTTP parts: its routes, the auth and problem middlewares, the API reference.

Middleware order matters: authentication runs outside the problem middleware, so a handler's
error is already a problem response when the auth middleware writes the request's audit
record with its final status, and 401/403 are answered before any handler or body read.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from lakecache.core.runtime import ServiceParts
from lakecache.gateway.api import api_registry
from lakecache.gateway.api.common import AUTH_KEY
from lakecache.gateway.api.reference import REFERENCE_KEY, Reference
from lakecache.gateway.auth import AuthStore, RoutePolicy, auth_middleware
from lakecache.gateway.http.openapi import openapi_document
from lakecache.gateway.http.problems import gateway_problem_middleware
from lakecache.gateway.http.registry import Registry

TITLE = "LakeCache gateway API"
DESCRIPTION = (
    "The authenticated entry point of LakeCache for the CLI, the dashboard and the SDK. Send a token as "
    "`Authorization: Bearer <token>`; errors are RFC 9457 problem documents (`application/problem+json`); "
    "listings are pages with a `next_cursor`. The probes `/healthz` and `/readyz` answer without a token."
)


def _version() -> str:
    try:
        return version("lakecache-gateway")
    except PackageNotFoundError:
        return "0.0.0"


def route_policy(auth: AuthStore, registry: Registry) -> RoutePolicy:
    return registry.policy(RoutePolicy.for_gateway(auth.settings))


def gateway_parts(auth: AuthStore, registry: Registry | None = None) -> ServiceParts:
    """The routes and app set-up of the gateway on ``auth`` (whose indexes exist)."""
    registry = registry or api_registry()
    policy = route_policy(auth, registry)
    reference = Reference.of(openapi_document(registry, title=TITLE, version=_version(), description=DESCRIPTION))

    def setup(app: web.Application) -> None:
        problems = policy.problems(app)
        if problems:  # deny by default would hide these; refuse to start instead
            raise RuntimeError("the gateway's routes are misdeclared: " + "; ".join(problems))
        app[AUTH_KEY] = auth
        app[REFERENCE_KEY] = reference
        app.middlewares.append(auth_middleware(auth, policy))
        app.middlewares.append(gateway_problem_middleware())

    return ServiceParts(routes=registry.routes(), app_setup=setup)
