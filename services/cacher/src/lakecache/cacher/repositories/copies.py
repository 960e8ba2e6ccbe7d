"""Cached copies: the record of each (site, volume, project, commit) and its one state machine.

    requested ──> filling ──> ready ──> evicting ──> evicted
        │            │
        └────────────┴──> failed        (failed and evicted go back to requested on a new request)

This is the only writer of copies. Every write that changes a copy's state, its waiting
requests or its lease/pin ``generation`` is a compare-and-swap on the copy's ``rev`` and writes
the events announcing it in the same single-document write (``Outbox.update``, the unit of
work): a request that joins a fill as it finishes is either answered by that fill or sees the
copy ready, never lost and never answered twice by one fill; a lease taken after an eviction
decision moves the generation the eviction is checked against.

Document (collection ``copies``, ``_id`` ``<site>/<volume>/<project>/<commit>``): ``state``,
``fill_id``, ``requests`` (request ids waiting for the fill), the verified ``source``,
``progress`` (a ``FillProgress``, while filling), ``error``, the fill's result (``path``,
``files``, ``size_bytes``…), ``generation``, ``lease_until`` (latest expiry of a live lease,
never null), ``pinned``/``pinned_by``, ``eviction`` (the decision being executed), ``rev``.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from lakecache.cacher import announcements as announce
from lakecache.cacher.fill import FillError, FillResult
from lakecache.cacher.lake import Source
from lakecache.core.contracts.cache import CacheRequested, CacheSpaceRequested
from lakecache.core.errors import Conflict
from lakecache.core.outbox import Announcement, Outbox
from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.vocabulary.clock import now
from lakecache.core.vocabulary.copies import ACTIVE_STATES, FillProgress

COLLECTION = "copies"
#: Before any lease: a ``lease_until`` always in the past (never null, so the eviction filter
#: compares datetimes only; see the document-store subset).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ATTEMPTS = 50

Doc = dict[str, Any]
Outcome = Literal["ready", "fill", "wait"]
Guard = Callable[[Doc], bool]


def copy_key(site: str, volume: str, project: str, commit_id: str) -> str:
    return f"{site}/{volume}/{project}/{commit_id}"


def _attempt(command: CacheRequested, source: Source) -> Doc:
    """The fields a new request (re)sets: a fresh fill of the copy."""
    return {
        "state": "requested", "fill_id": uuid.uuid4().hex, "requests": [command.request_id],
        "project": command.project, "dataset": command.dataset, "dataset_id": command.dataset_id,
        "lake_url": source.lake_url, "manifest_url": source.manifest_url, "source": source.as_document(),
        "requester": command.requester, "error": None, "progress": None, "space_requested": False,
        "quota_space_requested": False,
    }


class CopyRepository:
    """The copies of one site."""

    def __init__(self, store: DocumentStore, outbox: Outbox, site: str) -> None:
        self._copies = store.collection(COLLECTION)
        self._outbox = outbox
        self.site = site

    async def create_indexes(self) -> None:
        await self._copies.create_index([("site", 1), ("volume", 1), ("project", 1), ("commit_id", 1)], unique=True)
        await self._copies.create_index([("site", 1), ("state", 1)])
        await self._copies.create_index([("site", 1), ("project", 1), ("commit_id", 1)])

    def key(self, volume: str, project: str, commit_id: str) -> str:
        return copy_key(self.site, volume, project, commit_id)

    # Reads

    async def get(self, key: str) -> Doc | None:
        return await self._copies.find_one({"_id": key})

    async def find(self, project: str, commit_id: str, volume: str | None = None) -> Doc | None:
        """``project``'s copy of ``commit_id`` at this site: on ``volume`` if given, else the ready
        one (or the most recently updated). Another project's copy of the commit is never found."""
        query: Doc = {"site": self.site, "project": project, "commit_id": commit_id}
        if volume:
            query["volume"] = volume
        ready = await self._copies.find_one({**query, "state": "ready"}, sort=[("_id", 1)])
        return ready or await self._copies.find_one(query, sort=[("updated_at", -1), ("_id", 1)])

    async def page(self, *, volume: str | None, state: str | None, project: str | None, limit: int,
                   cursor: str | None) -> tuple[list[Doc], str | None]:
        """Copies by id after ``cursor``, and the cursor of the next page (None on the last)."""
        query: Doc = {"site": self.site}
        for name, value in (("volume", volume), ("state", state), ("project", project)):
            if value:
                query[name] = value
        if cursor:
            query["_id"] = {"$gt": cursor}
        page = await self._copies.find_list(query, sort=[("_id", 1)], limit=limit + 1)
        more = len(page) > limit
        page = page[:limit]
        return page, (page[-1]["_id"] if more else None)

    async def on_volume(self, volume: str) -> list[Doc]:
        """The copies of ``volume`` that are not evicted or failed (they use it, or will)."""
        return await self._copies.find_list(
            {"site": self.site, "volume": volume, "state": {"$in": [*ACTIVE_STATES, "ready", "evicting"]}},
            sort=[("_id", 1)])

    async def ready_views(self, volume: str, project: str | None = None) -> list[tuple[str, str, str]]:
        """(project, dataset, commit id) of each ready copy on ``volume`` (of ``project`` if given):
        the views whose content is charged to their projects."""
        query: Doc = {"site": self.site, "volume": volume, "state": "ready"}
        if project is not None:
            query["project"] = project
        found = await self._copies.find_list(query, sort=[("_id", 1)],
                                             projection={"project": 1, "dataset": 1, "commit_id": 1})
        return [(d["project"], d["dataset"], d["commit_id"]) for d in found]

    async def in_states(self, states: Sequence[str]) -> list[Doc]:
        """This site's copies in one of ``states`` (crash resume)."""
        return await self._copies.find_list({"site": self.site, "state": {"$in": list(states)}})

    async def ready_on(self, volume: str) -> tuple[int, int]:
        """(count, total bytes) of the ready copies on ``volume``."""
        ready = {"site": self.site, "volume": volume, "state": "ready"}
        total = await self._copies.aggregate([{"$match": ready},
                                              {"$group": {"_id": None, "bytes": {"$sum": "$size_bytes"}}}])
        return await self._copies.count_documents(ready), (total[0]["bytes"] if total else 0)

    async def key_of_old_layout(self) -> str | None:
        """A copy recorded before copies were per project (``<site>/<volume>/<commit>``), if any."""
        async for doc in self._copies.find({"site": self.site}, projection={"_id": 1}):
            if doc["_id"].count("/") != 3:
                return doc["_id"]
        return None

    # Requests and fills

    async def record_request(self, command: CacheRequested, volume: str, source: Source) -> tuple[Outcome, Doc]:
        """Record ``command`` on its copy: ``("ready", doc)`` when the copy is ready (answer at
        once), ``("fill", doc)`` when a fill must run (new, joined or resumed: scheduling is
        idempotent), ``("wait", doc)`` while it is evicted (the eviction fills it again)."""
        key, rid = self.key(volume, command.project, command.commit_id), command.request_id
        for _ in range(_ATTEMPTS):
            doc = await self.get(key)
            if doc is None:
                doc = {"_id": key, "site": self.site, "volume": volume, "commit_id": command.commit_id,
                       **_attempt(command, source), "rev": 0, "generation": 0, "pinned": False,
                       "lease_until": EPOCH, "created_at": now(), "updated_at": now()}
                try:
                    await self._outbox.insert(COLLECTION, doc)
                except Conflict:
                    continue
                return "fill", doc
            state = doc["state"]
            if state == "ready":
                return "ready", doc
            if rid in doc.get("requests", []) and state != "failed":
                return ("fill", doc) if state in ACTIVE_STATES else ("wait", doc)
            if state in ("failed", "evicted"):
                change: Doc = {"$set": {**_attempt(command, source), "created_at": now()}}
            else:  # requested, filling, evicting: wait with the others
                change = {"$addToSet": {"requests": rid}}
            new = await self._write(doc, change)
            if new is not None:
                return ("wait", new) if new["state"] == "evicting" else ("fill", new)
        raise Conflict(f"copy {key} changed {_ATTEMPTS} times while recording request {rid}; retry")

    async def start_fill(self, key: str, fill_id: str) -> Doc | None:
        """Claim the copy for fill ``fill_id`` (``filling``); None when it is no longer that fill's."""
        return await self._swap(key, lambda d: d["state"] in ACTIVE_STATES and d["fill_id"] == fill_id,
                                lambda d: {"$set": {"state": "filling", "started_at": now()}})

    async def set_progress(self, key: str, fill_id: str, progress: FillProgress) -> None:
        """Record how far fill ``fill_id`` is. Not a state change (no ``rev``): a lost write is
        replaced by the next one, and a fill that finished meanwhile keeps no progress."""
        await self._copies.update_one({"_id": key, "fill_id": fill_id, "state": "filling"},
                                      {"$set": {"progress": progress.model_dump(mode="json")}})

    async def progress_of(self, key: str, fill_id: str) -> FillProgress | None:
        """How far fill ``fill_id`` of the copy got, as last recorded; None when it recorded none
        (or the copy is another fill's by now)."""
        doc = await self._copies.find_one({"_id": key, "fill_id": fill_id}, projection={"progress": 1})
        recorded = (doc or {}).get("progress")
        return FillProgress.model_validate(recorded) if recorded else None

    async def note_space_requested(self, key: str, fill_id: str, event: CacheSpaceRequested) -> Doc | None:
        """Announce ``event`` once per fill attempt and kind (room under the volume's capacity, or
        under the project's quota: ``event.quota_bytes``); None when this attempt already did."""
        flag = "space_requested" if event.quota_bytes is None else "quota_space_requested"
        return await self._swap(
            key, lambda d: d["fill_id"] == fill_id and d["state"] == "filling" and not d.get(flag),
            lambda d: {"$set": {flag: True}}, lambda d: [event])

    async def mark_ready(self, key: str, fill_id: str, result: FillResult) -> Doc | None:
        """Fill ``fill_id`` made the copy ready: answer every waiting request (``cache.ready``)."""
        fields = {"state": "ready", "path": str(result.view_path), "files": result.files,
                  "size_bytes": result.size_bytes, "bytes_fetched": result.bytes_fetched,
                  "bytes_deduplicated": result.bytes_deduplicated, "duration_seconds": result.duration_seconds,
                  "ready_at": now(), "requests": [], "progress": None, "error": None}
        return await self._swap(key, lambda d: d["state"] == "filling" and d["fill_id"] == fill_id,
                                lambda d: {"$set": fields},
                                lambda d: announce.per_request(d, announce.ready_event({**d, **fields})))

    async def mark_failed(self, key: str, fill_id: str, error: FillError) -> Doc | None:
        """Fill ``fill_id`` failed: answer every waiting request (``cache.failed``)."""
        fields = {"state": "failed", "error": {"reason": error.reason, "retryable": error.retryable,
                                               "failed_paths": error.failed_paths}, "requests": [], "progress": None}
        return await self._swap(
            key, lambda d: d["state"] in ACTIVE_STATES and d["fill_id"] == fill_id, lambda d: {"$set": fields},
            lambda d: announce.per_request(d, announce.failed_event(d, error.reason, error.retryable,
                                                                    error.failed_paths, d["volume"])))

    async def requeue(self, key: str) -> Doc | None:
        """Requests arrived while the copy was evicted: a new fill (None when none wait)."""
        return await self._swap(key, lambda d: d["state"] == "evicted" and bool(d.get("requests")), lambda d: {
            "$set": {"state": "requested", "fill_id": uuid.uuid4().hex, "error": None, "progress": None,
                     "space_requested": False, "quota_space_requested": False}})

    # Eviction

    async def begin_eviction(self, key: str, decision_id: str, reason: str, generation: int | None) -> Doc | None:
        """``ready → evicting`` if the copy is unpinned, has no live lease and (when given) still
        has ``generation``, in one conditional write; None otherwise (nothing changed)."""
        condition: Doc = {"_id": key, "state": "ready", "pinned": False, "lease_until": {"$lt": now()}}
        if generation is not None:
            condition["generation"] = generation
        return await self._outbox.update(COLLECTION, condition, {
            "$set": {"state": "evicting", "eviction": {"decision_id": decision_id, "reason": reason},
                     "updated_at": now()},
            "$inc": {"rev": 1}})

    async def mark_evicted(self, key: str, bytes_freed: int) -> Doc | None:
        """The copy's view is gone: ``evicting → evicted``, announced (``cache.evicted``)."""
        def events(d: Doc) -> list[Announcement]:
            return [(announce.evicted_event(d, bytes_freed), (d.get("eviction") or {}).get("decision_id"))]

        return await self._swap(key, lambda d: d["state"] == "evicting", lambda d: {
            "$set": {"state": "evicted", "path": None, "bytes_freed": bytes_freed, "evicted_at": now()}}, events)

    # Leases and pins: each change moves the generation, announced with its new value.

    async def add_lease(self, key: str, lease: Doc) -> Doc | None:
        """``lease`` protects the ready copy; None when the copy is not ready."""
        return await self._swap(key, lambda d: d["state"] == "ready", lambda d: {
            "$inc": {"generation": 1}, "$max": {"lease_until": lease["expires_at"]}},
            lambda d: [(announce.lease_acquired(d, lease, _next(d)), lease["_id"])])

    async def extend_lease(self, key: str, lease: Doc) -> Doc | None:
        """``lease`` was renewed to its ``expires_at``; None when the copy is no longer ready."""
        return await self._swap(key, lambda d: d["state"] == "ready", lambda d: {
            "$inc": {"generation": 1}, "$max": {"lease_until": lease["expires_at"]}},
            lambda d: [(announce.lease_renewed(d, lease, _next(d)), lease["_id"])])

    async def drop_lease(self, key: str, lease: Doc,
                         live_until: Callable[[], Awaitable[datetime | None]]) -> Doc | None:
        """``lease`` was released: ``lease_until`` becomes ``live_until()``, the latest expiry of
        the live leases left. It is read inside each attempt, after the copy: a lease taken
        meanwhile moves ``rev`` and the attempt runs again, so a live lease is never dropped."""
        async def change(d: Doc) -> Doc:
            return {"$inc": {"generation": 1}, "$set": {"lease_until": await live_until() or EPOCH}}

        return await self._swap(key, lambda d: True, change,
                                lambda d: [(announce.lease_released(d, lease, _next(d)), lease["_id"])])

    async def set_pin(self, key: str, pinned: bool, by: str) -> Doc | None:
        """Pin (never evicted) or unpin the copy; None when it vanished."""
        return await self._swap(key, lambda d: True, lambda d: {
            "$set": {"pinned": pinned, "pinned_by": by if pinned else None}, "$inc": {"generation": 1}},
            lambda d: [announce.pin_changed(d, pinned, by, _next(d))])

    # The compare-and-swap

    async def _swap(self, key: str, guard: Guard, change: Callable[[Doc], Doc | Awaitable[Doc]],
                    events: Callable[[Doc], Sequence[Announcement]] | None = None) -> Doc | None:
        """Apply ``change(doc)`` with ``events(doc)`` if ``guard(doc)`` holds, retried while other
        writers move ``rev``. None when the copy is missing or the guard fails."""
        for _ in range(_ATTEMPTS):
            doc = await self.get(key)
            if doc is None or not guard(doc):
                return None
            update = change(doc)
            if inspect.isawaitable(update):
                update = await update
            new = await self._write(doc, update, events(doc) if events else ())
            if new is not None:
                return new
        raise Conflict(f"copy {key} changed {_ATTEMPTS} times while being updated; retry")

    async def _write(self, doc: Doc, update: Doc, events: Sequence[Announcement] = ()) -> Doc | None:
        change = {**update, "$set": {**update.get("$set", {}), "updated_at": now()},
                  "$inc": {**update.get("$inc", {}), "rev": 1}}
        return await self._outbox.update(COLLECTION, {"_id": doc["_id"], "rev": doc.get("rev", 0)}, change, events)


def _next(doc: Doc) -> int:
    # The write increments the generation: announce the value it will have.
    return doc.get("generation", 0) + 1
