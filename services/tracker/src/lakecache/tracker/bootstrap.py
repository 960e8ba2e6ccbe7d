"""Wires the tracker service's dependencies once, for `lakecache up` and standalone runs."""

from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts
from lakecache.tracker.settings import TrackerSettings


async def bootstrap(resources: Resources) -> ServiceParts:
    # The tracker's domain handlers and API arrive with its own feature work; until then the
    # service runs with the shared probes, its adapters opened and checked by /readyz.
    return ServiceParts()


SERVICE = ServiceDefinition(
    name="tracker",
    settings_type=TrackerSettings,
    bootstrap=bootstrap,
    needs_store=True,
    needs_lake=False,
    description="Runs, parameters, metrics and lineage in the document store.",
)
