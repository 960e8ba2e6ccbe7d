"""What may be evicted and after how long: protection, pacing and the effective TTL.

Shared by the deciding code and by ``explain`` so that an explanation can never disagree with
what the policy does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from lakecache.core.vocabulary.eviction import MAX_TTL_SECONDS
from lakecache.evictor.policy.settings import PolicySettings
from lakecache.evictor.policy.state import CopyState, SiteState, VolumeState
from lakecache.evictor.policy.wording import duration, when


def effective_ttl(state: SiteState, volume: VolumeState, copy: CopyState,
                  settings: PolicySettings) -> tuple[int, str]:
    """The idle TTL and where it comes from: commit override (for every project's copy of the
    commit), dataset override (a dataset id: one project's dataset), volume, default."""
    override = state.commit_ttls.get(copy.commit_id)
    if override is not None and override.ttl_seconds is not None:
        return override.ttl_seconds, "commit"
    override = state.dataset_ttls.get(copy.dataset_id) if copy.dataset_id else None
    if override is not None and override.ttl_seconds is not None:
        return override.ttl_seconds, "dataset"
    if volume.ttl_seconds is not None:
        # The cacher reports whatever positive TTL a volume was given; past the maximum it means
        # "never" all the same, and a far bigger one would overflow the date arithmetic.
        return min(volume.ttl_seconds, MAX_TTL_SECONDS), "volume"
    return settings.default_ttl_seconds, "default"


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a copy may not be decided now: ``kind`` for counting, ``why`` for people."""

    kind: Literal["not-ready", "evicted", "withdrawn", "pinned", "leased", "pending", "refused"]
    why: str


def hold(volume: VolumeState, copy: CopyState, now: datetime, settings: PolicySettings, *,
         after_refusal: bool = True) -> Hold | None:
    """What keeps ``copy`` (on ``volume``) from being decided at ``now``; None when nothing does.

    A copy on a withdrawn volume is held until the volume is reported again: the cacher would
    mark it evicted while its files stay on disk. A pending decision holds the copy until it is
    answered or ``redecide_after_seconds`` pass (a lost command must not protect it forever); a
    refused one holds it as long, so that a refusal the policy cannot see the cause of (a lease
    event still on its way) does not turn into a decision per tick. A manual request passes
    ``after_refusal=False``: someone asked.
    """
    if copy.status == "evicted":
        return Hold("evicted", f"it was evicted at {when(copy.evicted_at)}")
    if copy.status != "ready":
        return Hold("not-ready", "no cache.ready has been seen for it")
    if volume.withdrawn is not None:
        return Hold("withdrawn", f"its volume is withdrawn: {volume.withdrawn}")
    if copy.pinned:
        return Hold("pinned", "an operator pinned it")
    live = copy.live_leases(now)
    if live:
        holders = ", ".join(f"{lease.holder or lease_id} until {when(lease.expires_at)}"
                            for lease_id, lease in sorted(live.items()))
        return Hold("leased", f"a job holds a lease on it ({holders})")
    record = copy.current_decision()
    wait = timedelta(seconds=settings.redecide_after_seconds)
    if record is not None and record.outcome == "pending" and now - record.decided_at < wait:
        return Hold("pending", f"decision {record.decision_id} ({record.reason}) is waiting for the cacher since "
                               f"{when(record.decided_at)}")
    if after_refusal and record is not None and record.outcome == "refused" and record.answered_at is not None \
            and now - record.answered_at < wait:
        return Hold("refused", f"the cacher refused decision {record.decision_id} ({record.answer}); it may be "
                               f"decided again after {when(record.answered_at + wait)}")
    return None


def basis(copy: CopyState) -> str:
    """What a decision about ``copy`` rests on; a dry-run decision is repeated only when it moves
    (a read, a lease, a pin change, a new generation or incarnation)."""
    return "|".join(str(part) for part in (when(copy.ready_at), copy.generation, when(copy.last_use()),
                                           when(copy.pin_changed_at)))


def committed(copy: CopyState, now: datetime, settings: PolicySettings) -> bool:
    """Whether ``copy`` already counts as going: a pending decision within its wait, or in dry-run
    a dry-run decision on an unchanged basis (as if the cacher had carried it out)."""
    record = copy.current_decision()
    if record is None:
        return False
    if record.outcome == "pending":
        return now - record.decided_at < timedelta(seconds=settings.redecide_after_seconds)
    return settings.dry_run and record.outcome == "dry-run" and record.basis == basis(copy)


def by_last_use(volume: VolumeState) -> list[CopyState]:
    """Ready copies, least recently used first (commit id, then project, break ties, for determinism)."""
    ready = [copy for copy in volume.copies.values() if copy.status == "ready"]
    return sorted(ready, key=lambda copy: (copy.last_use(), copy.commit_id, copy.project))


def idle_for(copy: CopyState, now: datetime) -> timedelta:
    last = copy.last_use()
    return timedelta(0) if last is None else now - last


def idle_text(copy: CopyState, now: datetime) -> str:
    return f"idle for {duration(idle_for(copy, now))} (last use {when(copy.last_use())})"
