"""The ``artifacts`` collection: files runs stored in the lake, ``_id`` ``<run id>/<path>``,
with size and sha256 (the lake holds the bytes, ``artifacts.py`` writes them)."""

from __future__ import annotations

from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.core.vocabulary.clock import now

COLLECTION = "artifacts"
#: Most files one listing returns.
LIST_LIMIT = 10_000


class ArtifactRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._docs.create_index([("project", 1), ("run_id", 1), ("path", 1)])

    async def record(self, project: str, run_id: str, path: str, size: int, sha256: str) -> Document:
        """The file ``path`` of the run now has this content (a file stored again replaces it)."""
        doc = {"_id": f"{run_id}/{path}", "project": project, "run_id": run_id, "path": path, "size": size,
               "sha256": sha256, "stored_at": now()}
        await self._docs.replace_one({"_id": doc["_id"], "project": project}, doc, upsert=True)
        return doc

    async def get(self, project: str, run_id: str, path: str) -> Document | None:
        return await self._docs.find_one({"_id": f"{run_id}/{path}", "project": project})

    async def of_run(self, project: str, run_id: str) -> list[Document]:
        """The run's files by path (at most ``LIST_LIMIT``)."""
        return await self._docs.find_list({"project": project, "run_id": run_id}, sort=[("path", 1)],
                                          limit=LIST_LIMIT)
