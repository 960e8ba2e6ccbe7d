"""The ``runs`` collection: ``_id`` the run id; params, tags and the latest value of each
metric live in the run's document (keys written by ``fields.encode_key``).

Events of one run arrive in order from one partition and one consumer, so each change reads
the run and writes what changed; a redelivered event finds its change made and writes
nothing new.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lakecache.core.errors import Conflict
from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.core.vocabulary.clock import now
from lakecache.core.vocabulary.runs import RunState
from lakecache.tracker.repositories import run_search
from lakecache.tracker.repositories.fields import encode_key, loaded_value

if TYPE_CHECKING:
    from lakecache.tracker.search import Clause, Ordering

COLLECTION = "runs"
#: Most runs a search evaluated in the tracker reads (``search.py``; ``search`` has no such cap).
SEARCH_SCAN_LIMIT = 50_000


class RunRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._docs.create_index([("project", 1), ("experiment_id", 1), ("start_time", -1)])

    async def start(self, project: str, run_id: str, fields: dict[str, Any]) -> Document | None:
        """Record run ``run_id`` of ``project`` with ``fields`` (experiment, name, user, code,
        place, start time, first tags); None when it was recorded before (a redelivery) — or
        belongs to another project, which ``get`` then does not find."""
        moment = now()
        doc = {"_id": run_id, "project": project, "status": "running", "end_time": None, "params": {},
               "metrics": {}, "created_at": moment, "updated_at": moment, **fields,
               "tags": {encode_key(k): v for k, v in fields.get("tags", {}).items()}}
        try:
            await self._docs.insert_one(doc)
        except Conflict:
            return None
        return doc

    async def get(self, project: str, run_id: str) -> Document | None:
        return await self._docs.find_one({"_id": run_id, "project": project})

    async def many(self, project: str, run_ids: Sequence[str]) -> list[Document]:
        """The runs of ``project`` among ``run_ids`` (unknown ones left out), in no set order."""
        # By id alone, then the project checked here: with the project in the filter the embedded
        # store walks the project's index over every run instead of looking the ids up
        # (385 runs of a 10,000-run project: 67 ms -> a few ms).
        docs = await self._docs.find_list({"_id": {"$in": list(dict.fromkeys(run_ids))}})
        return [doc for doc in docs if doc.get("project") == project]

    async def in_experiments(self, project: str, experiment_ids: Sequence[str],
                             clauses: Sequence[Clause] = ()) -> list[Document]:
        """The experiments' runs, newest first (at most ``SEARCH_SCAN_LIMIT``), narrowed by
        the ``clauses`` the store can evaluate; the caller still evaluates them all."""
        conditions = run_search.narrowing(clauses)
        return await self._docs.find_list(self._scope(project, experiment_ids, conditions),
                                          sort=[("start_time", -1), ("_id", 1)], limit=SEARCH_SCAN_LIMIT)

    async def search(self, project: str, experiment_ids: Sequence[str], clauses: Sequence[Clause],
                     orderings: Sequence[Ordering], *, skip: int, limit: int) -> list[Document] | None:
        """One page of the experiments' runs matching ``clauses`` in ``orderings`` order (ties by
        id), filtered, ordered and paged by the store, so only the page is read; None when the
        store cannot say the search exactly as ``lakecache.tracker.search`` evaluates it."""
        conditions, parts = run_search.where(clauses), run_search.segments(orderings)
        if conditions is None or parts is None:
            return None
        page: list[Document] = []
        for condition, sort in parts:
            scope = self._scope(project, experiment_ids, [*conditions, condition] if condition else conditions)
            sort = sort if any(path == "_id" for path, _ in sort) else [*sort, ("_id", 1)]
            found = await self._docs.find_list(scope, sort=sort, skip=skip, limit=limit - len(page))
            page.extend(found)
            if len(page) == limit:
                break
            # This segment is done: the next one starts after what of the skip it did not hold.
            skip = 0 if found or not skip else max(0, skip - await self._docs.count_documents(scope))
        return page

    @staticmethod
    def _scope(project: str, experiment_ids: Sequence[str], conditions: list[dict[str, Any]]) -> dict[str, Any]:
        scope: dict[str, Any] = {"project": project, "experiment_id": {"$in": list(experiment_ids)}}
        if conditions:
            scope["$and"] = conditions
        return scope

    async def add_params(self, run: Document, params: dict[str, str]) -> list[str]:
        """Record the params ``run`` does not have yet; the keys it has with another value (a
        param keeps its first value)."""
        held = run.get("params", {})
        new = {encode_key(k): v for k, v in params.items() if encode_key(k) not in held}
        refused = [k for k, v in params.items() if held.get(encode_key(k), v) != v]
        if new:
            await self._change(run, {f"params.{field}": value for field, value in new.items()})
        return refused

    async def set_tags(self, run: Document, tags: dict[str, str], deleted: Iterable[str]) -> None:
        """Set ``tags`` (the last value wins) and remove ``deleted`` (a tag also set stays set)."""
        held = run.get("tags", {})
        changed = {f"tags.{encode_key(k)}": v for k, v in tags.items() if held.get(encode_key(k)) != v}
        removed = {f"tags.{encode_key(k)}": "" for k in deleted if k not in tags and encode_key(k) in held}
        if changed or removed:
            await self._change(run, changed, unset=removed)

    async def note_latest(self, run: Document, latest: dict[str, dict[str, Any]]) -> None:
        """Keep, per metric, the point with the highest (step, timestamp, value): ``latest``
        holds each key's candidate ``{value, step, timestamp}``."""
        held = run.get("metrics", {})
        changed = {f"metrics.{encode_key(key)}": point for key, point in latest.items()
                   if _order(point) > _order(held.get(encode_key(key)))}
        if changed:
            await self._change(run, changed)

    async def finish(self, run: Document, status: RunState, end_time: datetime) -> None:
        if run.get("status") != status or run.get("end_time") != end_time:
            await self._change(run, {"status": status, "end_time": end_time})

    async def _change(self, run: Document, values: dict[str, Any], *, unset: dict[str, Any] | None = None) -> None:
        update: dict[str, Any] = {"$set": {**values, "updated_at": now()}}
        if unset:
            update["$unset"] = unset
        await self._docs.update_one({"_id": run["_id"], "project": run["project"]}, update)


def _order(point: dict[str, Any] | None) -> tuple:
    if point is None:
        return (-math.inf,)
    value = loaded_value(point["value"])
    return (point["step"], point["timestamp"], -math.inf if math.isnan(value) else value)
