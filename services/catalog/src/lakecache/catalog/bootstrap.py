"""Wires the catalog service's dependencies once, for `lakecache up` and standalone runs."""

from aiohttp import web

from lakecache.catalog.api import CATALOG_KEY, ROUTES
from lakecache.catalog.handlers import HANDLERS
from lakecache.catalog.problems import problem_middleware
from lakecache.catalog.settings import CatalogSettings
from lakecache.catalog.storage import Catalog
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.contracts.topics import CACHE_EVENTS, USAGE
from lakecache.core.dispatch import dispatcher
from lakecache.core.ports.objectstore import ObjectStore
from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts, SubscriptionSpec


async def bootstrap(resources: Resources) -> ServiceParts:
    workdir = resources.settings.home.resolve() / "tmp" / "catalog"
    workdir.mkdir(parents=True, exist_ok=True)
    settings = resources.settings
    assert isinstance(settings, CatalogSettings)
    def open_store(url: str) -> ObjectStore:
        return object_store_from_url(url, **settings.lake_options_for(url))

    catalog = Catalog.open(resources.store, resources.lake, resources.publisher, workdir,
                           signing_key=resources.keys.signing_key,
                           grant_ttl_seconds=settings.catalog.grant_ttl_seconds, open_store=open_store,
                           upload_url_seconds=settings.catalog.upload_url_seconds,
                           upload_max_bytes=settings.catalog.upload_max_bytes)
    await catalog.create_indexes()

    def setup(app: web.Application) -> None:
        app[CATALOG_KEY] = catalog
        app.middlewares.append(problem_middleware)

    return ServiceParts(
        routes=ROUTES,
        subscriptions=[
            SubscriptionSpec([CACHE_EVENTS.name, USAGE.name], "catalog",
                             dispatcher(HANDLERS, copies=catalog.copies, leases=catalog.leases))
        ],
        app_setup=setup,
        background=[catalog.outbox.run],
    )


SERVICE = ServiceDefinition(
    name="catalog",
    settings_type=CatalogSettings,
    bootstrap=bootstrap,
    needs_store=True,
    needs_lake=True,
    description="Datasets and immutable, content-addressed commits in the lake; emits commit events.",
)
