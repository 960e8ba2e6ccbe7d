"""The ``import_locations`` collection, ``_id`` ``<project>/<name>``: lake locations an
installation administrator registered for a project to import from."""

from __future__ import annotations

from lakecache.core.errors import Conflict
from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.core.vocabulary.clock import now

COLLECTION = "import_locations"


def _key(project: str, name: str) -> str:
    return f"{project}/{name}"


class ImportLocationRepository:
    """Projects' import locations (no events: only the catalog reads them)."""

    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._docs.create_index([("project", 1), ("name", 1)], unique=True)

    async def of_project(self, project: str) -> list[Document]:
        """``project``'s import locations, by name."""
        return await self._docs.find_list({"project": project}, sort=[("name", 1)])

    async def of_every_project(self) -> list[Document]:
        """Every project's import locations (for the overlap checks)."""
        return await self._docs.find_list({})

    async def by_name(self, project: str, name: str) -> Document | None:
        """``project``'s import location ``name``, if registered."""
        return await self._docs.find_one({"_id": _key(project, name)})

    async def add(self, project: str, name: str, url: str, user: str) -> Document | None:
        """Register ``url`` as ``project``'s import location ``name``; returns the location, or
        None when the name was taken (nothing recorded)."""
        doc = {"_id": _key(project, name), "project": project, "name": name, "url": url, "created_at": now(),
               "created_by": user}
        try:
            await self._docs.insert_one(doc)
        except Conflict:
            return None
        return doc

    async def remove(self, project: str, name: str) -> bool:
        """Remove ``project``'s import location ``name``; False when there was none."""
        return await self._docs.delete_one({"_id": _key(project, name)}) > 0
