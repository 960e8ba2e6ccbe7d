"""Wires the cacher service's dependencies once, for `lakecache up` and standalone runs."""

from lakecache.cacher.settings import CacherSettings
from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts


async def bootstrap(resources: Resources) -> ServiceParts:
    # The cacher's domain handlers and API arrive with its own feature work; until then the
    # service runs with the shared probes, its adapters opened and checked by /readyz.
    return ServiceParts()


SERVICE = ServiceDefinition(
    name="cacher",
    settings_type=CacherSettings,
    bootstrap=bootstrap,
    needs_store=True,
    needs_lake=True,
    description="Consumes cache commands of its site and fills the site's volumes from the lake.",
)
