"""Turning copies into decisions: idle TTL, watermark reclaiming, space requests (under a volume's
capacity, or under one project's quota there), manual requests.

Every path goes through ``hold`` (withdrawn volume, pinned, leased, already going) and ``decide``,
so no path can evict a protected copy or word its decision differently. A withdrawn volume is
not reclaimed at all, and a space request there is answered with nothing to evict.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from lakecache.core.contracts.cache import EvictionReason
from lakecache.evictor.policy.explain import describe, watermark_text
from lakecache.evictor.policy.facts import EvictRequested, SpaceNeeded
from lakecache.evictor.policy.outcomes import Decision, EvictionDeclined, NothingEligible, Outcome
from lakecache.evictor.policy.rules import basis, by_last_use, committed, effective_ttl, hold, idle_for, idle_text
from lakecache.evictor.policy.settings import PolicySettings
from lakecache.evictor.policy.state import CopyState, DecisionRecord, SiteState, VolumeState
from lakecache.evictor.policy.wording import duration, size, when

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lakecache:evictor:decision")
_SOURCES = {"commit": "commit override", "dataset": "dataset override", "volume": "volume policy",
            "default": "evictor default"}


def decision_id(site: str, volume: str, copy: CopyState, attempt: int, reason: EvictionReason) -> str:
    """Same site, volume, project, commit, incarnation (its ready time), attempt and reason: same id.

    The ready time rather than a counter names the incarnation because it survives the copy's
    record being forgotten; the attempt tells a decision made again after a lost command or a
    refusal from the first, so a late answer to the first cannot settle the second.
    """
    parts = (site, volume, copy.project, copy.commit_id, when(copy.ready_at), str(attempt), reason)
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(part) for part in parts)))


def decide(state: SiteState, volume: VolumeState, copy: CopyState, reason: EvictionReason, now: datetime,
           settings: PolicySettings, explanation: str, trigger: str) -> Decision:
    """Record and return a decision; ``trigger`` (what asked for it) goes into its facts."""
    if copy.ready_at is None or copy.dataset_id is None:
        raise ValueError(f"{_copy_text(copy)} on volume {volume.name} is not ready; only ready copies are decided")
    facts = {"trigger": trigger, **describe(state, volume, copy, now, settings)}
    copy.attempts += 1
    decided = decision_id(state.site, volume.name, copy, copy.attempts, reason)
    copy.decision = DecisionRecord(
        decision_id=decided, reason=reason, ready_at=copy.ready_at, decided_at=now, generation=copy.generation,
        estimate_bytes=copy.estimate_bytes(), dry_run=settings.dry_run, basis=basis(copy), explanation=explanation,
        outcome="dry-run" if settings.dry_run else "pending")
    return Decision(decision_id=decided, site=state.site, volume=volume.name, commit_id=copy.commit_id,
                    dataset_id=copy.dataset_id, project=copy.project, reason=reason, generation=copy.generation,
                    dry_run=settings.dry_run, explanation=explanation, facts=facts)


def expire(state: SiteState, volume: VolumeState, now: datetime, settings: PolicySettings) -> list[Outcome]:
    """Decide every unprotected ready copy idle for longer than its TTL."""
    outcomes: list[Outcome] = []
    for copy in by_last_use(volume):
        if hold(volume, copy, now, settings) is not None or committed(copy, now, settings):
            continue
        ttl, source = effective_ttl(state, volume, copy, settings)
        if idle_for(copy, now) <= timedelta(seconds=ttl):
            continue
        explanation = (f"{idle_text(copy, now)}, longer than its idle TTL of {duration(ttl)} ({_SOURCES[source]}); "
                       "no live lease, not pinned")
        outcomes.append(decide(state, volume, copy, "ttl-expired", now, settings, explanation, "idle-ttl"))
    return outcomes


def reclaim(state: SiteState, volume: VolumeState, now: datetime, settings: PolicySettings) -> list[Outcome]:
    """Watermark hysteresis: above high, reclaim least-recently-used copies until the estimate is
    below low, and keep reclaiming (on each tick and report) until usage really is below low."""
    capacity = volume.capacity_bytes
    if capacity is None or volume.withdrawn is not None:
        return []
    high, low = volume.watermarks(settings)
    used = volume.used_bytes()
    if used > high * capacity:
        volume.reclaiming = True
    elif used < low * capacity:
        volume.reclaiming = False
    if not volume.reclaiming:
        return []
    goal = low * capacity
    why = (f"{watermark_text(volume, settings)}: it passed the high watermark, so least recently used copies go "
           "until it is below the low one")
    return _free(state, volume, now, settings, why, "watermark",
                 enough=lambda going: used - going < goal,
                 shortfall=lambda going: math.floor(used - going - goal) + 1)


def make_room(state: SiteState, volume: VolumeState, request: SpaceNeeded, now: datetime,
              settings: PolicySettings) -> list[Outcome]:
    """Evict least-recently-used copies until the estimated free space covers the request.

    With no reported capacity the free space is taken as none: only evictions count. A request
    about a project's quota goes to ``make_quota_room``.
    """
    if request.project is not None:
        return make_quota_room(state, volume, request, now, settings)
    capacity = volume.capacity_bytes
    free = max(0, capacity - volume.used_bytes()) if capacity is not None else 0
    why = (f"the cacher needs {size(request.bytes_needed)} free on volume {volume.name} for a fill (request "
           f"{request.request_id}); {size(free)} free by the evictor's estimate")
    return _free(state, volume, now, settings, why, f"space-request {request.request_id}",
                 enough=lambda going: free + going >= request.bytes_needed,
                 shortfall=lambda going: request.bytes_needed - free - going)


def make_quota_room(state: SiteState, volume: VolumeState, request: SpaceNeeded, now: datetime,
                    settings: PolicySettings) -> list[Outcome]:
    """Evict the requesting project's least-recently-used copies on the volume until their sizes
    cover how far its charge must fall; other projects' copies are never decided for it.

    A copy's size is what evicting it lowers the charge by at most (content the project's other
    copies hold stays charged), so this may free too little, never more than asked for by a
    whole copy; the fill then fails, naming the quota."""
    project = request.project
    assert project is not None
    why = (f"project {project}'s fill on volume {volume.name} needs its charge there {size(request.bytes_needed)} "
           f"lower to fit the project's quota (request {request.request_id})")
    return _free(state, volume, now, settings, why, f"quota-request {request.request_id}",
                 enough=lambda going: going >= request.bytes_needed,
                 shortfall=lambda going: request.bytes_needed - going,
                 project=project, reason="quota", gain=lambda copy: max(1, copy.size_bytes))


def evict_manually(state: SiteState, volume: VolumeState, copy: CopyState, request: EvictRequested, now: datetime,
                   settings: PolicySettings) -> list[Outcome]:
    """An operator's request: decided at once unless pinned, leased or already going."""
    held = hold(volume, copy, now, settings, after_refusal=False)
    if held is not None:
        explanation = (f"manual eviction of {_copy_text(copy)} on volume {volume.name} requested by "
                       f"{request.requested_by} refused: {held.why}")
        return [EvictionDeclined(site=state.site, volume=volume.name, project=copy.project, commit_id=copy.commit_id,
                                 requested_by=request.requested_by, explanation=explanation, at=now)]
    explanation = f"requested by {request.requested_by}; {idle_text(copy, now)}; no live lease, not pinned"
    trigger = f"manual request by {request.requested_by}"
    return [decide(state, volume, copy, "manual", now, settings, explanation, trigger)]


def unknown_copy(state: SiteState, request: EvictRequested, now: datetime) -> EvictionDeclined:
    explanation = (f"manual eviction of project {request.project}'s copy of commit {request.commit_id} on volume "
                   f"{request.volume} requested by {request.requested_by} refused: no such copy is known on that "
                   f"volume of site {state.site}")
    return EvictionDeclined(site=state.site, volume=request.volume, project=request.project,
                            commit_id=request.commit_id, requested_by=request.requested_by, explanation=explanation,
                            at=now)


def _copy_text(copy: CopyState) -> str:
    return f"project {copy.project}'s copy of commit {copy.commit_id}"


def _free(state: SiteState, volume: VolumeState, now: datetime, settings: PolicySettings, why: str, trigger: str,
          enough: Callable[[int], bool], shortfall: Callable[[int], int], *, project: str | None = None,
          reason: EvictionReason = "capacity", gain: Callable[[CopyState], int] = CopyState.estimate_bytes,
          ) -> list[Outcome]:
    """Decide least-recently-used copies (only ``project``'s when given) until ``enough`` of
    their ``gain`` goes."""
    # Decisions already on their way count as freed, so a pressure seen on every tick or a
    # redelivered request does not pile up decisions while the cacher works.
    candidates = [copy for copy in by_last_use(volume) if project is None or copy.project == project]
    going = sum(gain(copy) for copy in volume.copies.values()
                if (project is None or copy.project == project) and committed(copy, now, settings))
    outcomes: list[Outcome] = []
    if enough(going):
        return outcomes
    if volume.withdrawn is not None:  # only a space request gets here: reclaim stops before
        explanation = f"{why}; nothing is evicted there: the volume is withdrawn: {volume.withdrawn}"
        return [NothingEligible(site=state.site, volume=volume.name, bytes_wanted=max(1, shortfall(going)),
                                explanation=explanation, at=now)]
    for copy in candidates:
        if committed(copy, now, settings) or hold(volume, copy, now, settings) is not None:
            continue
        whose = "evictable copy" if project is None else f"evictable copy of project {project}"
        explanation = (f"{why}; the least recently used {whose}, {idle_text(copy, now)}; "
                       f"estimated to free {size(gain(copy))}")
        outcomes.append(decide(state, volume, copy, reason, now, settings, explanation, trigger))
        going += gain(copy)
        if enough(going):
            return outcomes
    wanted = max(1, shortfall(going))
    explanation = f"{why}; {size(wanted)} more must go but {_held(candidates, now, settings, volume)}"
    outcomes.append(NothingEligible(site=state.site, volume=volume.name, bytes_wanted=wanted, explanation=explanation,
                                    at=now))
    return outcomes


_HELD = {"pinned": "pinned", "leased": "leased", "refused": "recently refused by the cacher",
         "pending": "already being evicted"}


def _held(copies: list[CopyState], now: datetime, settings: PolicySettings, volume: VolumeState) -> str:
    kinds: Counter[str] = Counter()
    for copy in copies:
        if committed(copy, now, settings):
            kinds["already decided (dry run)" if settings.dry_run else "already being evicted"] += 1
        elif (held := hold(volume, copy, now, settings)) is not None:
            kinds[_HELD.get(held.kind, held.kind)] += 1
    if not kinds:
        return "no ready copy is left on it"
    return "no remaining copy may be evicted (" + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) + ")"
