"""Bus handlers of the cacher: cache and eviction commands of this site.

Plain functions of (event, cacher, runner); ``bootstrap`` binds the dependencies once. They
only record and schedule (fills run in ``FillRunner`` tasks, so the offset is committed
within milliseconds) and are idempotent: a redelivered command joins or answers its copy.
"""

from __future__ import annotations

import logging
from typing import Any

from lakecache.cacher import eviction, volumes
from lakecache.cacher.announcements import failed_event, ready_event
from lakecache.cacher.fills import FillRunner
from lakecache.cacher.lake import ForbiddenSource, authorize
from lakecache.cacher.storage import Cacher
from lakecache.core.contracts import Event
from lakecache.core.contracts.cache import CacheEvictionRequested, CacheRequested
from lakecache.core.errors import NotFound

log = logging.getLogger(__name__)


async def on_cache_requested(event: Event[CacheRequested], cacher: Cacher, runner: FillRunner) -> None:
    command = event.data
    if command.site != cacher.site:
        log.warning("ignoring cache command %s for site %s: this cacher serves %s", command.request_id,
                    command.site, cacher.site)
        return
    command_doc = {"fill_id": None, "project": command.project, "dataset_id": command.dataset_id,
                   "commit_id": command.commit_id, "site": cacher.site}
    try:
        source = await authorize(command, cacher.keys, cacher.lake_roots,
                                 leeway_seconds=cacher.settings.identity.clock_leeway_seconds)
        volume = await volumes.pick_volume(cacher, command.volume)
    except (ForbiddenSource, NotFound) as exc:
        # Refused before anything was recorded: the answer is the only trace.
        log.warning("cache request %s refused: %s", command.request_id, exc)
        await cacher.publisher.emit(failed_event(command_doc, str(exc), False, [], command.volume),
                                    subject=command.request_id)
        return
    outcome, doc = await cacher.copies.record_request(command, volume["name"], source)
    if outcome == "ready":
        await cacher.publisher.emit(ready_event(doc), subject=command.request_id)
    elif outcome == "fill":
        runner.schedule(doc["_id"])


async def on_eviction_requested(event: Event[CacheEvictionRequested], cacher: Cacher, runner: FillRunner) -> None:
    if event.data.site != cacher.site:
        return
    await eviction.execute(cacher, event.data, refill_waiting(cacher, runner))


def refill_waiting(cacher: Cacher, runner: FillRunner):
    """What to do with requests that arrived while their copy was being evicted: fill it again."""

    async def refill(doc: dict[str, Any]) -> None:
        new = await cacher.copies.requeue(doc["_id"])
        if new is not None:
            runner.schedule(new["_id"])

    return refill


HANDLERS = {
    CacheRequested: on_cache_requested,
    CacheEvictionRequested: on_eviction_requested,
}
