"""The ``experiments`` collection: ``_id`` the experiment id, unique by (project, name)."""

from __future__ import annotations

import uuid

from lakecache.core.errors import Conflict
from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.core.vocabulary.clock import now
from lakecache.tracker.repositories.fields import encode_key

COLLECTION = "experiments"


class ExperimentRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._docs.create_index([("project", 1), ("name", 1)], unique=True)

    async def add(self, project: str, name: str, tags: dict[str, str], created_by: str) -> Document | None:
        """A new experiment ``name`` of ``project``; None when the project has one of that name."""
        moment = now()
        doc = {"_id": uuid.uuid4().hex, "project": project, "name": name, "created_by": created_by,
               "tags": {encode_key(k): v for k, v in tags.items()}, "created_at": moment, "updated_at": moment}
        try:
            await self._docs.insert_one(doc)
        except Conflict:
            return None
        return doc

    async def get(self, project: str, experiment_id: str) -> Document | None:
        return await self._docs.find_one({"_id": experiment_id, "project": project})

    async def by_name(self, project: str, name: str) -> Document | None:
        return await self._docs.find_one({"project": project, "name": name})

    async def page(self, project: str, *, limit: int, after: str | None) -> tuple[list[Document], str | None]:
        """The project's experiments by name, ``limit`` at a time after the name ``after``."""
        query: Document = {"project": project}
        if after is not None:
            query["name"] = {"$gt": after}
        found = await self._docs.find_list(query, sort=[("name", 1)], limit=limit + 1)
        page = found[:limit]
        return page, (page[-1]["name"] if len(found) > limit else None)
