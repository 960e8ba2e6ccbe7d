"""What a service declares about itself, and what the runtime hands its bootstrap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from lakecache.core.identity.keys import KeyRing
from lakecache.core.ports.bus import EventBus, MessageHandler, RetryPolicy
from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.ports.objectstore import ObjectStore
from lakecache.core.publishing import EventPublisher
from lakecache.core.settings import LakeCacheSettings
from lakecache.core.telemetry import Telemetry


@dataclass
class Resources:
    """Opened adapters, owned by the runtime (closed after the service stopped)."""

    settings: LakeCacheSettings
    telemetry: Telemetry
    bus: EventBus
    publisher: EventPublisher
    #: This service's signing key and the public keys it trusts (``lakecache.core.identity``).
    keys: KeyRing
    store: DocumentStore | None = None  # when the service declared needs_store
    lake: ObjectStore | None = None  # when the service declared needs_lake


@dataclass(frozen=True)
class SubscriptionSpec:
    topics: Sequence[str]
    group: str
    handler: MessageHandler
    retry: RetryPolicy = RetryPolicy()


@dataclass
class ServiceParts:
    """What a bootstrap returns: HTTP routes, bus subscriptions, background tasks."""

    routes: Sequence[web.RouteDef] = ()
    subscriptions: Sequence[SubscriptionSpec] = ()
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = ()
    ready_checks: Mapping[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    app_setup: Callable[[web.Application], None] | None = None


@dataclass(frozen=True)
class ServiceDefinition:
    """A service as the runtime sees it (each service module exports one as ``SERVICE``)."""

    name: str
    settings_type: type[LakeCacheSettings]
    bootstrap: Callable[[Resources], Awaitable[ServiceParts]]
    needs_store: bool = False
    needs_lake: bool = False
    #: Behind the gateway: every route but the probes needs a signed assertion
    #: (``lakecache.core.runtime.access``). The gateway, the public entry point, authenticates
    #: people's tokens itself.
    internal: bool = True
    description: str = ""
    #: When services share one process (``lakecache up``): the settings given those started
    #: before it, by name, with their base URLs — how the gateway finds ports chosen at start.
    with_peers: Callable[[LakeCacheSettings, Mapping[str, str]], LakeCacheSettings] | None = None
