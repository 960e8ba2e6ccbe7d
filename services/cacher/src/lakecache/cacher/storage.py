"""Where the cacher keeps things: its collections, their indexes, and shared small helpers.

Collections (the cacher's own; no other service writes them):

* ``volumes`` — ``_id`` ``<site>/<name>``: the site's cache volumes (path, capacity, TTL, watermarks).
* ``copies`` — ``_id`` ``<site>/<volume>/<project>/<commit>``: one project's cached copy (two
  projects caching the same commit have two copies sharing the volume's pool), its state, the requests
  waiting for it, its lease/pin ``generation``, ``lease_until`` (latest expiry of a live lease)
  and ``pinned``. ``rev`` counts writes that change state or waiters: every such write is a
  compare-and-swap on it, so a request that joins cannot be lost by a fill that finishes.
* ``leases`` — ``_id`` the lease id: holder, copy, expiry.
* ``outbox`` — events prepared but not yet published (``lakecache.core.outbox``); copies carry
  the ids of their unpublished events in ``pending_events``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter

from lakecache.cacher.settings import CacherSettings
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.errors import ConfigurationError, NotFound
from lakecache.core.identity import KeyRing
from lakecache.core.outbox import Outbox
from lakecache.core.ports.docstore import Collection, DocumentStore
from lakecache.core.ports.objectstore import ObjectStore
from lakecache.core.publishing import EventPublisher

#: Before any lease: a ``lease_until`` that is always in the past (the field is never null, so
#: the eviction filter compares datetimes only; see the document-store subset).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class WrongSite(NotFound):
    """The request names a site this cacher does not serve."""


@dataclass
class Metrics:
    evictions_refused: Counter
    evictions: Counter
    fills: Counter

    @classmethod
    def on(cls, registry: CollectorRegistry) -> Metrics:
        return cls(
            Counter("lakecache_cacher_evictions_refused", "Eviction commands refused because the copy changed "
                    "(new lease, pin, renewal) or is not ready", ["reason"], registry=registry),
            Counter("lakecache_cacher_evictions", "Copies evicted", registry=registry),
            Counter("lakecache_cacher_fills", "Fills finished, by outcome", ["outcome"], registry=registry),
        )


@dataclass
class Cacher:
    """The cacher's dependencies, wired once by ``bootstrap``."""

    site: str
    settings: CacherSettings
    volumes: Collection
    copies: Collection
    leases: Collection
    outbox: Outbox
    publisher: EventPublisher
    metrics: Metrics
    #: The catalog's public key, to verify the source grant of each cache request.
    keys: KeyRing
    #: Builds an unopened object store for a lake URL (tests wrap it to count GETs).
    open_store: Callable[[str], ObjectStore] = field(default=object_store_from_url)
    #: Held while a volume is registered: two aliases registered at once must not both pass the checks.
    registering: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def open(cls, store: DocumentStore, publisher: EventPublisher, settings: CacherSettings,
             registry: CollectorRegistry, keys: KeyRing) -> Cacher:
        def open_store(url: str) -> ObjectStore:
            options = settings.lake_options_for(url)
            if urlsplit(url).scheme == "file":
                options["read_only"] = True  # a source is read, never written (nor created)
            return object_store_from_url(url, **options)

        return cls(settings.cacher.site, settings, store.collection("volumes"), store.collection("copies"),
                   store.collection("leases"), Outbox(store, publisher), publisher, Metrics.on(registry),
                   keys, open_store)

    @property
    def section(self):
        return self.settings.cacher

    @property
    def lake_roots(self) -> tuple[str, ...]:
        """The lake locations fills may read from (``cacher.lake_roots``, else the service's lake)."""
        roots = self.section.lake_roots or [self.settings.resolved_lake_url()]
        return tuple(root.rstrip("/") for root in roots)

    def check_site(self, site: str) -> None:
        if site != self.site:
            raise WrongSite(f"this cacher serves site {self.site!r}, not {site!r}; ask the cacher of {site!r}")

    async def create_indexes(self) -> None:
        await self.volumes.create_index([("site", 1), ("name", 1)], unique=True)
        await self.copies.create_index([("site", 1), ("volume", 1), ("project", 1), ("commit_id", 1)], unique=True)
        await self.copies.create_index([("site", 1), ("state", 1)])
        await self.copies.create_index([("site", 1), ("project", 1), ("commit_id", 1)])
        await self.leases.create_index([("copy_id", 1), ("expires_at", 1)])


async def refuse_copies_of_old_layout(cacher: Cacher) -> None:
    """Refuse to start (``ConfigurationError``) on a store holding copies recorded before copies
    were per project (``<site>/<volume>/<commit>``): their unique index would make every new
    request for their commit conflict forever. There is no in-place migration: see
    ``docs/cacher.md`` (Upgrading)."""
    async for doc in cacher.copies.find({"site": cacher.site}, projection={"_id": 1}):
        if doc["_id"].count("/") != 3:
            raise ConfigurationError(
                f"the cacher's store holds copy {doc['_id']!r}, recorded before copies were per project; this version "
                "cannot use that store. Start the cacher on a new store (cacher.store_url; the volume's files are "
                "reused: ready views are found again, pooled content is not fetched again) — see docs/cacher.md, "
                "Upgrading")


def copy_key(site: str, volume: str, project: str, commit_id: str) -> str:
    return f"{site}/{volume}/{project}/{commit_id}"


def public_copy(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy as the API shows it."""
    error = doc.get("error")
    progress = doc.get("progress")
    return {
        "site": doc["site"], "volume": doc["volume"], "commit_id": doc["commit_id"], "project": doc["project"],
        "dataset": doc["dataset"], "dataset_id": doc["dataset_id"], "state": doc["state"],
        "path": doc.get("path") if doc["state"] == "ready" else None,
        "fill_id": doc.get("fill_id"), "files": doc.get("files"), "size_bytes": doc.get("size_bytes"),
        "bytes_fetched": doc.get("bytes_fetched"), "bytes_deduplicated": doc.get("bytes_deduplicated"),
        "duration_seconds": doc.get("duration_seconds"),
        "progress": progress if doc["state"] in ("requested", "filling") else None,
        "error": error, "generation": doc.get("generation", 0),
        "pinned": doc.get("pinned", False), "leased_until": iso(doc.get("lease_until")) if doc.get(
            "lease_until", EPOCH) > now() else None,
        "requested_at": iso(doc.get("created_at")), "updated_at": iso(doc.get("updated_at")),
        "ready_at": iso(doc.get("ready_at")),
    }
