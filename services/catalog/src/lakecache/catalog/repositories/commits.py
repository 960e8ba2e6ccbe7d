"""The ``commits`` collection: commit metadata, ``_id`` ``<dataset id>/<commit id>`` (two datasets
with the same content share a commit id but not a commit record). Manifests live in the lake."""

from __future__ import annotations

from typing import Any

from lakecache.core.errors import Conflict
from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.core.vocabulary.clock import now

COLLECTION = "commits"


def _key(dataset_id: str, commit_id: str) -> str:
    return f"{dataset_id}/{commit_id}"


class CommitRepository:
    """Commits of datasets. Recording one announces nothing: the head move does (``datasets``)."""

    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._docs.create_index([("dataset_id", 1), ("id", 1)], unique=True)

    async def add(self, dataset: Document, *, commit_id: str, parents: list[str], message: str, author: str,
                  files: int, bytes: int, manifest_url: str, manifest_key: str,
                  entries_digest: str) -> tuple[Document, bool]:
        """Record a commit of ``dataset``; returns (the commit, whether this call recorded it).
        A record an earlier attempt left under the same id is returned as it is."""
        doc: dict[str, Any] = {
            "_id": _key(dataset["_id"], commit_id), "id": commit_id, "dataset_id": dataset["_id"],
            "project": dataset["project"], "dataset": dataset["name"], "parents": parents, "message": message,
            "author": author, "created_at": now(), "files": files, "bytes": bytes, "manifest_url": manifest_url,
            "manifest_key": manifest_key, "entries_digest": entries_digest,
        }
        try:
            await self._docs.insert_one(doc)
        except Conflict:
            return await self.by_id(dataset["_id"], commit_id) or doc, False
        return doc, True

    async def by_id(self, dataset_id: str, commit_id: str) -> Document | None:
        """The commit ``commit_id`` (a full id) of the dataset ``dataset_id``."""
        return await self._docs.find_one({"_id": _key(dataset_id, commit_id)})

    async def with_prefix(self, dataset_id: str, prefix: str, limit: int) -> list[Document]:
        """Up to ``limit`` commits of the dataset whose id starts with ``prefix`` (lower-case hex), by id."""
        # Hex digits sort below 'g', so [prefix, prefix + 'g') is exactly the ids with the prefix.
        return await self._docs.find_list({"dataset_id": dataset_id, "id": {"$gte": prefix, "$lt": prefix + "g"}},
                                          sort=[("id", 1)], limit=limit)

    async def remove(self, dataset_id: str, commit_id: str) -> None:
        """Forget a commit record nothing points at (one whose head move lost)."""
        await self._docs.delete_one({"_id": _key(dataset_id, commit_id)})
