"""The embedded runtime: the policy on the in-memory bus (``lakecache up``), state in the
service's document store, and an asyncio timer as the clock.

On Kafka the same ``SitePolicies`` runs inside the Faust app of ``streams``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from lakecache.core.contracts import Event, EventData
from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.publishing import EventPublisher
from lakecache.evictor.sites import SitePolicies

log = logging.getLogger(__name__)


class DocumentSiteStore:
    """Each site's state as one document of the ``evictor_sites`` collection."""

    def __init__(self, store: DocumentStore) -> None:
        self._sites = store.collection("evictor_sites")

    async def load(self, site: str) -> dict[str, Any] | None:
        doc = await self._sites.find_one({"_id": site})
        return doc["state"] if doc is not None else None

    async def save(self, site: str, state: dict[str, Any]) -> None:
        await self._sites.update_one({"_id": site}, {"$set": {"state": state}}, upsert=True)

    async def sites(self) -> list[str]:
        # Ids only: a site's state can be large, and the clock asks for the list on every tick.
        return [doc["_id"] for doc in await self._sites.find_list({}, sort=[("_id", 1)], projection={"_id": 1})]


async def handle(event: Event[EventData], *, policies: SitePolicies, publisher: EventPublisher) -> None:
    """A bus handler: one event in, its commands and reports out (at least once, idempotent)."""
    for announced in await policies.handle(event):
        await publisher.emit(announced)


async def tick_forever(policies: SitePolicies, store: DocumentSiteStore, publisher: EventPublisher,
                       interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        await tick_all(policies, store, publisher)


async def tick_all(policies: SitePolicies, store: DocumentSiteStore, publisher: EventPublisher) -> None:
    now = datetime.now(UTC)
    for site in await store.sites():
        try:
            for announced in await policies.tick(site, now):
                await publisher.emit(announced)
        except Exception:  # noqa: BLE001 - one site's failure must not stop the clock of the others
            log.exception("tick of site %s failed", site)
