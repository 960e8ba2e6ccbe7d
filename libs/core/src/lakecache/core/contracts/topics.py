"""The topic catalog: which topic carries each event type, how it is keyed and kept.

Partitioning follows what consumers need to see in order:

* catalog events are keyed by dataset, so one dataset's history stays ordered;
* cacher commands go to one topic **per site** (``lakecache.cache.commands.<site>``) because
  a cacher runs next to its site's volumes and must be the only process that gets them;
  within a site they are keyed by commit so repeats of one request stay ordered;
* cache facts and usage events are keyed by site so the evictor, which keeps its state per
  site, can split sites between instances (both topics have the same partition count, so
  they are co-partitioned);
* run events are keyed by run.

Every topic ``T`` has a dead-letter topic ``T.dlq`` (see ``dead_letter_topic``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lakecache.core.contracts.base import EVENTS, Event, EventData

DLQ_SUFFIX = ".dlq"
SITE_PLACEHOLDER = "{site}"


@dataclass(frozen=True)
class Topic:
    """A topic (or, with ``{site}`` in the name, a family of per-site topics)."""

    name: str
    partitions: int
    key_field: str
    retention: timedelta | None
    compacted: bool = False
    description: str = ""

    @property
    def per_site(self) -> bool:
        return SITE_PLACEHOLDER in self.name

    def for_site(self, site: str) -> Topic:
        """The concrete topic of one site (only for per-site families)."""
        if not self.per_site:
            return self
        return Topic(
            self.name.replace(SITE_PLACEHOLDER, site),
            self.partitions,
            self.key_field,
            self.retention,
            self.compacted,
            self.description,
        )

    def config(self) -> dict[str, str]:
        """Kafka topic configuration derived from the spec."""
        retention_ms = "-1" if self.retention is None else str(int(self.retention.total_seconds() * 1000))
        return {
            "cleanup.policy": "compact" if self.compacted else "delete",
            "retention.ms": retention_ms,
        }


CATALOG = Topic("lakecache.catalog", 3, "dataset_id", timedelta(days=30), description="dataset and commit facts")
CACHE_COMMANDS = Topic(
    "lakecache.cache.commands.{site}", 3, "commit_id", timedelta(days=7), description="commands for one site's cacher"
)
CACHE_EVENTS = Topic("lakecache.cache.events", 6, "site", timedelta(days=7), description="cached-copy lifecycle facts")
CACHE_PROGRESS = Topic(
    "lakecache.cache.progress", 3, "fill_id", timedelta(hours=6), description="throttled fill progress"
)
USAGE = Topic("lakecache.usage", 6, "site", timedelta(days=7), description="leases and reads by jobs")
RUNS = Topic("lakecache.runs", 6, "run_id", timedelta(days=30), description="run lifecycle, params, metrics, lineage")
EVICTION = Topic(
    "lakecache.eviction", 6, "site", timedelta(days=7), description="TTL overrides and the evictor's reports"
)
# The evictor's clock: sent to an explicit partition (one tick per partition), so the key is unused.
EVICTION_TICKS = Topic("lakecache.eviction.ticks", 6, "partition", timedelta(hours=1), description="evictor ticks")

TOPICS: tuple[Topic, ...] = (
    CATALOG, CACHE_COMMANDS, CACHE_EVENTS, CACHE_PROGRESS, USAGE, RUNS, EVICTION, EVICTION_TICKS,
)

#: event type -> topic. Every registered event type must appear here (a test checks it).
ROUTES: dict[str, Topic] = {
    "lakecache.dataset.created": CATALOG,
    "lakecache.dataset.deleted": CATALOG,
    "lakecache.commit.created": CATALOG,
    "lakecache.tag.moved": CATALOG,
    "lakecache.cache.requested": CACHE_COMMANDS,
    "lakecache.cache.eviction.requested": CACHE_COMMANDS,
    "lakecache.cache.fill.progress": CACHE_PROGRESS,
    "lakecache.cache.ready": CACHE_EVENTS,
    "lakecache.cache.failed": CACHE_EVENTS,
    "lakecache.cache.evicted": CACHE_EVENTS,
    "lakecache.cache.space.requested": CACHE_EVENTS,
    "lakecache.cache.eviction.refused": CACHE_EVENTS,
    "lakecache.cache.pin.changed": CACHE_EVENTS,
    "lakecache.cache.volume.reported": CACHE_EVENTS,
    # With the reports, on one key: a withdrawal and the report that ends it must not overtake each other.
    "lakecache.cache.volume.withdrawn": CACHE_EVENTS,
    # A cacher's fact like the others (only cachers write this topic), ordered with its copy's
    # ready and evicted on the site's key; the SDK's reads come from the gateway on USAGE.
    "lakecache.cache.reads.observed": CACHE_EVENTS,
    "lakecache.eviction.ttl.changed": EVICTION,
    "lakecache.eviction.manual.requested": EVICTION,
    "lakecache.eviction.blocked": EVICTION,
    "lakecache.eviction.tick": EVICTION_TICKS,
    "lakecache.dataset.lease.acquired": USAGE,
    "lakecache.dataset.lease.renewed": USAGE,
    "lakecache.dataset.lease.released": USAGE,
    "lakecache.dataset.read": USAGE,
    "lakecache.run.started": RUNS,
    "lakecache.run.params.logged": RUNS,
    "lakecache.run.metrics.logged": RUNS,
    "lakecache.run.tags.set": RUNS,
    "lakecache.run.finished": RUNS,
    "lakecache.run.input.recorded": RUNS,
    "lakecache.run.output.recorded": RUNS,
}


def route(event: Event[EventData]) -> tuple[Topic, bytes]:
    """Return the concrete topic and the partition key for ``event``."""
    family = ROUTES[event.type]
    data = event.data
    topic = family.for_site(data.site) if family.per_site else family
    key = getattr(data, family.key_field)
    return topic, str(key).encode()


def topic_spec(name: str) -> Topic | None:
    """The spec of a concrete topic name (per-site topics included), or None if unknown."""
    for family in TOPICS:
        if family.name == name:
            return family
        if family.per_site:
            prefix = family.name.split(SITE_PLACEHOLDER)[0]
            if name.startswith(prefix) and name[len(prefix):] and DLQ_SUFFIX not in name:
                return family.for_site(name[len(prefix):])
    return None


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def unrouted_event_types() -> set[str]:
    """Registered event types with no route (should be empty)."""
    return set(EVENTS.types()) - set(ROUTES)
