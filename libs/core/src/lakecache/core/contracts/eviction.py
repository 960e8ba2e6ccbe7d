"""The evictor's own inputs and outputs besides the cacher's commands: TTL overrides, manual
eviction requests, its clock and what it reports when it cannot free space. All keyed by site,
like its state."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from lakecache.core.contracts.base import EVENTS, EventData
from lakecache.core.contracts.fields import CommitId, Id, NonNegative, Slug


@EVENTS.register
class EvictionTtlChanged(EventData):
    """Set (or, with ``ttl_seconds`` None, clear) the idle TTL of one dataset or one commit at a site.
    TTLs resolve commit → dataset → volume → the evictor's default (one day)."""

    event_type = "lakecache.eviction.ttl.changed"

    site: Slug
    scope: Literal["dataset", "commit"]
    target: Id
    ttl_seconds: int | None = Field(default=None, gt=0)
    changed_by: str


@EVENTS.register
class ManualEvictionRequested(EventData):
    """Command to the evictor: evict this copy now. The evictor decides it like its own decisions
    (pins, live leases and pending decisions win; dry run holds) and sends the cacher the command."""

    event_type = "lakecache.eviction.manual.requested"

    request_id: Id
    site: Slug
    volume: Slug
    commit_id: CommitId
    requested_by: str
    project: Slug | None = None  # the project whose copy to evict (None only in old events)


@EVENTS.register
class EvictionTick(EventData):
    """The evictor's clock: one per partition of the policy topic every tick interval, sent by
    the leader instance, so each instance ticks exactly the sites it owns."""

    event_type = "lakecache.eviction.tick"

    partition: NonNegative
    now: datetime


@EVENTS.register
class EvictionBlocked(EventData):
    """Space was needed on a volume but no copy could be evicted (all pinned, leased or pending);
    nothing was deleted."""

    event_type = "lakecache.eviction.blocked"

    site: Slug
    volume: Slug
    bytes_wanted: NonNegative
    explanation: str
