"""Wires the evictor service's dependencies once, for `lakecache up` and standalone runs."""

from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts
from lakecache.evictor.settings import EvictorSettings


async def bootstrap(resources: Resources) -> ServiceParts:
    # The evictor's domain handlers and API arrive with its own feature work; until then the
    # service runs with the shared probes, its adapters opened and checked by /readyz.
    return ServiceParts()


SERVICE = ServiceDefinition(
    name="evictor",
    settings_type=EvictorSettings,
    bootstrap=bootstrap,
    needs_store=False,
    needs_lake=False,
    description="TTL, capacity and lease-aware eviction decisions (a Faust stream processor on Kafka).",
)
