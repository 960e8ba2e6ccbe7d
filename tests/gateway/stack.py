"""The services behind the gateway, running for real on the embedded adapters, and a gateway
in front of them: what the proxied routes, the read model and live progress are tested on.

The backends run in the test's event loop through the shared runtime (as `lakecache up` runs
them) on one in-memory bus, which the gateway's publisher and read-model consumer join.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lakecache.cacher.bootstrap import SERVICE as CACHER
from lakecache.catalog.bootstrap import SERVICE as CATALOG
from lakecache.core.adapters.bus.memory import InMemoryEventBus
from lakecache.core.contracts.topics import CACHE_COMMANDS, CACHE_EVENTS, EVICTION, USAGE
from lakecache.core.identity import SigningKey
from lakecache.core.identity.keys import key_id
from lakecache.core.outbox import Outbox
from lakecache.core.ports.bus import EventBus, Message
from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.publishing import EventPublisher
from lakecache.core.runtime import RunningService, start_service
from lakecache.core.runtime.http import create_app
from lakecache.core.telemetry import configure_telemetry
from lakecache.evictor.bootstrap import SERVICE as EVICTOR
from lakecache.gateway.app import GatewayDependencies, gateway_parts
from lakecache.gateway.auth import AuthStore
from lakecache.gateway.copies import CopyStatusView
from lakecache.gateway.repositories import RunIdRepository, SiteVolumeRepository
from lakecache.gateway.upstream import Upstreams
from lakecache.tracker.bootstrap import SERVICE as TRACKER
from tests.support.identity import gateway_keys
from tests.support.waiting import bus_settled

SITE, VOLUME = "dgx", "nfs1"


@dataclass
class Backends:
    catalog: RunningService
    cacher: RunningService
    evictor: RunningService
    tracker: RunningService
    bus_url: str
    volume: Path
    home: Path

    @property
    def bus(self) -> EventBus:
        return self.cacher.resources.bus

    async def settled(self, timeout: float = 30.0) -> None:
        """Wait until every consumer group on the bus (the backends', the gateway's read model,
        a test's recorder) has handled everything published so far: what follows from a message
        has been published, or was decided not to be."""
        await bus_settled(self.bus, timeout=timeout)

    async def recorder(self) -> BusRecorder:
        """Every event on the cache and eviction topics from now on, as (type, data)."""
        recorder = BusRecorder()
        topics = [CACHE_EVENTS.name, CACHE_COMMANDS.for_site(SITE).name, EVICTION.name, USAGE.name]
        await self.bus.subscribe(topics, group=f"recorder-{uuid.uuid4().hex[:8]}", handler=recorder.handle)
        return recorder

    def upstreams(self) -> Upstreams:
        """The backends as the gateway reaches them, signing with the ``gateway`` key they trust."""
        return Upstreams(catalog=self.catalog.base_url, evictor=self.evictor.base_url,
                         default_cacher="http://127.0.0.1:9", cachers={SITE: self.cacher.base_url},
                         tracker=self.tracker.base_url,
                         signing_key=gateway_keys(self.home).signing_key)


@dataclass
class BusRecorder:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def handle(self, message: Message) -> None:
        kind = (message.header("ce_type") or b"").decode()
        self.events.append((kind, json.loads(message.value) if message.value else {}))

    def of(self, kind: str, **matching: Any) -> list[dict[str, Any]]:
        """The events of type ``lakecache.<kind>`` whose data has the ``matching`` values."""
        return [data for name, data in self.events if name == f"lakecache.{kind}"
                and all(data.get(k) == v for k, v in matching.items())]


@contextlib.asynccontextmanager
async def running_backends(tmp_path: Path) -> AsyncIterator[Backends]:
    """The catalog, a cacher of site ``dgx`` with volume ``nfs1``, the evictor and the tracker."""
    home, volume = tmp_path / "backends", tmp_path / VOLUME
    home.mkdir(parents=True, exist_ok=True)
    volume.mkdir(exist_ok=True)
    bus_url = f"memory://stack-{uuid.uuid4().hex[:8]}"
    settings = {
        CATALOG: CATALOG.settings_type(home=home, bus_url=bus_url, catalog={"port": 0}),
        # Watermarks at the top: the volume's usage is the shared test disk's, not this test's.
        CACHER: CACHER.settings_type(home=home, bus_url=bus_url, cacher={
            "port": 0, "site": SITE, "volumes": [{"name": VOLUME, "path": str(volume), "high_watermark": 1.0,
                                                  "low_watermark": 0.99}]}),
        EVICTOR: EVICTOR.settings_type(home=home, bus_url=bus_url, evictor={"port": 0}),
        TRACKER: TRACKER.settings_type(home=home, bus_url=bus_url, tracker={"port": 0}),
    }
    async with contextlib.AsyncExitStack() as stack:
        running = [await stack.enter_async_context(start_service(d, s)) for d, s in settings.items()]
        yield Backends(*running, bus_url=bus_url, volume=volume, home=home)


def unreachable_upstreams() -> Upstreams:
    """Backends nobody listens for (port 9, discard): a forwarded call answers 503."""
    url, private = "http://127.0.0.1:9", Ed25519PrivateKey.generate()
    key = SigningKey("gateway", key_id(private.public_key()), private)
    return Upstreams(catalog=url, evictor=url, default_cacher=url, tracker=url, signing_key=key)


@contextlib.asynccontextmanager
async def gateway_client(auth: AuthStore, store: DocumentStore, upstreams: Upstreams,
                         bus_url: str) -> AsyncIterator[TestClient]:
    """A client of the gateway on ``store``, forwarding to ``upstreams``, its read model
    fed from (and its commands sent to) the in-memory bus ``bus_url``."""
    async with InMemoryEventBus.from_url(bus_url) as bus:
        publisher = EventPublisher(bus, "gateway")
        copies, volumes = CopyStatusView.open(store, Outbox(store, publisher)), SiteVolumeRepository(store)
        await copies.create_indexes()
        await volumes.create_indexes()
        telemetry = configure_telemetry("gateway")
        parts = gateway_parts(GatewayDependencies(auth, copies, volumes, upstreams, publisher, telemetry,
                                                  sse=(0.2, 1.0), run_ids=RunIdRepository(store)))
        app = create_app("gateway", telemetry, {}, parts.routes)
        assert parts.app_setup is not None
        parts.app_setup(app)
        for spec in parts.subscriptions:
            await bus.subscribe(spec.topics, group=spec.group, handler=spec.handler, retry=spec.retry)
        async with TestClient(TestServer(app)) as client:
            yield client
