"""The evictor's memory of one site: volumes, copies, leases, pins, TTL overrides, decisions.

It lives in a Faust table keyed by site and is rebuilt from the table's changelog, so it is
plain data that round-trips exactly through JSON (``to_dict``/``from_dict``) and holds no
clock: every time in it came from a fact. Copies are remembered across incarnations
(``ready → evicted → ready``) because the cacher keeps pins, leases and the generation on the
same copy document across them.

A copy is one project's copy of a commit on a volume: ``VolumeState.copies`` is keyed by
``copy_key(project, commit_id)``, ``"<project>/<commit id>"`` (JSON object keys must be strings,
and neither part can hold a ``/``: projects are slugs, commit ids hex). States saved before copies
were per project keyed copies by commit id alone; ``SiteState.from_dict`` re-keys them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import TypeAdapter

from lakecache.core.contracts.cache import EvictionReason
from lakecache.evictor.policy.settings import PolicySettings

#: ``unseen``: known only from leases, reads or pins that overtook ``cache.ready`` (usage and
#: cache facts travel on different topics, so their relative order is not guaranteed).
CopyStatus = Literal["unseen", "ready", "evicted"]
DecisionOutcome = Literal["pending", "evicted", "refused", "dry-run"]


def latest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def newest_generation(current: int | None, seen: int | None) -> int | None:
    # Generations only grow on the cacher's copy document; facts may arrive late or twice.
    return seen if current is None else current if seen is None else max(current, seen)


@dataclass(slots=True)
class LeaseRecord:
    """``expires_at`` is None for a release seen without its lease (forgotten long ago, or its
    acquisition still on the way): it says nothing about use, but stays final."""

    expires_at: datetime | None
    holder: str | None = None
    released_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.released_at is None and self.expires_at is not None and self.expires_at > now

    def end(self) -> datetime | None:
        """When the lease stopped (or will stop) counting as use of the copy: its expiry, or its
        release if earlier (a job that releases late was no longer protected after expiry)."""
        if self.expires_at is None or self.released_at is None:
            return self.expires_at
        return min(self.expires_at, self.released_at)

    def last_news(self) -> datetime:
        """The latest time this lease mattered, to know when it may be forgotten."""
        return max(t for t in (self.end(), self.released_at) if t is not None)  # one of them is always known


@dataclass(slots=True)
class DecisionRecord:
    """The last decision about a copy and what became of it, for ``explain`` and for pacing."""

    decision_id: str
    reason: EvictionReason
    ready_at: datetime  # the incarnation it was about
    decided_at: datetime
    generation: int | None
    estimate_bytes: int
    dry_run: bool
    basis: str  # what a dry-run decision saw; it is not repeated while this stays the same
    explanation: str
    outcome: DecisionOutcome
    answered_at: datetime | None = None
    answer: str = ""


def copy_key(project: str, commit_id: str) -> str:
    """The key of ``project``'s copy of ``commit_id`` among a volume's copies."""
    return f"{project}/{commit_id}"


@dataclass(slots=True)
class CopyState:
    project: str
    commit_id: str
    status: CopyStatus = "unseen"
    dataset_id: str | None = None
    size_bytes: int = 0
    bytes_fetched: int = 0
    generation: int | None = None
    ready_at: datetime | None = None
    last_read: datetime | None = None
    leases: dict[str, LeaseRecord] = field(default_factory=dict)
    lease_ended_at: datetime | None = None  # the latest end among leases already forgotten
    pinned: bool = False
    pin_changed_at: datetime | None = None
    pin_generation: int | None = None
    attempts: int = 0  # decisions made about the current incarnation
    decision: DecisionRecord | None = None
    manual_at: datetime | None = None  # the latest manual request handled
    evicted_at: datetime | None = None
    evicted_by: str | None = None
    bytes_freed: int | None = None

    def live_leases(self, now: datetime) -> dict[str, LeaseRecord]:
        return {lease_id: lease for lease_id, lease in self.leases.items() if lease.live(now)}

    def last_use(self) -> datetime | None:
        """Idle time starts here: the latest of ready, last read and the end of the last lease
        (in the future while a lease is live)."""
        ends = (lease.end() for lease in self.leases.values())
        return latest(self.ready_at, self.last_read, self.lease_ended_at, *ends)

    def current_decision(self) -> DecisionRecord | None:
        """The last decision if it concerns the copy as it is now (ready, same incarnation)."""
        if self.status != "ready" or self.decision is None or self.decision.ready_at != self.ready_at:
            return None
        return self.decision

    def estimate_bytes(self) -> int:
        # Content shared with other copies stays; what this fill added is the best guess of
        # what removing it frees. At least 1 so that every decision counts as progress.
        return max(1, self.bytes_fetched)


@dataclass(slots=True)
class UsageChange:
    at: datetime
    delta_bytes: int


@dataclass(slots=True)
class VolumeState:
    name: str
    capacity_bytes: int | None = None
    reported_used_bytes: int = 0  # plus changes older than forget_after_seconds if no report came since
    reported_at: datetime | None = None
    ttl_seconds: int | None = None
    high_watermark: float | None = None
    low_watermark: float | None = None
    reclaiming: bool = False
    # Why the cacher withdrew the volume (None: usable) and when: nothing is decided there until a
    # newer report. Defaults, like every field, so that a state saved before the field loads.
    withdrawn: str | None = None
    withdrawn_at: datetime | None = None
    changes: list[UsageChange] = field(default_factory=list)  # fills and evictions after the report
    space_requests: dict[str, datetime] = field(default_factory=dict)
    copies: dict[str, CopyState] = field(default_factory=dict)

    def copy(self, project: str, commit_id: str) -> CopyState:
        """``project``'s copy of ``commit_id`` on this volume, recorded (``unseen``) if new."""
        key = copy_key(project, commit_id)
        found = self.copies.get(key)
        if found is None:
            found = self.copies[key] = CopyState(project, commit_id)
        return found

    def record_usage(self, at: datetime, delta_bytes: int) -> None:
        # A fill or eviction at or before the last report is already counted in it.
        if self.reported_at is None or at > self.reported_at:
            self.changes.append(UsageChange(at, delta_bytes))

    def used_bytes(self) -> int:
        return max(0, self.reported_used_bytes + sum(change.delta_bytes for change in self.changes))

    def watermarks(self, settings: PolicySettings) -> tuple[float, float]:
        high = settings.high_watermark if self.high_watermark is None else self.high_watermark
        low = settings.low_watermark if self.low_watermark is None else self.low_watermark
        return high, min(low, high)  # a low mark above the high one would never let reclaiming end


@dataclass(slots=True)
class TtlOverride:
    ttl_seconds: int | None  # None: cleared, kept so that an older override replayed later stays cleared
    at: datetime


@dataclass(slots=True)
class SiteState:
    site: str
    clock: datetime | None = None  # the latest Tick: the policy's only notion of now
    volumes: dict[str, VolumeState] = field(default_factory=dict)
    commit_ttls: dict[str, TtlOverride] = field(default_factory=dict)
    dataset_ttls: dict[str, TtlOverride] = field(default_factory=dict)

    def volume(self, name: str) -> VolumeState:
        found = self.volumes.get(name)
        if found is None:
            found = self.volumes[name] = VolumeState(name)
        return found

    def find(self, volume: str, project: str, commit_id: str) -> CopyState | None:
        found = self.volumes.get(volume)
        return None if found is None else found.copies.get(copy_key(project, commit_id))

    def now(self, fallback: datetime) -> datetime:
        """Decisions between ticks use the last tick's time (so a lease that just expired still
        protects until the next tick); before the first tick, the fact's own time."""
        return fallback if self.clock is None else self.clock

    def forget(self, now: datetime, settings: PolicySettings) -> None:
        """Drop what can no longer change a decision, so the state does not grow without bound.

        Everything that ended more than ``forget_after_seconds`` ago goes: leases (leaving only
        their end, for idle time), evicted copies and copies never seen ready, answered space
        requests, cleared overrides. Until then they stay, so that a redelivered fact about them
        is recognised. Pinned or leased copies stay: a pin and a lease outlive evictions on the
        cacher's copy document.
        """
        horizon = now - timedelta(seconds=settings.forget_after_seconds)
        for volume in self.volumes.values():
            for copy in volume.copies.values():
                over = [lease_id for lease_id, lease in copy.leases.items() if lease.last_news() <= horizon]
                if over:
                    copy.lease_ended_at = latest(copy.lease_ended_at, *(copy.leases[i].end() for i in over))
                    for lease_id in over:
                        del copy.leases[lease_id]
            volume.copies = {key: copy for key, copy in volume.copies.items() if not _forgettable(copy, horizon)}
            if any(change.at <= horizon for change in volume.changes):  # no report for that long: fold them in
                volume.reported_used_bytes += sum(c.delta_bytes for c in volume.changes if c.at <= horizon)
                volume.changes = [change for change in volume.changes if change.at > horizon]
            volume.space_requests = {rid: at for rid, at in volume.space_requests.items() if at > horizon}
        for table in (self.commit_ttls, self.dataset_ttls):
            for target in [t for t, o in table.items() if o.ttl_seconds is None and o.at <= horizon]:
                del table[target]

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible (datetimes as ISO 8601 strings); ``from_dict`` restores it exactly."""
        return _ADAPTER.dump_python(self, mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SiteState:
        """The state ``to_dict`` gave, or one saved before copies were per project (re-keyed)."""
        return _ADAPTER.validate_python(_per_project(data))


def _per_project(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every volume's copies keyed by ``copy_key``.

    Before copies were per project they were keyed by commit id. A copy seen ready knows its
    project and is re-keyed; one known only from leases, reads or pins that overtook its
    ``cache.ready`` cannot be told from another project's copy, so it is dropped: its
    ``cache.ready`` is still to come and records it again (a lease it loses here is still
    enforced by the cacher's compare-and-swap, which refuses to evict a leased copy).
    """
    volumes = data.get("volumes")
    if not isinstance(volumes, dict) or all("/" in key for v in volumes.values() for key in v.get("copies", {})):
        return data
    upgraded = {**data, "volumes": {}}
    for name, volume in volumes.items():
        copies = {}
        for key, copy in volume.get("copies", {}).items():
            if "/" in key:
                copies[key] = copy
            elif copy.get("project"):
                copies[copy_key(copy["project"], copy["commit_id"])] = copy
        upgraded["volumes"][name] = {**volume, "copies": copies}
    return upgraded


def _forgettable(copy: CopyState, horizon: datetime) -> bool:
    if copy.status == "ready" or copy.pinned or copy.leases:
        return False
    last = latest(copy.evicted_at, copy.last_use(), copy.pin_changed_at, copy.manual_at)
    return last is None or last <= horizon


# pydantic already knows how to dump and validate nested dataclasses with datetimes; a
# hand-written codec would repeat every field twice.
_ADAPTER = TypeAdapter(SiteState)
