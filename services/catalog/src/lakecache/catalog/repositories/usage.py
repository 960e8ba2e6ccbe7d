"""The ``copies`` and ``leases`` collections: the read model of cached copies and job leases,
fed by the cacher's and the jobs' events. Every write is keyed by the event's natural key, so a
redelivered event changes nothing."""

from __future__ import annotations

from datetime import datetime

from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.core.vocabulary.clock import now


def _copy_key(dataset_id: str, site: str, volume: str, commit_id: str) -> str:
    # Two datasets may hold the same commit id (same content), so the dataset is part of the key.
    return f"{dataset_id}/{site}/{volume}/{commit_id}"


class CopyRepository:
    """Cached copies that are ready somewhere, per dataset."""

    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection("copies")

    async def create_indexes(self) -> None:
        await self._docs.create_index([("dataset_id", 1)])

    async def record_ready(self, *, dataset_id: str, site: str, volume: str, commit_id: str, project: str,
                           fill_id: str) -> None:
        """Record that the dataset's commit is cached on ``site``/``volume`` (once, however often told)."""
        await self._docs.update_one(
            {"_id": _copy_key(dataset_id, site, volume, commit_id)},
            {"$set": {"dataset_id": dataset_id, "project": project, "site": site, "volume": volume,
                      "commit_id": commit_id, "fill_id": fill_id, "ready_at": now()}},
            upsert=True,
        )

    async def record_evicted(self, *, dataset_id: str, site: str, volume: str, commit_id: str) -> None:
        """Forget the copy of the dataset's commit on ``site``/``volume``."""
        await self._docs.delete_one({"_id": _copy_key(dataset_id, site, volume, commit_id)})

    async def of_dataset(self, dataset_id: str, limit: int) -> list[Document]:
        """Up to ``limit`` copies of ``dataset_id`` (``site``, ``volume``, ``commit_id``…), in a stable order."""
        return await self._docs.find_list({"dataset_id": dataset_id}, sort=[("_id", 1)], limit=limit)


class LeaseRepository:
    """Jobs' leases on cached copies, per dataset."""

    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection("leases")

    async def create_indexes(self) -> None:
        await self._docs.create_index([("dataset_id", 1), ("expires_at", 1)])

    async def record_acquired(self, *, lease_id: str, dataset_id: str, site: str, volume: str, commit_id: str,
                              holder: str, expires_at: datetime) -> None:
        """Record a job's lease until ``expires_at``."""
        await self._docs.update_one(
            {"_id": lease_id},
            {"$set": {"dataset_id": dataset_id, "site": site, "volume": volume, "commit_id": commit_id,
                      "holder": holder},
             # A redelivered acquisition must not shorten a lease a later renewal extended.
             "$max": {"expires_at": expires_at}},
            upsert=True,
        )

    async def record_renewed(self, *, lease_id: str, expires_at: datetime) -> None:
        """Extend a recorded lease to ``expires_at`` (never shorten it)."""
        # A renewal without a known acquisition carries no dataset id and is ignored.
        await self._docs.update_one({"_id": lease_id}, {"$max": {"expires_at": expires_at}})

    async def record_released(self, *, lease_id: str) -> None:
        """Forget a released lease."""
        await self._docs.delete_one({"_id": lease_id})

    async def live_of_dataset(self, dataset_id: str, at: datetime, limit: int) -> list[Document]:
        """Up to ``limit`` leases of ``dataset_id`` that have not expired at ``at`` (``holder``,
        ``site``, ``volume``…), in a stable order."""
        return await self._docs.find_list({"dataset_id": dataset_id, "expires_at": {"$gt": at}},
                                          sort=[("_id", 1)], limit=limit)
