"""Wires the gateway service's dependencies once, for `lakecache up` and standalone runs."""

from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts
from lakecache.gateway.settings import GatewaySettings


async def bootstrap(resources: Resources) -> ServiceParts:
    # The gateway's domain handlers and API arrive with its own feature work; until then the
    # service runs with the shared probes, its adapters opened and checked by /readyz.
    return ServiceParts()


SERVICE = ServiceDefinition(
    name="gateway",
    settings_type=GatewaySettings,
    bootstrap=bootstrap,
    needs_store=True,
    needs_lake=False,
    description="The authenticated HTTP entry point for the CLI, the dashboard and the SDK.",
)
