"""Answers to "why is this copy kept?" and "why was it evicted?", as JSON-ready dicts.

``describe`` is also what a ``Decision`` carries in ``facts``, so the record of a decision and a
later question about it use the same words.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from lakecache.evictor.policy.rules import committed, effective_ttl, hold, idle_for
from lakecache.evictor.policy.settings import PolicySettings
from lakecache.evictor.policy.state import CopyState, DecisionRecord, SiteState, VolumeState
from lakecache.evictor.policy.wording import duration, percent, size, when


def watermark(volume: VolumeState, now: datetime, settings: PolicySettings) -> dict[str, Any]:
    high, low = volume.watermarks(settings)
    used, capacity = volume.used_bytes(), volume.capacity_bytes
    going = sum(c.decision.estimate_bytes for c in volume.copies.values()
                if committed(c, now, settings) and c.decision is not None)
    return {
        "capacity_bytes": capacity,
        "used_bytes": used,
        "reported_used_bytes": volume.reported_used_bytes,
        "reported_at": when(volume.reported_at),
        "pending_eviction_bytes": going,
        "fill_ratio": round(used / capacity, 6) if capacity else None,
        "high_watermark": high,
        "low_watermark": low,
        "reclaiming": volume.reclaiming,
    }


def watermark_text(volume: VolumeState, settings: PolicySettings) -> str:
    high, low = volume.watermarks(settings)
    used, capacity = volume.used_bytes(), volume.capacity_bytes
    if not capacity:
        return f"volume {volume.name} holds {size(used)} of an unreported capacity"
    return (f"volume {volume.name} holds {size(used)} of {size(capacity)} ({percent(used / capacity)}; "
            f"high watermark {percent(high)}, low {percent(low)})")


def describe(state: SiteState, volume: VolumeState, copy: CopyState, now: datetime,
             settings: PolicySettings) -> dict[str, Any]:
    """What a decision about ``copy`` at ``now`` rests on (JSON values)."""
    ttl, source = effective_ttl(state, volume, copy, settings)
    return {
        "ready_at": when(copy.ready_at),
        "last_read": when(copy.last_read),
        "last_use": when(copy.last_use()),
        "idle_seconds": idle_for(copy, now).total_seconds(),
        "leases": [{"lease_id": lease_id, "holder": lease.holder, "expires_at": when(lease.expires_at),
                    "released_at": when(lease.released_at), "live": lease.live(now)}
                   for lease_id, lease in sorted(copy.leases.items())],
        "pinned": copy.pinned,
        "generation": copy.generation,
        "ttl_seconds": ttl,
        "ttl_source": source,
        "size_bytes": copy.size_bytes,
        "bytes_fetched": copy.bytes_fetched,
        "volume": watermark(volume, now, settings),
    }


def explain(state: SiteState, volume: str, project: str, commit_id: str, now: datetime,
            settings: PolicySettings | None = None) -> dict[str, Any]:
    """Why ``project``'s copy of ``commit_id`` on ``volume`` is kept, due, being evicted or evicted,
    at ``now``. Nothing about another project's copy of the commit is part of the answer."""
    settings = settings or PolicySettings()
    where = {"site": state.site, "volume": volume, "project": project, "commit_id": commit_id, "now": when(now)}
    found_volume = state.volumes.get(volume)
    copy = state.find(volume, project, commit_id)
    if found_volume is None or copy is None:
        return {**where, "state": "unknown",
                "verdict": f"nothing is known about project {project}'s copy of commit {commit_id} on volume "
                           f"{volume} of site {state.site}: no cache.ready, lease, read or pin has been seen for it "
                           "(or it was forgotten)"}
    ttl, source = effective_ttl(state, found_volume, copy, settings)
    last_use = copy.last_use()
    expires_at = last_use + timedelta(seconds=ttl) if copy.status == "ready" and last_use else None
    return {
        **where,
        "state": _state(copy),
        "dataset_id": copy.dataset_id,
        "ready_at": when(copy.ready_at),
        "evicted_at": when(copy.evicted_at),
        "evicted_by": copy.evicted_by,
        "bytes_freed": copy.bytes_freed,
        "last_read": when(copy.last_read),
        "last_use": when(last_use),
        "idle_seconds": idle_for(copy, now).total_seconds() if copy.status == "ready" else None,
        "live_leases": [{"lease_id": lease_id, "holder": lease.holder, "expires_at": when(lease.expires_at)}
                        for lease_id, lease in sorted(copy.live_leases(now).items())],
        "pinned": copy.pinned,
        "generation": copy.generation,
        "ttl_seconds": ttl,
        "ttl_source": source,
        "ttl_expires_at": when(expires_at),
        "ttl_expires_in_seconds": (expires_at - now).total_seconds() if expires_at else None,
        "volume_state": watermark(found_volume, now, settings),
        "last_decision": _decision(copy.decision, settings) if copy.decision else None,
        "verdict": _verdict(found_volume, copy, now, settings, ttl, source),
    }


def _state(copy: CopyState) -> str:
    if copy.status == "unseen":
        return "not-ready"
    record = copy.current_decision()
    if record is not None and record.outcome == "pending":
        return "evicting-pending"
    return copy.status


def _decision(record: DecisionRecord, settings: PolicySettings) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "decision_id": record.decision_id, "reason": record.reason, "decided_at": when(record.decided_at),
        "about_copy_ready_at": when(record.ready_at),
        "dry_run": record.dry_run, "outcome": record.outcome, "answered_at": when(record.answered_at),
        "answer": record.answer, "generation": record.generation, "estimate_bytes": record.estimate_bytes,
        "explanation": record.explanation,
    }
    if record.outcome in ("pending", "refused"):
        since = record.decided_at if record.outcome == "pending" else record.answered_at or record.decided_at
        answer["may_redecide_at"] = when(since + timedelta(seconds=settings.redecide_after_seconds))
    return answer


def _verdict(volume: VolumeState, copy: CopyState, now: datetime, settings: PolicySettings,
             ttl: int, source: str) -> str:
    if copy.status == "evicted":
        record = copy.decision
        why = f": {record.explanation}" if record and record.outcome == "evicted" else ""
        return f"evicted at {when(copy.evicted_at)} by decision {copy.evicted_by}{why}"
    if copy.status == "unseen":
        return "not ready: leases, reads or pins were seen but no cache.ready yet; nothing to evict"
    held = hold(volume, copy, now, settings)
    idle = idle_for(copy, now)
    ttl_text = f"TTL {duration(ttl)} ({source})"
    if held is not None:
        return f"{'being evicted' if held.kind == 'pending' else 'kept'}: {held.why}"
    if settings.dry_run and committed(copy, now, settings):
        record = copy.decision
        return f"kept (dry run): decision {record.decision_id if record else '?'} would evict it"
    if idle > timedelta(seconds=ttl):
        return f"due: idle for {duration(idle)}, past its {ttl_text}; the next tick decides its eviction"
    kept = f"kept: idle for {duration(idle)} of its {ttl_text}, {duration(timedelta(seconds=ttl) - idle)} left"
    if volume.reclaiming:
        kept += f"; {watermark_text(volume, settings)} is above its target, so it may go in least-recently-used order"
    return kept
