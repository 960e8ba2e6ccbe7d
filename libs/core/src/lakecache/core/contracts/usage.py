"""Events training jobs emit (through the SDK) about how they use cached copies."""

from datetime import datetime

from pydantic import Field

from lakecache.core.contracts.base import EVENTS, EventData
from lakecache.core.contracts.fields import CommitId, Id, NonNegative, Slug


@EVENTS.register
class LeaseAcquired(EventData):
    event_type = "lakecache.dataset.lease.acquired"

    lease_id: Id
    project: Slug
    site: Slug
    volume: Slug
    dataset_id: Id
    commit_id: CommitId
    holder: str
    ttl_seconds: int = Field(gt=0)
    expires_at: datetime
    generation: int | None = None  # the copy's lease/pin generation after this change


@EVENTS.register
class LeaseRenewed(EventData):
    event_type = "lakecache.dataset.lease.renewed"

    lease_id: Id
    site: Slug
    volume: Slug
    commit_id: CommitId
    expires_at: datetime
    generation: int | None = None
    project: Slug | None = None  # None only in events from before copies were per project


@EVENTS.register
class LeaseReleased(EventData):
    event_type = "lakecache.dataset.lease.released"

    lease_id: Id
    site: Slug
    volume: Slug
    commit_id: CommitId
    generation: int | None = None
    project: Slug | None = None  # None only in events from before copies were per project


@EVENTS.register
class DatasetRead(EventData):
    """A job read a project's ready cached copy: the gateway sends it when the SDK's
    ``lakecache.use`` reports the read, and the evictor counts the copy as used now. ``reader``
    is the caller's identity; ``cache_hit`` is false when the job waited for a fill."""

    event_type = "lakecache.dataset.read"

    project: Slug
    site: Slug
    volume: Slug | None = None
    dataset_id: Id
    commit_id: CommitId
    reader: str
    cache_hit: bool
    bytes_read: NonNegative | None = None
