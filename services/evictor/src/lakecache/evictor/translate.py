"""Events to policy facts, and policy outcomes to events: the only place the two vocabularies meet.

Facts are stamped with the event's CloudEvents ``time`` (when the producer saw it happen),
never with the evictor's clock, so replaying a topic gives the same state and decisions.

A copy is one project's copy of a commit, so a fact about a copy needs the event's ``project``.
Events written before copies were per project may lack it (``project`` None): they cannot say
whose copy they mean, so they are ignored — a warning per event type, once per process, says so.
A TTL change above ``MAX_TTL_SECONDS`` (accepted before the limit existed) is ignored the same way.
"""

from __future__ import annotations

import logging

from lakecache.core.contracts import Event, EventData
from lakecache.core.contracts.cache import (
    CacheEvicted,
    CacheEvictionRefused,
    CacheEvictionRequested,
    CachePinChanged,
    CacheReadsObserved,
    CacheReady,
    CacheSpaceRequested,
    VolumeReported,
    VolumeWithdrawn,
)
from lakecache.core.contracts.eviction import EvictionBlocked, EvictionTtlChanged, ManualEvictionRequested
from lakecache.core.contracts.usage import DatasetRead, LeaseAcquired, LeaseReleased, LeaseRenewed
from lakecache.core.vocabulary.eviction import MAX_TTL_SECONDS
from lakecache.evictor import policy

log = logging.getLogger(__name__)

#: The event types the evictor consumes (everything else on its topics is skipped).
CONSUMED: tuple[type[EventData], ...] = (
    CacheReady, CacheEvicted, CacheEvictionRefused, CachePinChanged, VolumeReported, VolumeWithdrawn,
    CacheSpaceRequested, LeaseAcquired, LeaseRenewed, LeaseReleased, DatasetRead, CacheReadsObserved,
    EvictionTtlChanged, ManualEvictionRequested,
)

#: Event types already warned about (one warning each per process: a backlog of old events
#: must not flood the log).
_warned: set[str] = set()


def _ignored(event: Event[EventData], why: str) -> None:
    if event.type not in _warned:
        _warned.add(event.type)
        log.warning("ignoring %s %s: %s; further %s events like it are ignored without a warning", event.type,
                    event.id, why, event.type)


def fact_of(event: Event[EventData]) -> policy.Fact | None:
    """The policy fact an event states, or None for events the policy does not use."""
    data, at = event.data, event.time
    if isinstance(data, CacheEvicted | CacheEvictionRefused | LeaseRenewed | LeaseReleased | ManualEvictionRequested) \
            and data.project is None:
        _ignored(event, "it names no project (written before copies were per project), so it cannot say whose "
                        "copy it is about")
        return None
    match data:
        case CacheReady():
            return policy.CopyReady(site=data.site, volume=data.volume, project=data.project, commit_id=data.commit_id,
                                    dataset_id=data.dataset_id, size_bytes=data.size_bytes,
                                    bytes_fetched=data.bytes_fetched, generation=data.generation, at=at)
        case CacheEvicted():
            return policy.CopyEvicted(site=data.site, volume=data.volume, project=data.project,
                                      commit_id=data.commit_id, decision_id=data.decision_id,
                                      bytes_freed=data.bytes_freed, at=at)
        case CacheEvictionRefused():
            return policy.EvictionRefused(site=data.site, volume=data.volume, project=data.project,
                                          commit_id=data.commit_id, decision_id=data.decision_id, reason=data.reason,
                                          at=at)
        case CachePinChanged():
            return policy.PinChanged(site=data.site, volume=data.volume, project=data.project,
                                     commit_id=data.commit_id, pinned=data.pinned, generation=data.generation, at=at)
        case VolumeReported():
            # The usage the capacity bounds: LakeCache's own bytes when a capacity is configured
            # (the filesystem may be shared with other data), else what the filesystem holds.
            return policy.VolumeReported(site=data.site, volume=data.volume, capacity_bytes=data.capacity_bytes,
                                         used_bytes=data.counted_bytes(), ttl_seconds=data.ttl_seconds,
                                         high_watermark=data.high_watermark, low_watermark=data.low_watermark,
                                         at=at)
        case VolumeWithdrawn():
            return policy.VolumeWithdrawn(site=data.site, volume=data.volume, reason=data.reason, at=at)
        case CacheSpaceRequested() if data.quota_bytes is not None and data.project is not None:
            # Room under one project's quota: a request of its own (a fill may also ask for room
            # under the capacity), answered from that project's copies only.
            return policy.SpaceNeeded(site=data.site, volume=data.volume, bytes_needed=data.bytes_needed,
                                      request_id=f"{data.fill_id}/quota", at=at, project=data.project)
        case CacheSpaceRequested():  # about the volume, whichever project's fill needs the room
            return policy.SpaceNeeded(site=data.site, volume=data.volume, bytes_needed=data.bytes_needed,
                                      request_id=data.fill_id, at=at)
        case LeaseAcquired():
            return policy.LeaseAcquired(site=data.site, volume=data.volume, project=data.project,
                                        commit_id=data.commit_id, lease_id=data.lease_id, expires_at=data.expires_at,
                                        generation=data.generation, at=at, holder=data.holder)
        case LeaseRenewed():
            return policy.LeaseRenewed(site=data.site, volume=data.volume, project=data.project,
                                       commit_id=data.commit_id, lease_id=data.lease_id, expires_at=data.expires_at,
                                       generation=data.generation, at=at)
        case LeaseReleased():
            return policy.LeaseReleased(site=data.site, volume=data.volume, project=data.project,
                                        commit_id=data.commit_id, lease_id=data.lease_id, generation=data.generation,
                                        at=at)
        case DatasetRead():
            return policy.CopyRead(site=data.site, volume=data.volume, project=data.project, commit_id=data.commit_id,
                                   at=at)
        case CacheReadsObserved():
            # One concept, two witnesses: the SDK's report and the cacher's look at the volume are
            # both a read of the copy. The access time is when it happened; a time after the event
            # (a clock ahead) would keep the copy from expiring, so the event's time bounds it.
            return policy.CopyRead(site=data.site, volume=data.volume, project=data.project, commit_id=data.commit_id,
                                   at=min(data.read_at, at))
        case EvictionTtlChanged():
            if data.ttl_seconds is not None and data.ttl_seconds > MAX_TTL_SECONDS:
                _ignored(event, f"its TTL of {data.ttl_seconds} seconds for {data.scope} {data.target} is above the "
                                f"maximum of {MAX_TTL_SECONDS}")
                return None
            return policy.TtlChanged(site=data.site, scope=data.scope, target=data.target,
                                     ttl_seconds=data.ttl_seconds, at=at)
        case ManualEvictionRequested():
            return policy.EvictRequested(site=data.site, volume=data.volume, project=data.project,
                                         commit_id=data.commit_id, requested_by=data.requested_by, at=at)
    return None


def event_of(outcome: policy.Outcome) -> EventData | None:
    """What an outcome announces: a command to the cacher, or a report that space cannot be freed."""
    match outcome:
        case policy.Decision():
            return CacheEvictionRequested(
                decision_id=outcome.decision_id, site=outcome.site, volume=outcome.volume, project=outcome.project,
                commit_id=outcome.commit_id, dataset_id=outcome.dataset_id, reason=outcome.reason,
                generation=outcome.generation, dry_run=outcome.dry_run, explanation=outcome.explanation)
        case policy.NothingEligible():
            return EvictionBlocked(site=outcome.site, volume=outcome.volume, bytes_wanted=outcome.bytes_wanted,
                                   explanation=outcome.explanation)
    # A declined manual request is logged; the copy's explanation shows what holds it (lease, pin).
    return None
