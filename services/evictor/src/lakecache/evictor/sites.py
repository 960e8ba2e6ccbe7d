"""The evictor's core, shared by both runtimes: per-site state in a store, facts in, events out.

A runtime (``embedded`` on the in-memory bus, ``streams`` on Faust) owns delivery and the
clock; this module only loads a site's state, applies the policy and saves the state back.
The store is a port (``site_store.SiteStore``) with two adapters: a document collection
(embedded) and a Faust table (Kafka, recovered from its changelog).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from lakecache.core.contracts import Event, EventData
from lakecache.evictor import policy
from lakecache.evictor.site_store import SiteStore
from lakecache.evictor.translate import event_of, fact_of

log = logging.getLogger(__name__)


class EvictorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter("lakecache_evictor_decisions", "Eviction decisions, by reason.",
                                 ["reason", "dry_run"], registry=registry)
        self.blocked = Counter("lakecache_evictor_cannot_free_space", "Times space was needed but no copy was "
                               "eligible for eviction.", ["site"], registry=registry)
        self.copies = Gauge("lakecache_evictor_copies", "Cached copies known to the evictor, by state.",
                            ["site", "state"], registry=registry)
        self.bytes = Gauge("lakecache_evictor_copy_bytes", "Bytes of the cached copies known to the evictor, "
                           "by state.", ["site", "state"], registry=registry)
        self.leases = Gauge("lakecache_evictor_live_leases", "Live leases on cached copies.", ["site"],
                            registry=registry)

    def observe(self, state: policy.SiteState, now: datetime) -> None:
        counts: dict[str, int] = {}
        sizes: dict[str, int] = {}
        leases = 0
        for volume in state.volumes.values():
            for copy in volume.copies.values():
                counts[copy.status] = counts.get(copy.status, 0) + 1
                sizes[copy.status] = sizes.get(copy.status, 0) + (copy.size_bytes or 0)
                leases += len(copy.live_leases(now))
        for status in set(counts) | {"ready"}:
            self.copies.labels(state.site, status).set(counts.get(status, 0))
            self.bytes.labels(state.site, status).set(sizes.get(status, 0))
        self.leases.labels(state.site).set(leases)


class SitePolicies:
    """Applies the policy to the state of the site each fact names."""

    def __init__(self, store: SiteStore, settings: policy.PolicySettings, metrics: EvictorMetrics) -> None:
        self._store, self.settings, self._metrics = store, settings, metrics
        # load → apply → save must not interleave for one site (the clock and the consumers
        # run concurrently, and a document store's calls yield to the event loop).
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def state(self, site: str) -> policy.SiteState:
        saved = await self._store.load(site)
        return policy.SiteState.from_dict(saved) if saved is not None else policy.SiteState(site=site)

    async def handle(self, event: Event[EventData]) -> list[EventData]:
        """Apply one consumed event; return the events to publish (commands, reports)."""
        fact = fact_of(event)
        if fact is None:
            return []
        return await self.apply(fact)

    async def tick(self, site: str, now: datetime) -> list[EventData]:
        return await self.apply(policy.Tick(site=site, now=now), observe_at=now)

    async def apply(self, fact: policy.Fact, *, observe_at: datetime | None = None) -> list[EventData]:
        async with self._locks[fact.site]:
            state = await self.state(fact.site)
            outcomes = policy.apply(state, fact, self.settings)
            await self._store.save(fact.site, state.to_dict())
        if observe_at is not None:  # gauges walk every copy: on ticks, not on every read
            self._metrics.observe(state, observe_at)
        return list(self._announce(outcomes))

    def _announce(self, outcomes: Iterable[policy.Outcome]) -> Iterable[EventData]:
        for outcome in outcomes:
            if isinstance(outcome, policy.Decision):
                self._metrics.decisions.labels(outcome.reason, str(outcome.dry_run).lower()).inc()
                log.info("decided to evict %s's copy of %s on %s/%s (%s%s): %s", outcome.project, outcome.commit_id,
                         outcome.site, outcome.volume, outcome.reason, ", dry run" if outcome.dry_run else "",
                         outcome.explanation)
            elif isinstance(outcome, policy.EvictionDeclined):
                log.info("%s", outcome.explanation)
            elif isinstance(outcome, policy.NothingEligible):
                self._metrics.blocked.labels(outcome.site).inc()
                log.warning("cannot free %d bytes on %s/%s: %s", outcome.bytes_wanted, outcome.site, outcome.volume,
                            outcome.explanation)
            announced = event_of(outcome)
            if announced is not None:
                yield announced

    async def explain(self, site: str, volume: str, project: str, commit_id: str, now: datetime) -> dict[str, Any]:
        return policy.explain(await self.state(site), volume, project, commit_id, now, self.settings)

    async def explain_project(self, site: str, project: str, now: datetime) -> list[dict[str, Any]]:
        """:meth:`explain` for every copy ``project`` has at ``site``, by volume and commit, from
        one read of the site's state."""
        state = await self.state(site)
        return [policy.explain(state, name, project, copy.commit_id, now, self.settings)
                for name, volume in sorted(state.volumes.items())
                for copy in sorted(volume.copies.values(), key=lambda c: c.commit_id) if copy.project == project]
