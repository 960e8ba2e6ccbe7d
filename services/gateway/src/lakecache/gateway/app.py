"""The gateway's HTTP parts: its routes, the auth and problem middlewares, the API reference,
the clients of the services behind it and the copy-status read model.

Middleware order matters: the input guard runs first (control characters or over-long values in
the path or query are refused before anything reads them, or writes them to the audit log);
authentication runs outside the problem middleware, so a handler's error is already a problem
response when the auth middleware writes the request's audit record with its final status, and
401/403 are answered before any handler or body read.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from lakecache.core.contracts.topics import CACHE_EVENTS, CACHE_PROGRESS
from lakecache.core.dispatch import dispatcher
from lakecache.core.publishing import EventPublisher
from lakecache.core.runtime import ServiceParts, SubscriptionSpec
from lakecache.core.telemetry import Telemetry
from lakecache.gateway.api import api_registry
from lakecache.gateway.api.common import AUTH_KEY, PUBLISHER_KEY
from lakecache.gateway.api.mlflow import mlflow_error_middleware
from lakecache.gateway.api.reference import REFERENCE_KEY, Reference
from lakecache.gateway.api.runs import APPLY_WAIT_KEY, RUN_IDS_KEY
from lakecache.gateway.api.site_list import SITE_VOLUMES_KEY
from lakecache.gateway.auth import AuthStore, RoutePolicy, auth_middleware
from lakecache.gateway.copies import COPY_STATUS_KEY, CopyStatusView
from lakecache.gateway.copies.handlers import HANDLERS
from lakecache.gateway.copies.stream import SSE_SETTINGS_KEY
from lakecache.gateway.http.limits import input_guard_middleware
from lakecache.gateway.http.openapi import openapi_document
from lakecache.gateway.http.problems import gateway_problem_middleware
from lakecache.gateway.http.registry import Registry
from lakecache.gateway.repositories import RunIdRepository, SiteVolumeRepository
from lakecache.gateway.upstream import UPSTREAMS_KEY, Upstreams
from lakecache.gateway.web import refusal_page, templates_setup, web_public_paths, web_routes

TITLE = "LakeCache gateway API"
DESCRIPTION = (
    "The authenticated entry point of LakeCache for the CLI, the dashboard and the SDK. Send a token as "
    "`Authorization: Bearer <token>`; errors are RFC 9457 problem documents (`application/problem+json`); "
    "listings are pages with a `next_cursor`. The probes `/healthz` and `/readyz` answer without a token."
)
#: The read model's consumer group: one per installation (instances share the store).
READ_MODEL_GROUP = "gateway-copy-status"


def _version() -> str:
    try:
        return version("lakecache-gateway")
    except PackageNotFoundError:
        return "0.0.0"


@dataclass
class GatewayDependencies:
    """What the gateway's handlers use besides the request, opened once by the bootstrap."""

    auth: AuthStore
    copies: CopyStatusView
    volumes: SiteVolumeRepository
    upstreams: Upstreams
    publisher: EventPublisher
    telemetry: Telemetry
    #: The project of every experiment and run id handed out.
    run_ids: RunIdRepository
    #: Live-progress streams: (seconds between status re-reads, seconds between keep-alives).
    sse: tuple[float, float] = (1.0, 15.0)
    run_apply_wait_seconds: float = 10.0


def route_policy(auth: AuthStore, registry: Registry) -> RoutePolicy:
    policy = registry.policy(RoutePolicy.for_gateway(auth.settings))
    return RoutePolicy(policy.public | web_public_paths(), policy.by_path)


def gateway_parts(deps: GatewayDependencies, registry: Registry | None = None) -> ServiceParts:
    """The routes, bus consumer and app set-up of the gateway on ``deps`` (whose indexes exist)."""
    registry = registry or api_registry()
    policy = route_policy(deps.auth, registry)
    reference = Reference.of(openapi_document(registry, title=TITLE, version=_version(), description=DESCRIPTION))

    def setup(app: web.Application) -> None:
        problems = policy.problems(app)
        if problems:  # deny by default would hide these; refuse to start instead
            raise RuntimeError("the gateway's routes are misdeclared: " + "; ".join(problems))
        app[AUTH_KEY] = deps.auth
        app[REFERENCE_KEY] = reference
        app[COPY_STATUS_KEY] = deps.copies
        app[SITE_VOLUMES_KEY] = deps.volumes
        app[UPSTREAMS_KEY] = deps.upstreams
        app[PUBLISHER_KEY] = deps.publisher
        app[SSE_SETTINGS_KEY] = deps.sse
        app[RUN_IDS_KEY] = deps.run_ids
        app[APPLY_WAIT_KEY] = deps.run_apply_wait_seconds
        templates_setup(app)
        app.cleanup_ctx.append(deps.upstreams.client_context(deps.telemetry))
        app.middlewares.append(mlflow_error_middleware())  # outermost: MLflow's paths answer MLflow's errors
        app.middlewares.append(input_guard_middleware())
        app.middlewares.append(auth_middleware(deps.auth, policy, refusal_page=refusal_page))
        app.middlewares.append(gateway_problem_middleware())

    read_model = dispatcher(HANDLERS, view=deps.copies, volumes=deps.volumes)
    return ServiceParts(
        routes=[*registry.routes(), *web_routes()],
        subscriptions=[SubscriptionSpec([CACHE_EVENTS.name, CACHE_PROGRESS.name], READ_MODEL_GROUP, read_model)],
        app_setup=setup,
    )
