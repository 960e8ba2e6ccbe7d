"""The ``lineage`` collection: edges between nodes of a project's lineage graph.

A node is ``commit:<commit id>``, ``run:<run id>``, ``model:<uri>`` or ``artifact:<uri>``.
An input is an edge from the commit a run read to the run, with where and how it was read
(site, volume, cache hit, bytes, time waited); an output an edge from the run to what it
wrote (a dataset commit, a model, an artifact). The ``_id`` derives from the edge and its
facts, so recording it again changes nothing; a run that read one commit at two sites has two
edges. Traversal is the tracker's code over the ``source``/``target`` indexes (FerretDB has
no ``$graphLookup``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from lakecache.core.errors import Conflict
from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.core.vocabulary.clock import now

COLLECTION = "lineage"


def commit_node(commit_id: str) -> str:
    return f"commit:{commit_id}"


def run_node(run_id: str) -> str:
    return f"run:{run_id}"


class LineageRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._docs.create_index([("project", 1), ("source", 1)])
        await self._docs.create_index([("project", 1), ("target", 1)])

    async def add(self, project: str, source: str, target: str, kind: str, facts: dict[str, Any]) -> bool:
        """Record the edge ``source → target`` of ``kind`` (``input``, ``output``) with its
        ``facts``; False when it was recorded before."""
        identity = json.dumps([project, source, target, kind, facts], sort_keys=True, default=str)
        doc = {"_id": hashlib.sha256(identity.encode()).hexdigest(), "project": project, "source": source,
               "target": target, "kind": kind, "recorded_at": now(), **facts}
        try:
            await self._docs.insert_one(doc)
        except Conflict:
            return False
        return True

    async def into(self, project: str, nodes: Sequence[str]) -> list[Document]:
        """The edges that end at one of ``nodes``."""
        return await self._docs.find_list({"project": project, "target": {"$in": list(nodes)}},
                                          sort=[("recorded_at", 1), ("_id", 1)])

    async def out_of(self, project: str, nodes: Sequence[str]) -> list[Document]:
        """The edges that start at one of ``nodes``."""
        return await self._docs.find_list({"project": project, "source": {"$in": list(nodes)}},
                                          sort=[("recorded_at", 1), ("_id", 1)])
