"""Wires the gateway service's dependencies once, for `lakecache up` and standalone runs."""

from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts
from lakecache.gateway.app import gateway_parts
from lakecache.gateway.auth import AuthStore, ensure_admin_token
from lakecache.gateway.settings import GatewaySettings


async def bootstrap(resources: Resources) -> ServiceParts:
    settings = resources.settings
    assert isinstance(settings, GatewaySettings)
    auth = AuthStore.open(resources.store, settings.gateway.auth_settings())
    await auth.create_indexes()
    if auth.settings.bootstrap_admin:
        # Before serving: the first request of a fresh installation can use the file's token.
        await ensure_admin_token(auth, settings.home.resolve())
    return gateway_parts(auth)


SERVICE = ServiceDefinition(
    name="gateway",
    settings_type=GatewaySettings,
    bootstrap=bootstrap,
    needs_store=True,
    needs_lake=False,
    description="The authenticated HTTP entry point for the CLI, the dashboard and the SDK.",
)
