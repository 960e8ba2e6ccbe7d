"""The volumes of every site as their cachers last reported them (``cache.volume.reported``):
what the site list answers from, without asking each site's cacher."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from lakecache.core.ports.docstore import Collection, DocumentStore

COLLECTION = "site_volumes"


class SiteVolumesView:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    @classmethod
    def open(cls, store: DocumentStore) -> SiteVolumesView:
        return cls(store.collection(COLLECTION))

    async def create_indexes(self) -> None:
        await self.collection.create_index([("site", 1), ("volume", 1), ("_id", 1)])

    async def report(self, *, site: str, volume: str, at: datetime, fields: Mapping[str, Any]) -> None:
        """Keep the newest report of each volume (reports are periodic and may arrive twice or late)."""
        key = f"{site}/{volume}"
        document = {"site": site, "volume": volume, "reported_at": at, **fields}
        updated = await self.collection.update_one({"_id": key, "reported_at": {"$lte": at}}, {"$set": document})
        if updated.matched == 0 and await self.collection.find_one({"_id": key}) is None:
            await self.collection.update_one({"_id": key}, {"$setOnInsert": document}, upsert=True)


SITE_VOLUMES_KEY = web.AppKey("lakecache_site_volumes", SiteVolumesView)
