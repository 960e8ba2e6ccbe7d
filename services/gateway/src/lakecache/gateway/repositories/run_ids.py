"""The ``run_ids`` collection: every experiment and run id the gateway handed out, with its
project (``_id`` ``experiment:<id>`` or ``run:<id>``).

MLflow's routes name a run or an experiment by id alone; this is how the gateway knows whose
it is before it authorizes anything, without asking the tracker (which then checks the
project again). An id is bound once and never moves, so lookups are cached in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from lakecache.core.errors import Conflict
from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.vocabulary.clock import now

COLLECTION = "run_ids"
Kind = Literal["experiment", "run"]
_CACHED = 100_000


class RunIdRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection(COLLECTION)
        self._cache: OrderedDict[str, str] = OrderedDict()

    async def create_indexes(self) -> None:
        pass  # looked up by _id only

    async def bind(self, kind: Kind, ident: str, project: str) -> bool:
        """Record that ``ident`` is ``project``'s; False if it was bound before (to any project)."""
        try:
            await self._docs.insert_one({"_id": f"{kind}:{ident}", "project": project, "created_at": now()})
        except Conflict:
            return False
        self._remember(f"{kind}:{ident}", project)
        return True

    async def project_of(self, kind: Kind, ident: str) -> str | None:
        """The project ``ident`` was handed out in; None if the gateway never handed it out."""
        key = f"{kind}:{ident}"
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        doc = await self._docs.find_one({"_id": key})
        if doc is None:
            return None
        self._remember(key, doc["project"])
        return doc["project"]

    async def projects(self) -> list[str]:
        """Every project an id was handed out in, sorted."""
        return sorted(await self._docs.distinct("project"))

    def _remember(self, key: str, project: str) -> None:
        self._cache[key] = project
        if len(self._cache) > _CACHED:
            self._cache.popitem(last=False)
