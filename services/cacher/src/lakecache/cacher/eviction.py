"""Executing eviction commands: a compare-and-swap against leases and pins, then the volume.

The evictor decides from its own view (TTL, watermarks) with the copy's ``generation`` at
that time. The cacher swaps the copy ``ready → evicting`` only if it is still unpinned, has
no live lease and (when given) still has that generation: a lease taken, renewed or released
or a pin set after the decision moves the generation, the swap fails, the copy stays and
``lakecache_cacher_evictions_refused_total`` counts it. Then ``evict_commit`` removes the
view and unused pool content, and the copy becomes ``evicted`` with ``cache.evicted``
announced through the outbox. A copy left ``evicting`` by a stopped process is finished at
start-up (``evict_commit`` is idempotent).
"""

from __future__ import annotations

import logging
from typing import Any

from lakecache.cacher import quotas, volumes
from lakecache.cacher.storage import Cacher
from lakecache.cacher.volume import evict_commit
from lakecache.core.contracts.cache import CacheEvictionRefused, CacheEvictionRequested
from lakecache.core.errors import NotFound
from lakecache.core.vocabulary.clock import iso, now

log = logging.getLogger(__name__)


async def execute(cacher: Cacher, command: CacheEvictionRequested, on_waiting=None) -> bool:
    """Run one eviction command; True when the copy was evicted (or already was by it)."""
    if command.project is None:
        # From before copies were per project: it cannot say whose copy it means.
        log.warning("eviction %s names no project; refused", command.decision_id)
        await cacher.publisher.emit(CacheEvictionRefused(
            decision_id=command.decision_id, site=command.site, volume=command.volume, commit_id=command.commit_id,
            reason="unknown: the command names no project"))
        return False
    key = cacher.copies.key(command.volume, command.project, command.commit_id)
    if command.dry_run:
        log.info("dry run: would evict %s (%s: %s)", key, command.reason, command.explanation or "no explanation")
        return False
    swapped = await cacher.copies.begin_eviction(key, command.decision_id, command.reason, command.generation)
    if swapped is None:
        doc = await cacher.copies.get(key)
        if doc is not None and doc["state"] in ("evicting", "evicted") and \
                (doc.get("eviction") or {}).get("decision_id") == command.decision_id:
            return await finish(cacher, doc, on_waiting)  # a redelivery of a command already taken
        reason = _refusal(doc, command)
        cacher.metrics.evictions_refused.labels(reason.split(":")[0]).inc()
        log.info("eviction %s of %s refused: %s", command.decision_id, key, reason)
        # Best effort: if this is lost, the evictor decides again after its redecision delay.
        await cacher.publisher.emit(CacheEvictionRefused(
            decision_id=command.decision_id, site=command.site, volume=command.volume, commit_id=command.commit_id,
            reason=reason, project=command.project))
        return False
    return await finish(cacher, swapped, on_waiting)


def _refusal(doc: dict[str, Any] | None, command: CacheEvictionRequested) -> str:
    if doc is None:
        return "unknown: no such copy"
    if doc["state"] != "ready":
        return f"not-ready: the copy is {doc['state']}"
    if doc.get("pinned"):
        return "pinned: an operator pinned the copy"
    if doc.get("lease_until") and doc["lease_until"] >= now():
        return f"leased: a lease holds it until {iso(doc['lease_until'])}"
    return (f"generation: the copy's generation is {doc.get('generation')} but the decision saw "
            f"{command.generation} (a lease or pin changed it since)")


async def finish(cacher: Cacher, doc: dict[str, Any], on_waiting=None) -> bool:
    """Remove the copy's view from its volume and mark it evicted (idempotent)."""
    key = doc["_id"]
    if doc["state"] == "evicting":
        volume = None
        try:
            volume = volumes.usable(await volumes.get_volume(cacher, doc["volume"]))
            freed = await evict_commit(volume["path"], doc["project"], doc["dataset"], doc["commit_id"],
                                       cacher.usage_of(volume["name"]))
        except NotFound as exc:
            # Unregistered, or refused (it may be an alias of another volume): delete nothing there.
            log.warning("eviction of %s frees nothing on disk: %s", key, exc)
            freed = 0
        done = await cacher.copies.mark_evicted(key, freed)
        if done is None:
            return False
        cacher.metrics.evictions.inc()
        log.info("evicted %s: %d bytes freed", key, freed)
        if volume is not None:  # what only this copy referenced is no longer the project's charge
            await quotas.recount_project(cacher, volume, doc["project"])
        await volumes.report_by_name(cacher, doc["volume"])
        doc = done
    if doc["state"] == "evicted" and doc.get("requests") and on_waiting is not None:
        await on_waiting(doc)  # requests that arrived during the eviction: fill again
    return True


async def resume(cacher: Cacher, on_waiting=None) -> None:
    """Finish the evictions a stopped process left half-done (at start-up)."""
    for doc in await cacher.copies.in_states(["evicting"]):
        log.info("finishing the eviction of %s", doc["_id"])
        await finish(cacher, doc, on_waiting)
