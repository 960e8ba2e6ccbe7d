"""The embedded runtime: the policy on the in-memory bus (``lakecache up``), state in the
service's document store (``repositories.DocumentSiteStore``), and an asyncio timer as the clock.

On Kafka the same ``SitePolicies`` runs inside the Faust app of ``streams``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from lakecache.core.contracts import Event, EventData
from lakecache.core.publishing import EventPublisher
from lakecache.evictor.site_store import SiteStore
from lakecache.evictor.sites import SitePolicies

log = logging.getLogger(__name__)


async def handle(event: Event[EventData], *, policies: SitePolicies, publisher: EventPublisher) -> None:
    """A bus handler: one event in, its commands and reports out (at least once, idempotent)."""
    for announced in await policies.handle(event):
        await publisher.emit(announced)


async def tick_forever(policies: SitePolicies, store: SiteStore, publisher: EventPublisher,
                       interval: float) -> None:
    """The embedded clock: tick every site of ``store`` each ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        await tick_all(policies, store, publisher)


async def tick_all(policies: SitePolicies, store: SiteStore, publisher: EventPublisher) -> None:
    """Tick every site of ``store`` at the wall clock's now and publish what the ticks decide."""
    now = datetime.now(UTC)
    for site in await store.sites():
        try:
            for announced in await policies.tick(site, now):
                await publisher.emit(announced)
        except Exception:  # noqa: BLE001 - one site's failure must not stop the clock of the others
            log.exception("tick of site %s failed", site)
