"""Events to policy facts, and policy outcomes to events: the only place the two vocabularies meet.

Facts are stamped with the event's CloudEvents ``time`` (when the producer saw it happen),
never with the evictor's clock, so replaying a topic gives the same state and decisions.
"""

from __future__ import annotations

from lakecache.core.contracts import Event, EventData
from lakecache.core.contracts.cache import (
    CacheEvicted,
    CacheEvictionRefused,
    CacheEvictionRequested,
    CachePinChanged,
    CacheReady,
    CacheSpaceRequested,
    VolumeReported,
)
from lakecache.core.contracts.eviction import EvictionBlocked, EvictionTtlChanged, ManualEvictionRequested
from lakecache.core.contracts.usage import DatasetRead, LeaseAcquired, LeaseReleased, LeaseRenewed
from lakecache.evictor import policy

#: The event types the evictor consumes (everything else on its topics is skipped).
CONSUMED: tuple[type[EventData], ...] = (
    CacheReady, CacheEvicted, CacheEvictionRefused, CachePinChanged, VolumeReported, CacheSpaceRequested,
    LeaseAcquired, LeaseRenewed, LeaseReleased, DatasetRead, EvictionTtlChanged, ManualEvictionRequested,
)


def fact_of(event: Event[EventData]) -> policy.Fact | None:
    """The policy fact an event states, or None for events the policy does not use."""
    data, at = event.data, event.time
    match data:
        case CacheReady():
            return policy.CopyReady(site=data.site, volume=data.volume, commit_id=data.commit_id,
                                    dataset_id=data.dataset_id, project=data.project, size_bytes=data.size_bytes,
                                    bytes_fetched=data.bytes_fetched, generation=data.generation, at=at)
        case CacheEvicted():
            return policy.CopyEvicted(site=data.site, volume=data.volume, commit_id=data.commit_id,
                                      decision_id=data.decision_id, bytes_freed=data.bytes_freed, at=at)
        case CacheEvictionRefused():
            return policy.EvictionRefused(site=data.site, volume=data.volume, commit_id=data.commit_id,
                                          decision_id=data.decision_id, reason=data.reason, at=at)
        case CachePinChanged():
            return policy.PinChanged(site=data.site, volume=data.volume, commit_id=data.commit_id,
                                     pinned=data.pinned, generation=data.generation, at=at)
        case VolumeReported():
            return policy.VolumeReported(site=data.site, volume=data.volume, capacity_bytes=data.capacity_bytes,
                                         used_bytes=data.used_bytes, ttl_seconds=data.ttl_seconds,
                                         high_watermark=data.high_watermark, low_watermark=data.low_watermark,
                                         at=at)
        case CacheSpaceRequested():
            return policy.SpaceNeeded(site=data.site, volume=data.volume, bytes_needed=data.bytes_needed,
                                      request_id=data.fill_id, at=at)
        case LeaseAcquired():
            return policy.LeaseAcquired(site=data.site, volume=data.volume, commit_id=data.commit_id,
                                        lease_id=data.lease_id, expires_at=data.expires_at,
                                        generation=data.generation, at=at, holder=data.holder)
        case LeaseRenewed():
            return policy.LeaseRenewed(site=data.site, volume=data.volume, commit_id=data.commit_id,
                                       lease_id=data.lease_id, expires_at=data.expires_at,
                                       generation=data.generation, at=at)
        case LeaseReleased():
            return policy.LeaseReleased(site=data.site, volume=data.volume, commit_id=data.commit_id,
                                        lease_id=data.lease_id, generation=data.generation, at=at)
        case DatasetRead():
            return policy.CopyRead(site=data.site, volume=data.volume, commit_id=data.commit_id, at=at)
        case EvictionTtlChanged():
            return policy.TtlChanged(site=data.site, scope=data.scope, target=data.target,
                                     ttl_seconds=data.ttl_seconds, at=at)
        case ManualEvictionRequested():
            return policy.EvictRequested(site=data.site, volume=data.volume, commit_id=data.commit_id,
                                         requested_by=data.requested_by, at=at)
    return None


def event_of(outcome: policy.Outcome) -> EventData | None:
    """What an outcome announces: a command to the cacher, or a report that space cannot be freed."""
    match outcome:
        case policy.Decision():
            return CacheEvictionRequested(
                decision_id=outcome.decision_id, site=outcome.site, volume=outcome.volume,
                commit_id=outcome.commit_id, dataset_id=outcome.dataset_id, reason=outcome.reason,
                generation=outcome.generation, dry_run=outcome.dry_run, explanation=outcome.explanation)
        case policy.NothingEligible():
            return EvictionBlocked(site=outcome.site, volume=outcome.volume, bytes_wanted=outcome.bytes_wanted,
                                   explanation=outcome.explanation)
    # A declined manual request is logged; the copy's explanation shows what holds it (lease, pin).
    return None
