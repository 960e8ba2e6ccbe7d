"""Applying one fact to a site's state: the policy's single entry point.

Delivery is at least once and the usage and cache topics are not ordered with respect to each
other, so every handler is idempotent and tolerates facts that arrive late, twice, or before
the copy they are about:

* lifecycle facts of a copy (ready, evicted) are ordered by their times, which the cacher
  stamps: an eviction older than the copy's ready time, or a ready older than its eviction,
  belongs to an earlier incarnation and is ignored; a ready for a copy already ready is the
  announcement to another waiting request and changes nothing;
* leases, reads and pins about a copy not yet seen ready are remembered on an ``unseen``
  record (the ``cache.ready`` may still be on its way) and apply once it arrives;
* a lease's expiry only grows and a release is final; pins, TTL overrides and volume reports
  apply only when newer than the one already applied; of a volume's reports and withdrawals
  the newest says whether it is usable (a withdrawal holds every copy on it);
* space requests and manual requests are answered once per request (a manual request for a
  copy never seen is declined each time: nothing is recorded for it).

Every fact about a copy names its project, and only that project's copy of the commit is
touched: another project's lease, pin, read or eviction request never reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakecache.evictor.policy.choose import evict_manually, expire, make_room, reclaim, unknown_copy
from lakecache.evictor.policy.facts import (
    CopyEvicted,
    CopyRead,
    CopyReady,
    EvictionRefused,
    EvictRequested,
    Fact,
    LeaseAcquired,
    LeaseReleased,
    LeaseRenewed,
    PinChanged,
    SpaceNeeded,
    Tick,
    TtlChanged,
    VolumeReported,
    VolumeWithdrawn,
)
from lakecache.evictor.policy.outcomes import Outcome
from lakecache.evictor.policy.settings import PolicySettings
from lakecache.evictor.policy.state import LeaseRecord, SiteState, TtlOverride, copy_key, latest, newest_generation

_DEFAULTS = PolicySettings()


def apply(state: SiteState, fact: Fact, settings: PolicySettings = _DEFAULTS) -> list[Outcome]:
    """Fold ``fact`` into ``state`` (in place) and return the decisions it causes, in order.

    Deterministic: the same state and fact give the same state and outcomes. Only ``Tick``
    moves the policy's clock; idle TTLs are checked on ticks, watermarks on ticks and volume
    reports, space and manual requests when they arrive.
    """
    if fact.site != state.site:
        raise ValueError(f"a {type(fact).__name__} about site {fact.site!r} was applied to the state of site "
                         f"{state.site!r}; keep one state per site and route facts by their site")
    handler = _HANDLERS.get(type(fact))
    if handler is None:
        raise TypeError(f"{type(fact).__name__} is not a policy fact; expected one of "
                        f"{', '.join(sorted(t.__name__ for t in _HANDLERS))}")
    return handler(state, fact, settings)


def _volume_reported(state: SiteState, fact: VolumeReported, settings: PolicySettings) -> list[Outcome]:
    volume = state.volume(fact.volume)
    if volume.reported_at is not None and fact.at <= volume.reported_at:
        return []
    volume.capacity_bytes = fact.capacity_bytes
    volume.reported_used_bytes = fact.used_bytes
    volume.reported_at = fact.at
    volume.ttl_seconds = fact.ttl_seconds
    volume.high_watermark = fact.high_watermark
    volume.low_watermark = fact.low_watermark
    volume.changes = [change for change in volume.changes if change.at > fact.at]
    if volume.withdrawn_at is not None and fact.at > volume.withdrawn_at:
        volume.withdrawn = volume.withdrawn_at = None  # usable again: its copies may be decided
    return reclaim(state, volume, state.now(fact.at), settings)


def _volume_withdrawn(state: SiteState, fact: VolumeWithdrawn, settings: PolicySettings) -> list[Outcome]:
    volume = state.volume(fact.volume)
    if volume.withdrawn_at is not None and fact.at <= volume.withdrawn_at:
        return []  # a repeat, or older than the withdrawal in force
    if volume.reported_at is not None and fact.at <= volume.reported_at:
        return []  # a newer report says the volume is usable
    volume.withdrawn, volume.withdrawn_at = fact.reason, fact.at
    volume.reclaiming = False  # nothing is reclaimed there; a report starts afresh
    return []


def _copy_ready(state: SiteState, fact: CopyReady, settings: PolicySettings) -> list[Outcome]:
    volume = state.volume(fact.volume)
    copy = volume.copy(fact.project, fact.commit_id)
    copy.generation = newest_generation(copy.generation, fact.generation)
    if copy.status == "ready" or (copy.status == "evicted" and copy.evicted_at and fact.at <= copy.evicted_at):
        return []
    copy.status = "ready"
    copy.ready_at = fact.at
    copy.dataset_id = fact.dataset_id
    copy.size_bytes, copy.bytes_fetched = fact.size_bytes, fact.bytes_fetched
    copy.attempts = 0
    copy.evicted_at = copy.evicted_by = copy.bytes_freed = None
    volume.record_usage(fact.at, fact.bytes_fetched)
    return []


def _copy_evicted(state: SiteState, fact: CopyEvicted, settings: PolicySettings) -> list[Outcome]:
    volume = state.volume(fact.volume)
    copy = volume.copy(fact.project, fact.commit_id)
    if copy.status == "evicted" or (copy.status == "ready" and copy.ready_at and fact.at < copy.ready_at):
        return []
    record = copy.current_decision()
    if record is not None:
        record.outcome, record.answered_at = "evicted", fact.at
        record.answer = f"evicted by decision {fact.decision_id}, {fact.bytes_freed} bytes freed"
    copy.status = "evicted"
    copy.evicted_at, copy.evicted_by, copy.bytes_freed = fact.at, fact.decision_id, fact.bytes_freed
    volume.record_usage(fact.at, -fact.bytes_freed)
    return []


def _eviction_refused(state: SiteState, fact: EvictionRefused, settings: PolicySettings) -> list[Outcome]:
    copy = state.find(fact.volume, fact.project, fact.commit_id)
    record = copy.current_decision() if copy else None
    if record is None or record.decision_id != fact.decision_id or record.outcome != "pending":
        return []  # a repeat, or the answer to a decision already superseded
    record.outcome, record.answered_at, record.answer = "refused", state.now(fact.at), fact.reason
    return []


def _lease_seen(state: SiteState, fact: LeaseAcquired | LeaseRenewed, settings: PolicySettings) -> list[Outcome]:
    copy = state.volume(fact.volume).copy(fact.project, fact.commit_id)
    copy.generation = newest_generation(copy.generation, fact.generation)
    holder = getattr(fact, "holder", None)
    lease = copy.leases.get(fact.lease_id)
    if lease is None:
        copy.leases[fact.lease_id] = LeaseRecord(expires_at=fact.expires_at, holder=holder)
    else:  # as the cacher's lease_until, an expiry never shrinks
        lease.expires_at = fact.expires_at if lease.expires_at is None else max(lease.expires_at, fact.expires_at)
        lease.holder = lease.holder or holder
    return []


def _lease_released(state: SiteState, fact: LeaseReleased, settings: PolicySettings) -> list[Outcome]:
    copy = state.volume(fact.volume).copy(fact.project, fact.commit_id)
    copy.generation = newest_generation(copy.generation, fact.generation)
    lease = copy.leases.get(fact.lease_id)
    if lease is None:
        # Remembered as released, so that its acquisition arriving later cannot make it live;
        # without its expiry it does not count as use (it may have ended long before).
        copy.leases[fact.lease_id] = LeaseRecord(expires_at=None, released_at=fact.at)
    elif lease.released_at is None:
        lease.released_at = fact.at
    return []


def _copy_read(state: SiteState, fact: CopyRead, settings: PolicySettings) -> list[Outcome]:
    if fact.volume is not None:
        targets = [state.volume(fact.volume).copy(fact.project, fact.commit_id)]
    else:
        key = copy_key(fact.project, fact.commit_id)
        known = [volume.copies[key] for _, volume in sorted(state.volumes.items()) if key in volume.copies]
        targets = [copy for copy in known if copy.status == "ready"] or known  # none known: nothing to credit
    for copy in targets:
        copy.last_read = latest(copy.last_read, fact.at)
    return []


def _pin_changed(state: SiteState, fact: PinChanged, settings: PolicySettings) -> list[Outcome]:
    copy = state.volume(fact.volume).copy(fact.project, fact.commit_id)
    copy.generation = newest_generation(copy.generation, fact.generation)
    order = (fact.at, -1 if fact.generation is None else fact.generation)
    if copy.pin_changed_at is not None and \
            order <= (copy.pin_changed_at, -1 if copy.pin_generation is None else copy.pin_generation):
        return []
    copy.pinned, copy.pin_changed_at, copy.pin_generation = fact.pinned, fact.at, fact.generation
    return []


def _ttl_changed(state: SiteState, fact: TtlChanged, settings: PolicySettings) -> list[Outcome]:
    table = state.commit_ttls if fact.scope == "commit" else state.dataset_ttls
    current = table.get(fact.target)
    if current is None or fact.at > current.at:
        table[fact.target] = TtlOverride(ttl_seconds=fact.ttl_seconds, at=fact.at)
    return []


def _space_needed(state: SiteState, fact: SpaceNeeded, settings: PolicySettings) -> list[Outcome]:
    volume = state.volume(fact.volume)
    if fact.request_id in volume.space_requests:
        return []
    volume.space_requests[fact.request_id] = fact.at
    return make_room(state, volume, fact, state.now(fact.at), settings)


def _evict_requested(state: SiteState, fact: EvictRequested, settings: PolicySettings) -> list[Outcome]:
    volume = state.volumes.get(fact.volume)
    copy = state.find(fact.volume, fact.project, fact.commit_id)
    now = state.now(fact.at)
    if volume is None or copy is None:
        # Declined without remembering anything: a mistyped name must not leave a record behind.
        return [unknown_copy(state, fact, now)]
    if copy.manual_at is not None and fact.at <= copy.manual_at:
        return []
    copy.manual_at = fact.at
    return evict_manually(state, volume, copy, fact, now, settings)


def _tick(state: SiteState, fact: Tick, settings: PolicySettings) -> list[Outcome]:
    if state.clock is not None and fact.now <= state.clock:
        return []  # a repeated or late timer: that moment was already handled
    state.clock = now = fact.now
    state.forget(now, settings)
    outcomes: list[Outcome] = []
    for _, volume in sorted(state.volumes.items()):
        outcomes += expire(state, volume, now, settings)
        outcomes += reclaim(state, volume, now, settings)
    return outcomes


_HANDLERS: dict[type, Callable[[SiteState, Any, PolicySettings], list[Outcome]]] = {
    VolumeReported: _volume_reported,
    VolumeWithdrawn: _volume_withdrawn,
    CopyReady: _copy_ready,
    CopyEvicted: _copy_evicted,
    EvictionRefused: _eviction_refused,
    LeaseAcquired: _lease_seen,
    LeaseRenewed: _lease_seen,
    LeaseReleased: _lease_released,
    CopyRead: _copy_read,
    PinChanged: _pin_changed,
    TtlChanged: _ttl_changed,
    SpaceNeeded: _space_needed,
    EvictRequested: _evict_requested,
    Tick: _tick,
}
