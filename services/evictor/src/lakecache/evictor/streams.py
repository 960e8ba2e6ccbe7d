"""The Kafka runtime: the eviction policy as a Faust app.

* One agent reads the usage, cache-lifecycle and eviction topics (all keyed by site, six
  partitions, so co-partitioned) and keeps each site's state in the ``evictor-sites`` table,
  keyed by site. Faust writes a table change to the changelog partition of the event being
  processed, which is the partition of the site, so an instance owns whole sites: N instances
  split the sites between them, and one that restarts recovers its sites from the changelog.
* The clock is a timer that runs on the leader only: every ``tick_seconds`` it sends one
  ``eviction.tick`` to each partition of ``lakecache.eviction.ticks``; the instance that owns
  partition p ticks exactly the sites of partition p. (Tables can only change inside a
  stream, so the tick travels as a message rather than calling the policy from the timer.)
* Decisions are sent through Faust's producer as ``cache.eviction.requested`` to the site's
  command topic; at-least-once holds because Faust flushes before committing offsets, and a
  decision re-made after a crash has the same ``decision_id``, which the cacher de-duplicates.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner

from lakecache.core.contracts import Event, EventData, encode, new_event
from lakecache.core.contracts.eviction import EvictionTick
from lakecache.core.contracts.topics import CACHE_EVENTS, EVICTION, EVICTION_TICKS, USAGE
from lakecache.evictor.faust_bridge import (
    CatalogTopic,
    CloudEventSchema,
    catalog_topic,
    create_app,
    declared_topic,
    send_event,
)
from lakecache.evictor.settings import EvictorSettings
from lakecache.evictor.site_store import SiteStore, State
from lakecache.evictor.sites import EvictorMetrics, SitePolicies

log = logging.getLogger(__name__)

APP_ID = "lakecache-evictor"
TABLE = "evictor-sites"
SOURCES = (USAGE, CACHE_EVENTS, EVICTION)
_partitioner = DefaultPartitioner()


def partition_of(site: str, partitions: int) -> int:
    """The partition of a site's events (the producers' murmur2 of the key), hence of its state."""
    every = list(range(partitions))
    return _partitioner(site.encode(), every, every)


def site_table(app: faust.App, partitions: int) -> faust.Table:
    """The table of site states on ``app``, co-partitioned with the source topics."""
    # Keys and values are JSON in the changelog (Faust's default), so a recovered table has the
    # same str keys as a live one (Tables take no serializer arguments; raw keys recover as bytes).
    return app.Table(TABLE, default=None, partitions=partitions)


class TableSiteStore(SiteStore):
    """Site states in the Faust table (only the sites of this instance's partitions are local).

    The table's memory store keeps the dict it is given, and a change is written to the
    changelog partition of the event being processed: see the port's caller obligations.
    """

    def __init__(self, table: faust.Table) -> None:
        self._table = table

    async def load(self, site: str) -> State | None:
        return self._table.get(site)

    async def save(self, site: str, state: State) -> None:
        self._table[site] = state

    async def sites(self) -> list[str]:
        return sorted(self._table.keys())


class EvictorApp:
    """The Faust app and its parts; ``run`` is the service's background task."""

    def __init__(self, settings: EvictorSettings, metrics: EvictorMetrics, *, app_id: str = APP_ID,
                 **faust_conf: Any) -> None:
        section = settings.evictor
        self.partitions = section.faust_partitions
        for spec in (*SOURCES, EVICTION_TICKS):
            if spec.partitions != self.partitions:
                raise ValueError(f"topic {spec.name} has {spec.partitions} partitions but the evictor's Faust app "
                                 f"is set to {self.partitions}; they must match (the table is co-partitioned)")
        self._datadir = settings.home.resolve() / "evictor-faust"
        self.app = create_app(app_id, settings.bus_url, datadir=self._datadir,
                              topic_partitions=self.partitions, table_standby_replicas=0, **faust_conf)
        self.table = site_table(self.app, self.partitions)
        self.store = TableSiteStore(self.table)
        self.policies = SitePolicies(self.store, section.policy(), metrics)
        self._tick_seconds = section.tick_seconds
        sources = CatalogTopic(
            self.app, topics=[spec.name for spec in SOURCES], schema=CloudEventSchema(),
            partitions=self.partitions, retention=USAGE.retention, config=USAGE.config(),
        )
        self.ticks = catalog_topic(self.app, EVICTION_TICKS)
        self.app.agent(sources, name="lakecache-evictor-facts")(self._on_facts)
        self.app.agent(self.ticks, name="lakecache-evictor-ticks")(self._on_ticks)
        self.app.timer(self._tick_seconds, on_leader=True, name="lakecache-evictor-clock")(self._clock)

    async def _on_facts(self, stream: faust.StreamT) -> None:
        async for event in stream:
            await self._publish(await self.policies.handle(event))

    async def _on_ticks(self, stream: faust.StreamT) -> None:
        async for event in stream:
            tick: EvictionTick = event.data
            for site in await self.policies_sites(tick.partition):
                await self._publish(await self.policies.tick(site, tick.now))

    async def policies_sites(self, partition: int) -> list[str]:
        return [site for site in await self.store.sites() if partition_of(site, self.partitions) == partition]

    async def _clock(self) -> None:
        await self.send_ticks(datetime.now(UTC))

    async def send_ticks(self, now: datetime) -> None:
        """One tick per partition (the leader's timer; callable directly in tests)."""
        for partition in range(self.partitions):
            encoded = encode(new_event(EvictionTick(partition=partition, now=now), service="evictor"))
            await self.ticks.send(key=str(partition).encode(), value=encoded.value, headers=list(encoded.headers),
                                  partition=partition)

    async def _publish(self, announced: list[EventData]) -> None:
        for data in announced:
            event: Event[EventData] = new_event(data, service="evictor")
            await send_event(self.app, event, wait=False)

    async def declare_topics(self) -> None:
        """Create the topics the app reads, from the catalog, before it subscribes to them.

        Faust creates only its internal topics (changelog, leader), and brokers run without
        topic auto-creation: nobody else produces the ticks, and a source topic created after
        the consumer subscribed is seen only at its next metadata refresh (minutes).
        """
        for spec in (*SOURCES, EVICTION_TICKS):
            await declared_topic(self.app, spec)

    async def run(self) -> None:
        """Run the Faust app until cancelled (the service runner's background task)."""
        # Faust creates its data directory but not the parents (a fresh LAKECACHE_HOME).
        await asyncio.to_thread(self._datadir.mkdir, parents=True, exist_ok=True)
        await self.declare_topics()
        await self.app.start()
        try:
            while not self.app.should_stop:
                if self.app.crashed:
                    raise RuntimeError(f"the evictor's Faust app crashed: {self.app.crash_reason}")
                await asyncio.sleep(1)
        finally:
            await self.app.stop()

    async def check_ready(self) -> None:
        if not self.app.started or self.app.crashed:
            raise RuntimeError("the evictor's Faust app is not running"
                               + (f" (crashed: {self.app.crash_reason})" if self.app.crashed else ""))
