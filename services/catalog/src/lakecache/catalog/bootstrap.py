"""Wires the catalog service's dependencies once, for `lakecache up` and standalone runs."""

from lakecache.catalog.settings import CatalogSettings
from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts


async def bootstrap(resources: Resources) -> ServiceParts:
    # The catalog's domain handlers and API arrive with its own feature work; until then the
    # service runs with the shared probes, its adapters opened and checked by /readyz.
    return ServiceParts()


SERVICE = ServiceDefinition(
    name="catalog",
    settings_type=CatalogSettings,
    bootstrap=bootstrap,
    needs_store=True,
    needs_lake=True,
    description="Datasets and immutable, content-addressed commits in the lake; emits commit events.",
)
