"""The ``copy_status`` collection: the gateway's read model of cached copies, one document per
(site, project, commit), ``_id`` ``<site>/<project>/<commit>``.

A document holds the copy's identity (``site``, ``project``, ``commit_id``, ``dataset_id``,
``dataset``), the latest request through the gateway (``requested_at``, ``request_id``,
``requested_by``), a refusal before any volume was chosen (``failure``: ``reason``,
``retryable``, ``at``), and ``volumes``: one entry per volume holding the copy, with the time
``at`` of the fact it reflects. ``updated_at`` is the newest fact's time and ``version`` counts
changes (what a live-progress stream compares).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lakecache.core.contracts.cache import CacheRequested
from lakecache.core.errors import Conflict
from lakecache.core.outbox import Outbox
from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.gateway.repositories.pages import Keyset, Page, page

COLLECTION = "copy_status"
#: A project's copies: most recently changed first.
RECENT = Keyset("project-copies", (("updated_at", -1), ("_id", 1)))


def status_id(site: str, project: str, commit_id: str) -> str:
    """The key of a copy's document (and of its change notifications)."""
    return f"{site}/{project}/{commit_id}"


def _changed(at: datetime) -> dict[str, Any]:
    # Every write counts as a change (``version``); ``updated_at`` only moves forward.
    return {"$max": {"updated_at": at}, "$inc": {"version": 1}}


class CopyStatusRepository:
    """The copies' status documents: written by facts and requests, read by status routes; a
    request is announced to the cacher through ``outbox``."""

    def __init__(self, store: DocumentStore, outbox: Outbox) -> None:
        self._statuses = store.collection(COLLECTION)
        self._outbox = outbox

    async def create_indexes(self) -> None:
        await self._statuses.create_index([("project", 1), ("updated_at", -1), ("_id", 1)])
        await self._statuses.create_index([("project", 1), ("commit_id", 1)])

    async def drop_old_layout(self) -> int:
        """Delete documents kept one per (site, commit), before copies were per project; how many."""
        old = [doc["_id"] async for doc in self._statuses.find(projection={"_id": 1}) if doc["_id"].count("/") == 1]
        for key in old:
            await self._statuses.delete_one({"_id": key})
        return len(old)

    async def get(self, site: str, project: str, commit_id: str) -> Document | None:
        return await self._statuses.find_one({"_id": status_id(site, project, commit_id)})

    async def page(self, project: str, *, site: str | None, limit: int, cursor: str | None) -> Page:
        """One page of the project's copies (at ``site`` only, when given), most recently changed first."""
        query = {"project": project, **({"site": site} if site else {})}
        return await page(self._statuses, query, RECENT, limit=limit, cursor=cursor)

    async def of_commits(self, project: str, commit_ids: list[str], *, limit: int) -> list[Document]:
        """The project's copies of these commits (at any site), at most ``limit``."""
        if not commit_ids:
            return []
        return await self._statuses.find_list({"project": project, "commit_id": {"$in": list(commit_ids)}},
                                              limit=limit)

    async def add(self, site: str, project: str, commit_id: str, identity: Mapping[str, Any]) -> None:
        """Create the copy's document with ``identity`` (dataset id and name) and no volume, unless
        it exists."""
        document = {"site": site, "project": project, "commit_id": commit_id, "volumes": {}, "version": 0,
                    **identity}
        try:
            await self._statuses.update_one({"_id": status_id(site, project, commit_id)},
                                            {"$setOnInsert": document}, upsert=True)
        except Conflict:
            pass  # created concurrently: that is all this wanted

    async def note_request(self, command: CacheRequested, *, at: datetime) -> bool:
        """Record ``command`` as the copy's latest request (dataset, request id, requester) at time
        ``at`` and send it to the cacher with it: the cacher hears of the request if and only if
        it is recorded. ``False`` when the copy has no document (:meth:`add` first)."""
        update = {"$set": {"dataset_id": command.dataset_id, "dataset": command.dataset, "requested_at": at,
                           "request_id": command.request_id, "requested_by": command.requester}, **_changed(at)}
        key = status_id(command.site, command.project, command.commit_id)
        new = await self._outbox.update(COLLECTION, {"_id": key}, update, [(command, command.request_id)])
        return new is not None

    async def set_volume(self, site: str, project: str, commit_id: str, volume: str, *, at: datetime,
                         fields: Mapping[str, Any]) -> bool:
        """Set ``fields`` on volume ``volume``'s entry, as of ``at``, unless the entry reflects a
        newer fact or the copy has no document; whether it did."""
        path = f"volumes.{volume}"
        newer = {"$and": [{"_id": status_id(site, project, commit_id)},
                          {"$or": [{f"{path}.at": {"$exists": False}}, {f"{path}.at": {"$lte": at}}]}]}
        entry = {f"{path}.{name}": value for name, value in {**fields, "at": at}.items()}
        result = await self._statuses.update_one(newer, {"$set": entry, **_changed(at)})
        return result.matched > 0

    async def set_pinned(self, site: str, project: str, commit_id: str, volume: str, *, pinned: bool,
                         at: datetime) -> bool:
        """Mark volume ``volume``'s entry pinned or not, if there is one; whether there was."""
        result = await self._statuses.update_one(
            {"_id": status_id(site, project, commit_id), f"volumes.{volume}": {"$exists": True}},
            {"$set": {f"volumes.{volume}.pinned": pinned}, **_changed(at)})
        return result.matched > 0

    async def set_failure(self, site: str, project: str, commit_id: str, *, reason: str, retryable: bool,
                          at: datetime) -> bool:
        """Record a refusal before any volume was chosen, if the copy has a document; whether it has."""
        result = await self._statuses.update_one(
            {"_id": status_id(site, project, commit_id)},
            {"$set": {"failure": {"reason": reason, "retryable": retryable, "at": at}}, **_changed(at)})
        return result.matched > 0
