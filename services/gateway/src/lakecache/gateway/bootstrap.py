"""Wires the gateway service's dependencies once, for `lakecache up` and standalone runs."""

from collections.abc import Mapping
from dataclasses import replace

from lakecache.core.outbox import Outbox
from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts
from lakecache.core.settings import LakeCacheSettings
from lakecache.gateway.app import GatewayDependencies, gateway_parts
from lakecache.gateway.auth import AuthStore, ensure_admin_token
from lakecache.gateway.copies import CopyStatusView
from lakecache.gateway.repositories import RunIdRepository, SiteVolumeRepository
from lakecache.gateway.settings import GatewaySettings
from lakecache.gateway.upstream import Upstreams


async def bootstrap(resources: Resources) -> ServiceParts:
    settings = resources.settings
    assert isinstance(settings, GatewaySettings)
    section = settings.gateway
    auth = AuthStore.open(resources.store, section.auth_settings())
    await auth.create_indexes()
    outbox = Outbox(resources.store, resources.publisher)
    copies, volumes = CopyStatusView.open(resources.store, outbox), SiteVolumeRepository(resources.store)
    await copies.create_indexes()
    await copies.drop_old_layout()
    await volumes.create_indexes()
    if auth.settings.bootstrap_admin:
        # Before serving: the first request of a fresh installation can use the file's token.
        await ensure_admin_token(auth, settings.home.resolve())
    run_ids = RunIdRepository(resources.store)
    upstreams = Upstreams(catalog=section.catalog_url, evictor=section.evictor_url, default_cacher=section.cacher_url,
                          tracker=section.tracker_url, signing_key=resources.keys.signing_key,
                          cachers=dict(section.cacher_urls),
                          timeout_seconds=section.upstream_timeout_seconds,
                          assertion_ttl_seconds=settings.identity.assertion_ttl_seconds)
    sse = (section.status_poll_seconds, section.sse_heartbeat_seconds)
    parts = gateway_parts(GatewayDependencies(auth, copies, volumes, upstreams, resources.publisher,
                                              resources.telemetry, sse=sse, run_ids=run_ids,
                                              run_apply_wait_seconds=section.run_apply_wait_seconds))
    # Publishes the cache requests whose delivery failed when they were recorded.
    return replace(parts, background=[*parts.background, outbox.run])


def with_peers(settings: LakeCacheSettings, peers: Mapping[str, str]) -> LakeCacheSettings:
    """In one process (``lakecache up``), reach the services there, wherever they listen."""
    assert isinstance(settings, GatewaySettings)
    urls = {f"{name}_url": peers[name] for name in ("catalog", "cacher", "evictor", "tracker") if name in peers}
    return settings.model_copy(update={"gateway": settings.gateway.model_copy(update=urls)})


SERVICE = ServiceDefinition(
    name="gateway",
    settings_type=GatewaySettings,
    bootstrap=bootstrap,
    needs_store=True,
    needs_lake=False,
    internal=False,
    description="The authenticated HTTP entry point for the CLI, the dashboard and the SDK.",
    with_peers=with_peers,
)
