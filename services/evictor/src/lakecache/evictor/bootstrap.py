"""Wires the evictor: the Faust app on Kafka, or the embedded runtime on the in-memory bus."""

from __future__ import annotations

from aiohttp import web

from lakecache.core.adapters.registry import bus_runs_stream_processors
from lakecache.core.contracts.topics import CACHE_EVENTS, EVICTION, USAGE
from lakecache.core.dispatch import dispatcher
from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts, SubscriptionSpec
from lakecache.core.runtime.problems import problem_middleware
from lakecache.evictor import embedded
from lakecache.evictor.api import POLICIES_KEY, PUBLISHER_KEY, ROUTES
from lakecache.evictor.repositories import DocumentSiteStore
from lakecache.evictor.settings import EvictorSettings
from lakecache.evictor.sites import EvictorMetrics, SitePolicies
from lakecache.evictor.translate import CONSUMED


async def bootstrap(resources: Resources) -> ServiceParts:
    settings = resources.settings
    assert isinstance(settings, EvictorSettings)
    section = settings.evictor
    metrics = EvictorMetrics(resources.telemetry.registry)
    if bus_runs_stream_processors(settings.bus_url):
        from lakecache.evictor.streams import EvictorApp  # Faust only where Kafka is used

        runtime = EvictorApp(settings, metrics)
        policies = runtime.policies
        parts = ServiceParts(background=[runtime.run], ready_checks={"faust": runtime.check_ready})
    else:
        store = DocumentSiteStore(resources.store)
        policies = SitePolicies(store, section.policy(), metrics)
        handler = dispatcher(dict.fromkeys(CONSUMED, embedded.handle), policies=policies,
                             publisher=resources.publisher)

        async def clock() -> None:
            await embedded.tick_forever(policies, store, resources.publisher, section.tick_seconds)

        parts = ServiceParts(
            subscriptions=[SubscriptionSpec([USAGE.name, CACHE_EVENTS.name, EVICTION.name], "evictor", handler)],
            background=[clock],
        )

    def setup(app: web.Application) -> None:
        app[POLICIES_KEY] = policies
        app[PUBLISHER_KEY] = resources.publisher
        app.middlewares.append(problem_middleware("evictor"))

    parts.routes, parts.app_setup = ROUTES, setup
    return parts


SERVICE = ServiceDefinition(
    name="evictor",
    settings_type=EvictorSettings,
    bootstrap=bootstrap,
    needs_store=True,
    needs_lake=False,
    description="TTL, capacity and lease-aware eviction decisions (a Faust stream processor on Kafka).",
)
