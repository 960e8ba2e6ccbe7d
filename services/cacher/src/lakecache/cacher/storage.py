"""The cacher's dependencies, wired once by ``bootstrap``: its repositories (``repositories/``:
the only code that reads and writes its collections), the outbox, the publisher, metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge

from lakecache.cacher.repositories import CopyRepository, LeaseRepository, VolumeRepository
from lakecache.cacher.settings import CacherSettings
from lakecache.cacher.volume.charges import VolumeCharges
from lakecache.cacher.volume.usage import VolumeUsage
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.errors import ConfigurationError, NotFound
from lakecache.core.identity import KeyRing
from lakecache.core.outbox import Outbox
from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.ports.objectstore import ObjectStore
from lakecache.core.publishing import EventPublisher


class WrongSite(NotFound):
    """The request names a site this cacher does not serve."""


@dataclass
class Metrics:
    evictions_refused: Counter
    evictions: Counter
    fills: Counter
    reads_observed: Counter
    read_sample_seconds: Gauge

    @classmethod
    def on(cls, registry: CollectorRegistry) -> Metrics:
        return cls(
            Counter("lakecache_cacher_evictions_refused", "Eviction commands refused because the copy changed "
                    "(new lease, pin, renewal) or is not ready", ["reason"], registry=registry),
            Counter("lakecache_cacher_evictions", "Copies evicted", registry=registry),
            Counter("lakecache_cacher_fills", "Fills finished, by outcome", ["outcome"], registry=registry),
            Counter("lakecache_cacher_reads_observed", "Looks at a copy's view that found it read since the last one "
                    "(cache.reads.observed)", registry=registry),
            Gauge("lakecache_cacher_read_sample_seconds", "How long the last look at every ready copy's view took",
                  registry=registry),
        )


@dataclass
class Cacher:
    """The cacher's dependencies, wired once by ``bootstrap``."""

    site: str
    settings: CacherSettings
    volumes: VolumeRepository
    copies: CopyRepository
    leases: LeaseRepository
    outbox: Outbox
    publisher: EventPublisher
    metrics: Metrics
    #: The catalog's public key, to verify the source grant of each cache request.
    keys: KeyRing
    #: Builds an unopened object store for a lake URL (tests wrap it to count GETs).
    open_store: Callable[[str], ObjectStore] = field(default=object_store_from_url)
    #: Held while a volume is registered: two aliases registered at once must not both pass the checks.
    registering: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: LakeCache's own bytes on each volume, by name (``volume.usage``): what capacities bound.
    usage: dict[str, VolumeUsage] = field(default_factory=dict)
    #: What each project is charged on each volume, by volume name (``volume.charges``): what quotas bound.
    charges: dict[str, VolumeCharges] = field(default_factory=dict)

    @classmethod
    def open(cls, store: DocumentStore, publisher: EventPublisher, settings: CacherSettings,
             registry: CollectorRegistry, keys: KeyRing) -> Cacher:
        def open_store(url: str) -> ObjectStore:
            options = settings.lake_options_for(url)
            if urlsplit(url).scheme == "file":
                options["read_only"] = True  # a source is read, never written (nor created)
            return object_store_from_url(url, **options)

        site, outbox = settings.cacher.site, Outbox(store, publisher)
        return cls(site, settings, VolumeRepository(store, site), CopyRepository(store, outbox, site),
                   LeaseRepository(store, site), outbox, publisher, Metrics.on(registry), keys, open_store)

    @property
    def section(self):
        return self.settings.cacher

    @property
    def lake_roots(self) -> tuple[str, ...]:
        """The lake locations fills may read from (``cacher.lake_roots``, else the service's lake)."""
        roots = self.section.lake_roots or [self.settings.resolved_lake_url()]
        return tuple(root.rstrip("/") for root in roots)

    def usage_of(self, volume: str) -> VolumeUsage:
        return self.usage.setdefault(volume, VolumeUsage())

    def charges_of(self, volume: str) -> VolumeCharges:
        return self.charges.setdefault(volume, VolumeCharges())

    def check_site(self, site: str) -> None:
        if site != self.site:
            raise WrongSite(f"this cacher serves site {self.site!r}, not {site!r}; ask the cacher of {site!r}")

    async def create_indexes(self) -> None:
        for repository in (self.volumes, self.copies, self.leases):
            await repository.create_indexes()


async def refuse_copies_of_old_layout(cacher: Cacher) -> None:
    """Refuse to start (``ConfigurationError``) on a store holding copies recorded before copies
    were per project (``<site>/<volume>/<commit>``): their unique index would make every new
    request for their commit conflict forever. There is no in-place migration: see
    ``docs/cacher.md`` (Upgrading)."""
    old = await cacher.copies.key_of_old_layout()
    if old is not None:
        raise ConfigurationError(
            f"the cacher's store holds copy {old!r}, recorded before copies were per project; this version "
            "cannot use that store. Start the cacher on a new store (cacher.store_url; the volume's files are "
            "reused: ready views are found again, pooled content is not fetched again) — see docs/cacher.md, "
            "Upgrading")
