"""The ``datasets`` collection: datasets by name or id, their heads, and the events of each change.

A live dataset's ``slot`` is ``project/name``; a deleted one's is ``project/name@<id>``. The
unique index on it keeps one live dataset per name while deleted ones stay readable by id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from lakecache.core.contracts.catalog import CommitCreated, DatasetCreated, DatasetDeleted
from lakecache.core.errors import Conflict
from lakecache.core.outbox import Outbox
from lakecache.core.ports.docstore import Document, DocumentStore, Filter
from lakecache.core.vocabulary.clock import now

COLLECTION = "datasets"


def _live_slot(project: str, name: str) -> str:
    return f"{project}/{name}"


class DatasetRepository:
    """Datasets; every change that others must hear of is announced through ``outbox``."""

    def __init__(self, store: DocumentStore, outbox: Outbox) -> None:
        self._docs = store.collection(COLLECTION)
        self._outbox = outbox

    async def create_indexes(self) -> None:
        await self._docs.create_index([("slot", 1)], unique=True)
        await self._docs.create_index([("deleted", 1), ("project", 1), ("slot", 1)])

    async def add(self, *, dataset_id: str, project: str, name: str, description: str, tags: list[str], owner: str,
                  lake_url: str, lake_prefix: str, event: DatasetCreated) -> Document | None:
        """Record a new live dataset and announce ``event`` with it; returns the dataset, or None
        when a live dataset already has the name (then nothing is recorded or announced)."""
        moment = now()
        doc = {
            "_id": dataset_id, "slot": _live_slot(project, name), "project": project, "name": name,
            "description": description, "tags": tags, "owner": owner, "lake_url": lake_url,
            "lake_prefix": lake_prefix, "created_at": moment, "updated_at": moment, "head": None, "deleted": False,
        }
        try:
            await self._outbox.insert(COLLECTION, doc, [event])
        except Conflict:
            return None
        return doc

    async def live(self, project: str, name: str) -> Document | None:
        """The live (not deleted) dataset ``project/name``, if there is one."""
        return await self._docs.find_one({"slot": _live_slot(project, name), "deleted": False})

    async def by_id(self, dataset_id: str) -> Document | None:
        """The dataset with ``dataset_id``, deleted or not."""
        return await self._docs.find_one({"_id": dataset_id})

    def live_in_order(self, *, project: str | None, tag: str | None, after: str | None) -> AsyncIterator[Document]:
        """Live datasets (of ``project``, carrying label ``tag``, when given) in ``project/name``
        order, starting after the ``project/name`` ``after``."""
        return self._docs.find(self._listing(project, tag, after), sort=[("slot", 1)])

    async def live_page(self, *, project: str | None, tag: str | None, after: str | None,
                        limit: int) -> list[Document]:
        """Up to ``limit`` datasets of :meth:`live_in_order`."""
        return await self._docs.find_list(self._listing(project, tag, after), sort=[("slot", 1)], limit=limit)

    @staticmethod
    def _listing(project: str | None, tag: str | None, after: str | None) -> Filter:
        query: dict[str, Any] = {"deleted": False}
        if project:
            query["project"] = project
        if tag:
            query["tags"] = tag
        if after is not None:
            # A live slot is project/name, so the cursor is the last dataset's project/name.
            query["slot"] = {"$gt": after}
        return query

    async def describe(self, project: str, name: str, *, description: str | None = None,
                       tags: list[str] | None = None) -> Document | None:
        """Set the live dataset's description and/or labels (None leaves one as it is); returns
        the dataset after the change, or None when there is no such live dataset."""
        changes: dict[str, Any] = {"updated_at": now()}
        if description is not None:
            changes["description"] = description
        if tags is not None:
            changes["tags"] = tags
        return await self._docs.find_one_and_update(
            {"slot": _live_slot(project, name), "deleted": False}, {"$set": changes})

    async def mark_deleted(self, dataset: Document, user: str, event: DatasetDeleted) -> bool:
        """Soft-delete ``dataset`` and announce ``event``: its name is freed for a new dataset
        while the record stays readable by id. False (nothing announced) when it was already deleted."""
        deleted = await self._outbox.update(
            COLLECTION, {"_id": dataset["_id"], "deleted": False},
            {"$set": {"deleted": True, "deleted_at": now(), "deleted_by": user,
                      "slot": f"{_live_slot(dataset['project'], dataset['name'])}@{dataset['_id']}"}},
            [event])
        return deleted is not None

    async def move_head(self, dataset: Document, expected: str | None, new: str, event: CommitCreated) -> bool:
        """Move the live dataset's head from ``expected`` to ``new`` and announce ``event``, as one
        compare-and-swap: False (nothing changed or announced) when the head is no longer
        ``expected`` or the dataset was deleted meanwhile."""
        moved = await self._outbox.update(
            COLLECTION, {"_id": dataset["_id"], "deleted": False, "head": expected},
            # The head's size rides along, so a listing of datasets shows it without reading commits.
            {"$set": {"head": new, "head_files": event.files, "head_bytes": event.bytes, "updated_at": now()}},
            [event])
        return moved is not None

    async def locations(self) -> list[Document]:
        """``project``, ``name``, ``lake_url`` and ``deleted`` of every dataset, deleted ones included."""
        return await self._docs.find_list({}, projection={"project": 1, "name": 1, "lake_url": 1, "deleted": 1})
