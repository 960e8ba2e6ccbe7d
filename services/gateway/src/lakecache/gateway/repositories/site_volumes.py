"""The ``site_volumes`` collection: every site's volumes as their cachers last reported them,
``_id`` ``<site>/<volume>``: ``site``, ``volume``, ``reported_at`` (the time of the cacher's latest
word about the volume), the last ``cache.volume.reported``'s fields (capacity, usage, eviction
policy; absent when the volume was withdrawn before any report arrived) and ``withdrawn`` (why
the cacher no longer uses it, from ``cache.volume.withdrawn``; null once it is reported again).
What the site list answers from, without asking each site's cacher."""

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
    """The newest report (or withdrawal) of each volume of each site."""

    def __init__(self, store: DocumentStore) -> None:
        self._volumes = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._volumes.create_index([("site", 1), ("volume", 1), ("_id", 1)])

    async def report(self, *, site: str, volume: str, at: datetime, fields: Mapping[str, Any]) -> None:
        """Record a report of the volume at ``at``: it is usable, with these capacity, usage and
        policy ``fields``, unless the cacher said something newer about it."""
        await self._newest(site, volume, at, {**fields, "withdrawn": None})

    async def withdraw(self, *, site: str, volume: str, at: datetime, reason: str) -> None:
        """Record that the cacher withdrew the volume at ``at`` (``reason``: why), unless it said
        something newer about it; the last report's figures stay, for what it held."""
        await self._newest(site, volume, at, {"withdrawn": reason})

    async def _newest(self, site: str, volume: str, at: datetime, fields: Mapping[str, Any]) -> None:
        # Reports repeat periodically and may arrive twice or late: the cacher's newest word wins,
        # whether it is a report or a withdrawal (both come from one cacher's clock).
        key = f"{site}/{volume}"
        document = {"site": site, "volume": volume, "reported_at": at, **fields}
        updated = await self._volumes.update_one({"_id": key, "reported_at": {"$lte": at}}, {"$set": document})
        if updated.matched == 0 and await self._volumes.find_one({"_id": key}) is None:
            await self._volumes.update_one({"_id": key}, {"$setOnInsert": document}, upsert=True)

    async def page(self, *, site: str | None, limit: int, cursor: str | None) -> Page:
        """One page of the volumes (of ``site`` only, when given), by site and volume."""
        return await page(self._volumes, {"site": site} if site else {}, BY_SITE, limit=limit, cursor=cursor)
