"""The catalog's dependencies (its repositories, lake and keys), and the JSON it shows.

Where each thing is kept is the repositories' business (``repositories/``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from lakecache.catalog.repositories import (
    CommitRepository,
    CopyRepository,
    DatasetRepository,
    ImportLocationRepository,
    LeaseRepository,
    TagRepository,
)
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.identity import SigningKey
from lakecache.core.layout import join_url, manifest_key
from lakecache.core.outbox import Outbox
from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.ports.objectstore import ObjectStore
from lakecache.core.publishing import EventPublisher
from lakecache.core.vocabulary.clock import iso


@dataclass
class Catalog:
    """The catalog's dependencies, wired once by ``bootstrap``."""

    datasets: DatasetRepository
    commits: CommitRepository
    tags: TagRepository
    copies: CopyRepository
    leases: LeaseRepository
    import_locations: ImportLocationRepository
    lake: ObjectStore
    #: What the repositories announce events through; ``bootstrap`` runs its relay.
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
        outbox = Outbox(store, publisher)
        return cls(DatasetRepository(store, outbox), CommitRepository(store), TagRepository(store, outbox),
                   CopyRepository(store), LeaseRepository(store), ImportLocationRepository(store), lake=lake,
                   outbox=outbox, signing_key=signing_key, grant_ttl_seconds=grant_ttl_seconds, workdir=workdir,
                   **options)

    @property
    def lake_url(self) -> str:
        return self.lake.url.rstrip("/")

    async def create_indexes(self) -> None:
        """Create every repository's indexes (idempotent; at start)."""
        for repository in (self.datasets, self.commits, self.tags, self.copies, self.leases, self.import_locations):
            await repository.create_indexes()


CATALOG_KEY = web.AppKey("catalog", Catalog)


def catalog_of(request: web.Request) -> Catalog:
    """The catalog serving ``request``."""
    return request.app[CATALOG_KEY]


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
        "head_files": doc.get("head_files"),
        "head_bytes": doc.get("head_bytes"),
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
