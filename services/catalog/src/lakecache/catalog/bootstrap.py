"""Wires the catalog service's dependencies once, for `lakecache up` and standalone runs."""

from aiohttp import web

from lakecache.catalog.api import CATALOG_KEY, ROUTES
from lakecache.catalog.handlers import HANDLERS
from lakecache.catalog.problems import problem_middleware
from lakecache.catalog.settings import CatalogSettings
from lakecache.catalog.storage import Catalog
from lakecache.core.contracts.topics import CACHE_EVENTS, USAGE
from lakecache.core.dispatch import dispatcher
from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts, SubscriptionSpec


async def bootstrap(resources: Resources) -> ServiceParts:
    workdir = resources.settings.home.resolve() / "tmp" / "catalog"
    workdir.mkdir(parents=True, exist_ok=True)
    catalog = Catalog.open(resources.store, resources.lake, resources.publisher, workdir)
    await catalog.create_indexes()

    def setup(app: web.Application) -> None:
        app[CATALOG_KEY] = catalog
        app.middlewares.append(problem_middleware)

    return ServiceParts(
        routes=ROUTES,
        subscriptions=[
            SubscriptionSpec([CACHE_EVENTS.name, USAGE.name], "catalog", dispatcher(HANDLERS, catalog=catalog))
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
