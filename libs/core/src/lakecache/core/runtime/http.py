"""The HTTP surface every service shares: ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiohttp import web
from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor, create_aiohttp_middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lakecache.core.telemetry import Telemetry

ReadinessCheck = Callable[[], Awaitable[None]]

TELEMETRY_KEY = web.AppKey("telemetry", Telemetry)
READY_CHECKS_KEY = web.AppKey("ready_checks", dict)
SERVICE_KEY = web.AppKey("service", str)

#: The shared routes every service serves besides its own: the probes answer everyone; in the
#: internal services ``/metrics`` takes the installation's metrics token
#: (``lakecache.core.runtime.access``), and the gateway keeps it behind the ``metrics:read``
#: permission unless its ``public_metrics`` setting says otherwise.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

_CHECK_TIMEOUT = 5.0
_instrumentation_ready = False


def _prepare_server_instrumentation() -> None:
    """Initialise the contrib aiohttp-server instrumentation without its global patch.

    Its middleware needs the module state that ``instrument()`` sets up (excluded URLs,
    meters), but ``instrument()`` also swaps ``web.Application`` for a subclass bound to one
    tracer provider for the whole process — wrong when ``lakecache up`` runs five services,
    each with its own ``service.name``. So: instrument once, undo the class swap, and give
    each app a middleware built for its own provider.
    """
    global _instrumentation_ready
    if not _instrumentation_ready:
        instrumentor = AioHttpServerInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
            instrumentor.uninstrument()
        _instrumentation_ready = True


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"status": "ok", "service": request.app[SERVICE_KEY]})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: every dependency (bus, store, lake) answers within a few seconds."""
    results: dict[str, str] = {}
    for name, check in request.app[READY_CHECKS_KEY].items():
        try:
            await asyncio.wait_for(check(), _CHECK_TIMEOUT)
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - report every failure, never raise from a probe
            results[name] = f"failed: {exc}" if str(exc) else f"failed: {type(exc).__name__}"
    ready = all(v == "ok" for v in results.values())
    body = {"status": "ready" if ready else "not ready", "service": request.app[SERVICE_KEY], "checks": results}
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of this service's registry."""
    payload = generate_latest(request.app[TELEMETRY_KEY].registry)
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(
    service: str,
    telemetry: Telemetry,
    ready_checks: Mapping[str, ReadinessCheck],
    routes: Sequence[web.RouteDef] = (),
    middlewares: Sequence = (),
    client_max_size: int = 1024**2,
) -> web.Application:
    """An aiohttp application with tracing, the shared probes and the service's routes."""
    _prepare_server_instrumentation()
    app = web.Application(
        middlewares=[create_aiohttp_middleware(tracer_provider=telemetry.tracer_provider), *middlewares],
        client_max_size=client_max_size,
    )
    app[SERVICE_KEY] = service
    app[TELEMETRY_KEY] = telemetry
    app[READY_CHECKS_KEY] = dict(ready_checks)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.add_routes(routes)
    return app
