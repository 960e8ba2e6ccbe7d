"""Where the catalog keeps things: its collections, their indexes, and the JSON it shows.

Collections (the catalog's own; no other service writes them):

* ``datasets`` — one document per dataset, ``_id`` a uuid. ``slot`` is ``project/name``
  while the dataset is live and ``project/name@<id>`` once deleted, so a unique index on it
  lets a new dataset reuse a deleted one's name while the old commits stay readable.
* ``commits`` — commit metadata, ``_id`` ``<dataset id>/<commit id>`` (two datasets with the
  same content share a commit id but not a commit document). Manifests live in the lake.
* ``tags`` — ``_id`` ``<dataset id>/<tag>``.
* ``copies`` and ``leases`` — the read model of cached copies and job leases, fed by events.
* ``import_locations`` — ``_id`` ``<project>/<name>``: lake locations an installation
  administrator registered for a project to import from (``imports.py``).
* ``outbox`` — events prepared but not yet published (``lakecache.core.outbox``); datasets and
  tags carry the ids of their unpublished events in ``pending_events``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from lakecache.catalog.domain import iso
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.identity import SigningKey
from lakecache.core.layout import join_url, manifest_key
from lakecache.core.outbox import Outbox
from lakecache.core.ports.docstore import Collection, DocumentStore
from lakecache.core.ports.objectstore import ObjectStore
from lakecache.core.publishing import EventPublisher


@dataclass
class Catalog:
    """The catalog's dependencies, wired once by ``bootstrap``."""

    datasets: Collection
    commits: Collection
    tags: Collection
    copies: Collection
    leases: Collection
    import_locations: Collection
    lake: ObjectStore
    outbox: Outbox
    #: Signs source grants (``grants.py``); None where the catalog signs nothing (tests).
    signing_key: SigningKey | None = None
    grant_ttl_seconds: float = 3600.0
    workdir: Path | None = None
    #: Opens (unopened) a store for a URL outside the catalog's lake, with the catalog's own
    #: credentials: import sources (``importing.py``).
    open_store: Callable[[str], ObjectStore] = object_store_from_url
    #: Lifetime of a presigned upload URL (``uploads.py``).
    upload_url_seconds: int = 300
    #: Largest content accepted in one upload through the catalog.
    upload_max_bytes: int = 5 * 1024**3
    #: Manifests verified against their commit id: ``manifest key`` → the etag verified
    #: (``integrity.py``), most recently used last.
    verified_manifests: OrderedDict[str, str] = field(default_factory=OrderedDict)

    @classmethod
    def open(cls, store: DocumentStore, lake: ObjectStore, publisher: EventPublisher, workdir: Path | None = None,
             *, signing_key: SigningKey | None = None, grant_ttl_seconds: float = 3600.0,
             **options: Any) -> Catalog:
        """The catalog over ``store`` and ``lake``; ``options`` set the remaining fields
        (``open_store``, ``upload_url_seconds``, ``upload_max_bytes``)."""
        names = ("datasets", "commits", "tags", "copies", "leases", "import_locations")
        return cls(*(store.collection(n) for n in names), lake=lake, outbox=Outbox(store, publisher),
                   signing_key=signing_key, grant_ttl_seconds=grant_ttl_seconds, workdir=workdir, **options)

    @property
    def lake_url(self) -> str:
        return self.lake.url.rstrip("/")

    async def create_indexes(self) -> None:
        await self.datasets.create_index([("slot", 1)], unique=True)
        await self.datasets.create_index([("deleted", 1), ("project", 1), ("slot", 1)])
        await self.commits.create_index([("dataset_id", 1), ("id", 1)], unique=True)
        await self.tags.create_index([("dataset_id", 1), ("name", 1)], unique=True)
        await self.copies.create_index([("dataset_id", 1)])
        await self.leases.create_index([("dataset_id", 1), ("expires_at", 1)])
        await self.import_locations.create_index([("project", 1), ("name", 1)], unique=True)


CATALOG_KEY = web.AppKey("catalog", Catalog)


def catalog_of(request: web.Request) -> Catalog:
    """The catalog serving ``request``."""
    return request.app[CATALOG_KEY]


def live_slot(project: str, name: str) -> str:
    return f"{project}/{name}"


def manifest_location(dataset: dict[str, Any], commit_id: str) -> tuple[str, str]:
    """(key in the catalog's lake, full URL) of a commit's manifest under the dataset root."""
    relative = manifest_key(commit_id)
    return f"{dataset['lake_prefix']}/{relative}", join_url(dataset["lake_url"], relative)


def dataset_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "project": doc["project"],
        "name": doc["name"],
        "description": doc.get("description", ""),
        "tags": doc.get("tags", []),
        "owner": doc["owner"],
        "lake_url": doc["lake_url"],
        "created_at": iso(doc["created_at"]),
        "updated_at": iso(doc["updated_at"]),
        "head": doc.get("head"),
        "deleted": doc.get("deleted", False),
    }


def commit_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["id"],
        "dataset_id": doc["dataset_id"],
        "project": doc["project"],
        "dataset": doc["dataset"],
        "parents": doc["parents"],
        "message": doc["message"],
        "author": doc["author"],
        "created_at": iso(doc["created_at"]),
        "files": doc["files"],
        "bytes": doc["bytes"],
        "manifest_url": doc["manifest_url"],
    }


def tag_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": doc["name"],
        "commit": doc["commit_id"],
        "dataset_id": doc["dataset_id"],
        "updated_at": iso(doc["updated_at"]),
        "moved_by": doc["moved_by"],
    }
