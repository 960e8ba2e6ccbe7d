"""The ``tags`` collection: named commits of a dataset, ``_id`` ``<dataset id>/<tag>``; each
change announces ``lakecache.tag.moved``."""

from __future__ import annotations

from lakecache.core.contracts.catalog import TagMoved
from lakecache.core.errors import Conflict
from lakecache.core.outbox import Outbox
from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.core.vocabulary.clock import now

COLLECTION = "tags"


def _key(dataset_id: str, name: str) -> str:
    return f"{dataset_id}/{name}"


class TagRepository:
    """Tags of datasets; setting or moving one announces its event through ``outbox``."""

    def __init__(self, store: DocumentStore, outbox: Outbox) -> None:
        self._docs = store.collection(COLLECTION)
        self._outbox = outbox

    async def create_indexes(self) -> None:
        await self._docs.create_index([("dataset_id", 1), ("name", 1)], unique=True)

    async def of_dataset(self, dataset_id: str) -> list[Document]:
        """The dataset's tags, by name."""
        return await self._docs.find_list({"dataset_id": dataset_id}, sort=[("name", 1)])

    async def by_name(self, dataset_id: str, name: str) -> Document | None:
        """The dataset's tag ``name``, if it exists."""
        return await self._docs.find_one({"_id": _key(dataset_id, name)})

    async def add(self, dataset_id: str, name: str, commit_id: str, user: str, event: TagMoved) -> Document | None:
        """Create tag ``name`` on ``commit_id`` and announce ``event``; returns the tag, or None
        when the tag exists already (then nothing is recorded or announced)."""
        doc = {"_id": _key(dataset_id, name), "dataset_id": dataset_id, "name": name, "commit_id": commit_id,
               "updated_at": now(), "moved_by": user}
        try:
            await self._outbox.insert(COLLECTION, doc, [event])
        except Conflict:
            return None
        return doc

    async def move(self, tag: Document, commit_id: str, user: str, event: TagMoved) -> Document | None:
        """Point ``tag`` at ``commit_id`` and announce ``event``, as a compare-and-swap on the commit
        it pointed at when read: returns the moved tag, or None (nothing changed or announced)
        when someone moved it meanwhile."""
        return await self._outbox.update(
            COLLECTION, {"_id": tag["_id"], "commit_id": tag["commit_id"]},
            {"$set": {"commit_id": commit_id, "updated_at": now(), "moved_by": user}}, [event])
