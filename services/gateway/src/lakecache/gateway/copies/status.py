"""One document per (site, project, commit): who asked for it, and each volume's copy as the
events tell. A copy is one project's: another project's request for the same commit is another
copy, with its own document.

Events arrive at least once and out of order (progress and lifecycle facts travel on different
topics), so each volume's entry keeps the time of the fact it reflects and only a newer fact
replaces it: a late progress event never turns a ready copy back into a filling one.

The copy's overall state is computed when read (:func:`overall_state`), from the volumes and
the latest request, so writers never have to agree on it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from lakecache.core.errors import Conflict
from lakecache.core.ports.docstore import Collection, DocumentStore

COLLECTION = "copy_status"
TERMINAL = frozenset({"ready", "failed", "evicted"})


def status_id(site: str, project: str, commit_id: str) -> str:
    return f"{site}/{project}/{commit_id}"


def overall_state(doc: Mapping[str, Any]) -> str:
    """``ready`` if any volume holds it ready; else the state of the newest fact (a request
    newer than every volume's fact is ``requested``)."""
    volumes = doc.get("volumes") or {}
    if any(v.get("state") == "ready" for v in volumes.values()):
        return "ready"
    newest = max(volumes.values(), key=lambda v: v["at"], default=None)
    failure = doc.get("failure")
    if failure and (newest is None or failure["at"] >= newest["at"]):
        newest = {"state": "failed", "at": failure["at"]}
    requested_at = doc.get("requested_at")
    if requested_at is not None and (newest is None or requested_at > newest["at"]):
        return "requested"
    return newest["state"] if newest else "requested"


class StatusChanges:
    """Wakes the live-progress streams of one copy when this process applied a change."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = defaultdict(set)

    def notify(self, key: str) -> None:
        for event in self._waiting.get(key, ()):
            event.set()

    def subscribe(self, key: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiting[key].add(event)
        return event

    def unsubscribe(self, key: str, event: asyncio.Event) -> None:
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.discard(event)
            if not waiting:
                del self._waiting[key]


class CopyStatusView:
    """The read model's collection and its writers (events, requests) and reader."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self.changes = StatusChanges()

    @classmethod
    def open(cls, store: DocumentStore) -> CopyStatusView:
        return cls(store.collection(COLLECTION))

    async def create_indexes(self) -> None:
        # A project's copies, most recently changed first (``GET /projects/{project}/copies``).
        await self.collection.create_index([("project", 1), ("updated_at", -1), ("_id", 1)])

    async def drop_old_layout(self) -> int:
        """Delete documents kept one per (site, commit), before copies were per project: nothing
        reads them any more, and they would list a copy twice. A read model loses nothing: a copy
        is adopted again from its cacher on its first lookup."""
        old = [doc["_id"] async for doc in self.collection.find(projection={"_id": 1}) if doc["_id"].count("/") == 1]
        for key in old:
            await self.collection.delete_one({"_id": key})
        return len(old)

    async def get(self, site: str, project: str, commit_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": status_id(site, project, commit_id)})

    async def _ensure(self, key: str, identity: Mapping[str, Any]) -> None:
        try:
            await self.collection.update_one({"_id": key}, {"$setOnInsert": dict(identity)}, upsert=True)
        except Conflict:
            pass  # created concurrently: that is all this wanted

    async def _changed(self, key: str, at: datetime, fields: Mapping[str, Any]) -> None:
        await self.collection.update_one({"_id": key}, {"$set": dict(fields), "$max": {"updated_at": at},
                                                        "$inc": {"version": 1}})
        self.changes.notify(key)

    async def record_request(self, *, site: str, commit_id: str, project: str, dataset_id: str, dataset: str,
                             request_id: str, requester: str, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        key = status_id(site, project, commit_id)
        await self._ensure(key, {"site": site, "project": project, "commit_id": commit_id, "volumes": {},
                                 "version": 0})
        await self._changed(key, at, {"dataset_id": dataset_id, "dataset": dataset, "requested_at": at,
                                      "request_id": request_id, "requested_by": requester})

    async def apply_volume_fact(self, *, site: str, project: str, commit_id: str, volume: str, at: datetime,
                                fields: Mapping[str, Any]) -> None:
        """Set volume ``volume``'s entry to ``fields`` unless it already reflects a newer fact.

        Facts only update copies this model already has (requested through the gateway, or
        adopted from the cacher by :meth:`seed`): a fact about a copy nobody asked the gateway
        for leaves no trace until someone looks it up."""
        key = status_id(site, project, commit_id)
        path = f"volumes.{volume}"
        newer = {"$and": [{"_id": key},
                          {"$or": [{f"{path}.at": {"$exists": False}}, {f"{path}.at": {"$lte": at}}]}]}
        entry = {f"{path}.{name}": value for name, value in {**fields, "at": at}.items()}
        result = await self.collection.update_one(newer, {"$set": entry, "$max": {"updated_at": at},
                                                          "$inc": {"version": 1}})
        if result.matched:
            self.changes.notify(key)

    async def set_pinned(self, *, site: str, project: str, commit_id: str, volume: str, pinned: bool,
                         at: datetime) -> None:
        key = status_id(site, project, commit_id)
        result = await self.collection.update_one(
            {"_id": key, f"volumes.{volume}": {"$exists": True}},
            {"$set": {f"volumes.{volume}.pinned": pinned}, "$max": {"updated_at": at}, "$inc": {"version": 1}})
        if result.matched:
            self.changes.notify(key)

    async def record_failure(self, *, site: str, project: str, commit_id: str, reason: str, retryable: bool,
                             at: datetime) -> None:
        """A refusal before any volume was chosen (unknown volume, a forged source)."""
        key = status_id(site, project, commit_id)
        result = await self.collection.update_one(
            {"_id": key},
            {"$set": {"failure": {"reason": reason, "retryable": retryable, "at": at}}, "$max": {"updated_at": at},
             "$inc": {"version": 1}})
        if result.matched:
            self.changes.notify(key)

    async def seed(self, copy: Mapping[str, Any]) -> dict[str, Any] | None:
        """Adopt a copy the cacher knows and this model does not (made before the gateway ran):
        its ``public_copy`` JSON becomes the volume's entry."""
        at = _parse_time(copy.get("updated_at")) or datetime.now(UTC)
        progress = copy.get("progress") or {}
        await self._ensure(status_id(copy["site"], copy["project"], copy["commit_id"]), {
            "site": copy["site"], "commit_id": copy["commit_id"], "volumes": {}, "version": 0,
            "project": copy["project"], "dataset_id": copy["dataset_id"], "dataset": copy["dataset"]})
        await self.apply_volume_fact(
            site=copy["site"], project=copy["project"], commit_id=copy["commit_id"], volume=copy["volume"], at=at,
            fields={"state": copy["state"], "path": copy.get("path"), "error": (copy.get("error") or {}).get(
                "reason") if isinstance(copy.get("error"), dict) else copy.get("error"),
                    "pinned": bool(copy.get("pinned")), **_progress_fields(progress)})
        return await self.get(copy["site"], copy["project"], copy["commit_id"])


def _progress_fields(progress: Mapping[str, Any]) -> dict[str, Any]:
    names = ("files_done", "files_total", "bytes_done", "bytes_total", "rate_bytes_per_s", "eta_seconds")
    return {name: progress[name] for name in names if progress.get(name) is not None}


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


COPY_STATUS_KEY = web.AppKey("lakecache_copy_status", CopyStatusView)


def copy_status_of(request: web.Request) -> CopyStatusView:
    return request.app[COPY_STATUS_KEY]
