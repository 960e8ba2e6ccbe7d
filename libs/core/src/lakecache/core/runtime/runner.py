"""Start and stop services: the same code path for ``lakecache up`` and ``lakecache run``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiohttp import web
from opentelemetry.sdk.trace import SpanProcessor

from lakecache.core.adapters.registry import (
    document_store_from_url,
    event_bus_from_url,
    instrument_document_store,
    object_store_from_url,
)
from lakecache.core.identity import KeyRing
from lakecache.core.identity.keys import metrics_token, private_directory
from lakecache.core.ports.bus import EventBus
from lakecache.core.publishing import EventPublisher
from lakecache.core.runtime.access import IdentityPolicy, identity_middleware, undeclared
from lakecache.core.runtime.definition import Resources, ServiceDefinition, ServiceParts
from lakecache.core.runtime.http import READY_CHECKS_KEY, create_app
from lakecache.core.settings import LakeCacheSettings, redact_url
from lakecache.core.telemetry import configure_telemetry
from lakecache.core.telemetry.bus import TracedEventBus

log = logging.getLogger(__name__)

#: The longest request line (method, path and query) a service reads. aiohttp's default of 8,190
#: bytes answers longer ones itself, in plain text; a query value of 4,096 characters (the
#: gateway's own bound, which it answers as a problem document) can take 9 bytes per character
#: percent-encoded.
MAX_REQUEST_LINE = 64 * 1024


@dataclass
class RunningService:
    definition: ServiceDefinition
    resources: Resources
    parts: ServiceParts
    app: web.Application
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextlib.asynccontextmanager
async def start_service(
    definition: ServiceDefinition,
    settings: LakeCacheSettings,
    *,
    span_processors: tuple[SpanProcessor, ...] = (),
) -> AsyncIterator[RunningService]:
    """Open the service's adapters, run its bootstrap, serve HTTP and consume; undo it all on exit.

    Shutdown order: stop accepting HTTP, stop consuming (each member finishes its message
    and commits), cancel background tasks, run the service's shutdown hooks, close adapters.
    """
    name = definition.name
    telemetry = configure_telemetry(
        name,
        otlp_endpoint=settings.otlp_endpoint,
        environment=settings.environment,
        site=getattr(settings.section, "site", None),
        extra_processors=span_processors,
    )
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(telemetry.shutdown)
        # The embedded lake, stores, keys and tokens live under home: only this OS user may enter it.
        await asyncio.to_thread(private_directory, settings.home.resolve())
        adapter = event_bus_from_url(settings.bus_url)
        bus: EventBus = TracedEventBus(adapter, telemetry.tracer_provider, telemetry.registry)
        await stack.enter_async_context(bus)
        keys_dir, generate = settings.resolved_keys_dir(), settings.identity.generate_keys
        keys = await asyncio.to_thread(KeyRing.open, keys_dir, name, generate=generate)
        resources = Resources(settings, telemetry, bus, EventPublisher(bus, name), keys)
        checks = {"bus": bus.ping}
        if definition.needs_store:
            instrument_document_store(settings.resolved_store_url(), telemetry)
            resources.store = await stack.enter_async_context(document_store_from_url(settings.resolved_store_url()))
            checks["store"] = resources.store.ping
        if definition.needs_lake:
            lake = object_store_from_url(settings.resolved_lake_url(), **settings.lake_options())
            resources.lake = await stack.enter_async_context(lake)
        parts = await definition.bootstrap(resources)

        middlewares = []
        if definition.internal:
            policy = IdentityPolicy(name, keys, frozenset(settings.identity.trusted_issuers),
                                    await asyncio.to_thread(metrics_token, keys_dir, generate=generate),
                                    settings.identity.clock_leeway_seconds)
            middlewares.append(identity_middleware(policy))
        app = create_app(name, telemetry, {**checks, **parts.ready_checks}, parts.routes, middlewares)
        if definition.internal and (missing := undeclared(app)):
            # Deny by default would hide these; refuse to start instead.
            raise RuntimeError(f"the {name}'s routes declare no action: {'; '.join(missing)}")
        if parts.app_setup is not None:
            parts.app_setup(app)
        runner = web.AppRunner(app, access_log=None, max_line_size=MAX_REQUEST_LINE)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.section.host, settings.section.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the only way to learn port 0's choice

        for hook in parts.on_shutdown:
            stack.push_async_callback(hook)
        tasks = [asyncio.create_task(job(), name=f"{name}:{job.__name__}") for job in parts.background]
        stack.push_async_callback(_cancel, tasks)
        subscriptions = [
            await bus.subscribe(spec.topics, group=spec.group, handler=spec.handler, retry=spec.retry)
            for spec in parts.subscriptions
        ]
        for subscription in subscriptions:
            stack.push_async_callback(subscription.stop)

        async def consuming() -> None:
            stopped = [f"{s.group} on {', '.join(s.topics)}" for s in subscriptions if not s.alive]
            if stopped:
                raise RuntimeError(f"consumers stopped: {'; '.join(stopped)}; see the service log")

        app[READY_CHECKS_KEY]["consumers"] = consuming
        log.info(
            "%s listening on http://%s:%d (bus %s)", name, settings.section.host, port, redact_url(settings.bus_url)
        )
        # Pushed last, so it runs first on exit: no new requests while the rest winds down.
        stack.push_async_callback(site.stop)
        yield RunningService(definition, resources, parts, app, settings.section.host, port)
        log.info("%s stopping", name)


async def _cancel(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_until_stopped(
    services: Sequence[tuple[ServiceDefinition, LakeCacheSettings]],
    *,
    stop: asyncio.Event | None = None,
    on_started=None,
) -> None:
    """Run ``services`` in this process until SIGINT/SIGTERM (or ``stop`` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            running: list[RunningService] = []
            for definition, settings in services:
                if definition.with_peers is not None:
                    settings = definition.with_peers(settings, {r.definition.name: r.base_url for r in running})
                running.append(await stack.enter_async_context(start_service(definition, settings)))
            if on_started is not None:
                on_started(running)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
