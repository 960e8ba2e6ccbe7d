"""The ``site_volumes`` collection: every site's volumes as their cachers last reported them
(``cache.volume.reported``), ``_id`` ``<site>/<volume>``: ``site``, ``volume``, ``reported_at``
and the report's fields (capacity, usage, eviction policy). What the site list answers from,
without asking each site's cacher."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lakecache.core.ports.docstore import DocumentStore
from lakecache.gateway.repositories.pages import Keyset, Page, page

COLLECTION = "site_volumes"
#: By site, then volume.
BY_SITE = Keyset("site-volumes", (("site", 1), ("volume", 1), ("_id", 1)))


class SiteVolumeRepository:
    """The newest report of each volume of each site."""

    def __init__(self, store: DocumentStore) -> None:
        self._volumes = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._volumes.create_index([("site", 1), ("volume", 1), ("_id", 1)])

    async def report(self, *, site: str, volume: str, at: datetime, fields: Mapping[str, Any]) -> None:
        """Keep the newest report of each volume (reports are periodic and may arrive twice or late)."""
        key = f"{site}/{volume}"
        document = {"site": site, "volume": volume, "reported_at": at, **fields}
        updated = await self._volumes.update_one({"_id": key, "reported_at": {"$lte": at}}, {"$set": document})
        if updated.matched == 0 and await self._volumes.find_one({"_id": key}) is None:
            await self._volumes.update_one({"_id": key}, {"$setOnInsert": document}, upsert=True)

    async def page(self, *, site: str | None, limit: int, cursor: str | None) -> Page:
        """One page of the volumes (of ``site`` only, when given), by site and volume."""
        return await page(self._volumes, {"site": site} if site else {}, BY_SITE, limit=limit, cursor=cursor)
