"""Cached copies: the record of each (site, volume, project, commit) and its state machine.

    requested ──> filling ──> ready ──> evicting ──> evicted
        │            │
        └────────────┴──> failed        (failed and evicted go back to requested on a new request)

Every write that changes a copy's state or its waiting requests is a compare-and-swap on the
copy's ``rev`` (``transition``), and claims the events announcing it in the same write
(``lakecache.core.outbox``), so a request that joins a fill as it finishes is either answered
by that fill or sees the copy ready: never lost, never answered twice by one fill.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from lakecache.cacher.lake import Source
from lakecache.cacher.storage import EPOCH, Cacher, copy_key, now
from lakecache.core.contracts import EventData
from lakecache.core.contracts.cache import CacheRequested
from lakecache.core.errors import Conflict
from lakecache.core.outbox import PENDING_FIELD

ACTIVE = ("requested", "filling")
_ATTEMPTS = 50

Guard = Callable[[dict[str, Any]], bool]
Announce = Callable[[dict[str, Any]], Sequence[tuple[EventData, str | None]]]


async def transition(cacher: Cacher, key: str, guard: Guard, update: Callable[[dict[str, Any]], Any],
                     announce: Announce | None = None) -> dict[str, Any] | None:
    """Apply ``update(doc)`` to copy ``key`` if ``guard(doc)`` holds, with the events of
    ``announce(doc)`` (payload, subject); retried while other writers move ``rev``. ``update``
    may be async (it then reads what it needs after ``doc`` was read, inside the retry).
    Returns the new document, or None when the copy is missing or the guard fails."""
    for _ in range(_ATTEMPTS):
        doc = await cacher.copies.find_one({"_id": key})
        if doc is None or not guard(doc):
            return None
        events = [await cacher.outbox.prepare(data, collection="copies", subject=subject)
                  for data, subject in (announce(doc) if announce else ())]
        change = update(doc)
        if inspect.isawaitable(change):
            change = await change
        change.setdefault("$set", {})["updated_at"] = now()
        change["$inc"] = {**change.get("$inc", {}), "rev": 1}
        if events:
            change["$addToSet"] = {PENDING_FIELD: {"$each": [e.id for e in events]}}
        new = await cacher.copies.find_one_and_update({"_id": key, "rev": doc.get("rev", 0)}, change)
        if new is None:
            for event in events:
                await cacher.outbox.discard(event)
            continue
        for event in events:
            await cacher.outbox.deliver(event, collection="copies", doc_id=key)
        return new
    raise Conflict(f"copy {key} changed {_ATTEMPTS} times while being updated; retry")


def _attempt_fields(command: CacheRequested, source: Source) -> dict[str, Any]:
    return {
        "state": "requested", "fill_id": uuid.uuid4().hex, "requests": [command.request_id],
        "project": command.project, "dataset": command.dataset, "dataset_id": command.dataset_id,
        "lake_url": source.lake_url, "manifest_url": source.manifest_url, "source": source.as_document(),
        "requester": command.requester, "error": None, "progress": None, "space_requested": False,
    }


async def record_request(cacher: Cacher, command: CacheRequested, volume: str,
                         source: Source) -> tuple[str, dict[str, Any]]:
    """Record ``command`` on its copy. Returns ``("ready", doc)`` when the copy is ready (answer
    at once) or ``("fill", doc)`` when a fill must run (new, joined or resumed: scheduling is
    idempotent)."""
    key = copy_key(cacher.site, volume, command.project, command.commit_id)
    rid = command.request_id
    for _ in range(_ATTEMPTS):
        doc = await cacher.copies.find_one({"_id": key})
        if doc is None:
            doc = {"_id": key, "site": cacher.site, "volume": volume, "commit_id": command.commit_id,
                   **_attempt_fields(command, source), "rev": 0, "generation": 0, "pinned": False,
                   "lease_until": EPOCH, "created_at": now(), "updated_at": now(), PENDING_FIELD: []}
            try:
                await cacher.copies.insert_one(doc)
            except Conflict:
                continue
            return "fill", doc
        state = doc["state"]
        if state == "ready":
            return "ready", doc
        if rid in doc.get("requests", []) and state != "failed":
            return ("fill", doc) if state in ACTIVE else ("wait", doc)
        if state in ("failed", "evicted"):
            change: dict[str, Any] = {"$set": {**_attempt_fields(command, source), "created_at": now()}}
        else:  # requested, filling, evicting: wait with the others
            change = {"$addToSet": {"requests": rid}}
        change["$set"] = {**change.get("$set", {}), "updated_at": now()}
        change["$inc"] = {"rev": 1}
        new = await cacher.copies.find_one_and_update({"_id": key, "rev": doc.get("rev", 0)}, change)
        if new is not None:
            return ("wait", new) if new["state"] == "evicting" else ("fill", new)
    raise Conflict(f"copy {key} changed {_ATTEMPTS} times while recording request {rid}; retry")


async def find_copy(cacher: Cacher, project: str, commit_id: str, volume: str | None = None) -> dict[str, Any] | None:
    """``project``'s copy of ``commit_id`` at this site: on ``volume`` if given, else the ready
    one (or the most recently updated). Another project's copy of the commit is never found."""
    query: dict[str, Any] = {"site": cacher.site, "project": project, "commit_id": commit_id}
    if volume:
        query["volume"] = volume
    ready = await cacher.copies.find_one({**query, "state": "ready"}, sort=[("_id", 1)])
    return ready or await cacher.copies.find_one(query, sort=[("updated_at", -1), ("_id", 1)])


async def list_copies(cacher: Cacher, *, volume: str | None, state: str | None, project: str | None,
                      limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    query: dict[str, Any] = {"site": cacher.site}
    for name, value in (("volume", volume), ("state", state), ("project", project)):
        if value:
            query[name] = value
    if cursor:
        query["_id"] = {"$gt": cursor}
    page = await cacher.copies.find_list(query, sort=[("_id", 1)], limit=limit + 1)
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1]["_id"] if more else None)
