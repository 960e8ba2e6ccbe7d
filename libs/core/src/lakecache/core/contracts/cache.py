"""Commands to the cacher and the events it emits about cached copies.

A cached copy is identified by (site, volume, project, commit): two projects that cache the
same commit get two copies (their bytes are shared on the volume; access, leases, pins and
eviction are not). ``cache.requested`` and ``cache.eviction.requested`` are commands (routed
to the site's command topic); the rest are facts.

``project`` was added to the copy events that lacked it (``None`` only in events written before
copies were per project; the cacher refuses an eviction command without one).
"""

from datetime import datetime
from typing import Literal

from pydantic import Field

from lakecache.core.contracts.base import EVENTS, EventData
from lakecache.core.contracts.fields import CommitId, Id, NonNegative, Slug
from lakecache.core.vocabulary.copies import FillPhase, FillProgress

#: ``quota``: a fill of the copy's project lacked room under the project's quota (ADR 0018).
EvictionReason = Literal["ttl-expired", "capacity", "manual", "quota"]


@EVENTS.register
class CacheRequested(EventData):
    """Command: materialize ``commit_id`` on a volume of ``site`` (any volume if ``volume`` is None)."""

    event_type = "lakecache.cache.requested"

    request_id: Id
    project: Slug
    dataset_id: Id
    dataset: Slug
    commit_id: CommitId
    site: Slug
    volume: Slug | None = None
    requester: str
    manifest_url: str | None = None
    #: The catalog's signed word on where this commit's bytes may be read from
    #: (``lakecache.core.identity.grants``); the cacher refuses a command without a valid one.
    source_grant: str | None = None


@EVENTS.register
class CacheFillProgress(EventData):
    """A fill's progress (``lakecache.core.vocabulary.copies.FillProgress``, field for field)."""

    event_type = "lakecache.cache.fill.progress"

    fill_id: Id
    site: Slug
    volume: Slug
    commit_id: CommitId
    project: Slug | None = None
    files_done: NonNegative
    files_total: NonNegative
    bytes_done: NonNegative
    bytes_total: NonNegative
    rate_bytes_per_s: float = Field(ge=0)
    eta_seconds: float | None = None
    phase: FillPhase | None = None
    objects_done: NonNegative | None = None
    objects_total: NonNegative | None = None

    def progress(self) -> FillProgress:
        """The progress it announces (an event from before ``phase`` was sent reads as fetching)."""
        return FillProgress(phase=self.phase or "fetching", files_done=self.files_done, files_total=self.files_total,
                            objects_done=self.objects_done or 0, objects_total=self.objects_total or 0,
                            bytes_done=self.bytes_done, bytes_total=self.bytes_total,
                            rate_bytes_per_s=self.rate_bytes_per_s, eta_seconds=self.eta_seconds)


@EVENTS.register
class CacheReady(EventData):
    event_type = "lakecache.cache.ready"

    fill_id: Id
    project: Slug
    dataset_id: Id
    commit_id: CommitId
    site: Slug
    volume: Slug
    path: str
    files: NonNegative
    size_bytes: NonNegative
    bytes_fetched: NonNegative
    bytes_deduplicated: NonNegative
    duration_seconds: float = Field(ge=0)
    generation: int | None = None  # the copy's lease/pin generation when it became ready


@EVENTS.register
class CacheFailed(EventData):
    event_type = "lakecache.cache.failed"

    fill_id: Id
    project: Slug
    dataset_id: Id
    commit_id: CommitId
    site: Slug
    volume: Slug | None = None
    reason: str
    retryable: bool
    failed_paths: list[str] = Field(default_factory=list)


@EVENTS.register
class CacheSpaceRequested(EventData):
    """The cacher needs ``bytes_needed`` more free bytes on a volume before it can fill.

    With ``quota_bytes``, the room is under ``project``'s quota on the volume (ADR 0018):
    ``bytes_needed`` is how far the project's charge must fall, and only that project's copies
    may be evicted for it."""

    event_type = "lakecache.cache.space.requested"

    site: Slug
    volume: Slug
    bytes_needed: NonNegative
    fill_id: Id
    commit_id: CommitId
    project: Slug | None = None
    quota_bytes: NonNegative | None = None


@EVENTS.register
class CacheEvictionRequested(EventData):
    """Command: remove a cached copy. ``generation`` is the copy's lease/pin generation the
    decision was based on; the cacher refuses if it changed (a newer lease wins)."""

    event_type = "lakecache.cache.eviction.requested"

    decision_id: Id
    site: Slug
    volume: Slug
    commit_id: CommitId
    dataset_id: Id
    reason: EvictionReason
    generation: int | None = None
    project: Slug | None = None
    dry_run: bool = False
    explanation: str = ""


@EVENTS.register
class CacheEvicted(EventData):
    event_type = "lakecache.cache.evicted"

    decision_id: Id
    site: Slug
    volume: Slug
    commit_id: CommitId
    dataset_id: Id
    reason: EvictionReason
    bytes_freed: NonNegative
    project: Slug | None = None


@EVENTS.register
class CacheEvictionRefused(EventData):
    """The cacher did not execute an eviction decision: the copy was pinned, leased, changed
    generation, or is no longer ready. The copy stays; the evictor forgets its pending decision."""

    event_type = "lakecache.cache.eviction.refused"

    decision_id: Id
    site: Slug
    volume: Slug
    commit_id: CommitId
    reason: str
    project: Slug | None = None


@EVENTS.register
class CachePinChanged(EventData):
    """An operator pinned (never evict) or unpinned a cached copy."""

    event_type = "lakecache.cache.pin.changed"

    site: Slug
    volume: Slug
    commit_id: CommitId
    dataset_id: Id
    project: Slug
    pinned: bool
    by: str
    generation: int | None = None


@EVENTS.register
class VolumeReported(EventData):
    """A volume's capacity, usage and eviction policy, as its cacher sees them now: sent when a
    volume is registered and after every fill and eviction on it, and periodically. A report of a
    volume that was withdrawn (``cache.volume.withdrawn``) says it is usable again.

    ``capacity_bytes`` is the configured capacity, else the filesystem's size; ``used_bytes`` is
    what the volume's filesystem holds (other data of a shared filesystem included).
    ``cached_bytes`` is what LakeCache holds there (its content pool, each content once), which a
    configured capacity bounds (``capacity_configured``): the evictor's watermarks then compare it,
    not ``used_bytes``, with the capacity. The three are null in reports from before they were sent.
    """

    event_type = "lakecache.cache.volume.reported"

    site: Slug
    volume: Slug
    capacity_bytes: NonNegative
    used_bytes: NonNegative
    ttl_seconds: int | None = Field(default=None, gt=0)
    high_watermark: float | None = Field(default=None, gt=0, le=1)
    low_watermark: float | None = Field(default=None, ge=0, lt=1)
    cached_bytes: NonNegative | None = None
    capacity_configured: bool | None = None
    #: The filesystem's free space for unprivileged writers: fills are bounded by it too.
    filesystem_free_bytes: NonNegative | None = None

    def counted_bytes(self) -> int:
        """The usage ``capacity_bytes`` bounds: LakeCache's bytes under a configured capacity,
        else (and in reports from before ``cached_bytes``) what the filesystem holds."""
        if self.capacity_configured and self.cached_bytes is not None:
            return self.cached_bytes
        return self.used_bytes


@EVENTS.register
class VolumeWithdrawn(EventData):
    """The cacher no longer uses this volume: it refused it at start (``reason``: which volume rule
    it breaks now). Nothing is filled there, and evicting a copy recorded there deletes nothing on
    disk, so consumers stop deciding about it and stop offering it. Sent instead of
    ``cache.volume.reported`` (at start, then periodically) until the volume is usable again,
    which its next ``cache.volume.reported`` says."""

    event_type = "lakecache.cache.volume.withdrawn"

    site: Slug
    volume: Slug
    reason: str = Field(min_length=1)


@EVENTS.register
class CacheReadsObserved(EventData):
    """The cacher saw a project's ready copy being read on its volume: access times of the view's
    directories, or of files whose content only this copy holds, moved since it last looked
    (``docs/cacher.md``, "Reads seen on the volume"). It samples every
    ``cacher.read_sampling_seconds``, so it sees jobs that read the view path without the SDK;
    the evictor counts the copy as used at ``read_at``. ``read_at`` is the latest access time it
    found (never later than when it looked); the counts say what moved."""

    event_type = "lakecache.cache.reads.observed"

    site: Slug
    volume: Slug
    project: Slug
    dataset_id: Id
    commit_id: CommitId
    read_at: datetime
    directories_read: NonNegative = 0
    files_read: NonNegative = 0
