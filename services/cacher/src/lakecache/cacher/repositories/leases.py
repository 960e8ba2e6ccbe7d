"""Lease documents: each holder's claim on a copy and its expiry.

What protects a copy is its ``lease_until`` (``CopyRepository``); these documents let a release
recompute it from the leases still live. Collection ``leases``, ``_id`` the lease id:
``copy_id``, ``site``, ``volume``, ``commit_id``, ``holder``, ``ttl_seconds``, ``expires_at``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.vocabulary.clock import now

COLLECTION = "leases"
Doc = dict[str, Any]


class LeaseRepository:
    """The leases of one site's copies."""

    def __init__(self, store: DocumentStore, site: str) -> None:
        self._leases = store.collection(COLLECTION)
        self.site = site

    async def create_indexes(self) -> None:
        await self._leases.create_index([("copy_id", 1), ("expires_at", 1)])

    async def add(self, copy: Doc, holder: str, ttl_seconds: int) -> Doc:
        """A new lease of ``holder`` on ``copy``, expiring ``ttl_seconds`` from now."""
        lease = {"_id": uuid.uuid4().hex, "copy_id": copy["_id"], "site": copy["site"], "volume": copy["volume"],
                 "commit_id": copy["commit_id"], "holder": holder, "ttl_seconds": ttl_seconds,
                 "expires_at": now() + timedelta(seconds=ttl_seconds), "acquired_at": now()}
        await self._leases.insert_one(lease)
        return lease

    async def get(self, commit_id: str, lease_id: str) -> Doc | None:
        """Lease ``lease_id`` on ``commit_id`` at this site."""
        return await self._leases.find_one({"_id": lease_id, "site": self.site, "commit_id": commit_id})

    async def extend(self, lease: Doc, ttl_seconds: int) -> Doc:
        """``lease`` renewed: it expires ``ttl_seconds`` from now. Returns the renewed lease."""
        renewed = {**lease, "expires_at": now() + timedelta(seconds=ttl_seconds), "ttl_seconds": ttl_seconds}
        await self._leases.update_one({"_id": lease["_id"]}, {"$set": {
            "expires_at": renewed["expires_at"], "ttl_seconds": ttl_seconds}})
        return renewed

    async def remove(self, lease_id: str) -> None:
        await self._leases.delete_one({"_id": lease_id})

    async def live_until(self, copy_id: str) -> datetime | None:
        """The latest expiry of ``copy_id``'s live leases (None without one)."""
        live = await self._leases.find_list({"copy_id": copy_id, "expires_at": {"$gt": now()}},
                                            sort=[("expires_at", -1), ("_id", 1)], limit=1)
        return live[0]["expires_at"] if live else None
