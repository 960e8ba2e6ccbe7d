"""The ``metric_buckets`` collection: metric series, one document per (run, key, batch).

A batch's points of one key are stored together, with the batch's step range, so a series of
a million points is about a thousand documents and a step range reads the few whose range
overlaps it. The points are three packed little-endian columns (``steps`` and ``timestamps``,
epoch milliseconds, as int64; ``values`` as float64, NaN and infinities included): one binary
value per column instead of a thousand array elements makes a bucket a fraction of the
size and, on FerretDB, an order of magnitude faster to write and to scan (ADR 0013 has the
measurements). The ``_id`` derives from the run, the batch key and the metric key: storing a
batch again changes nothing.
"""

from __future__ import annotations

import array
import hashlib
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from lakecache.core.errors import Conflict
from lakecache.core.ports.docstore import Document, DocumentStore
from lakecache.tracker.repositories.fields import epoch_ms

COLLECTION = "metric_buckets"


@dataclass(frozen=True, slots=True)
class Point:
    step: int
    timestamp: int  # epoch milliseconds
    value: float


class MetricRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection(COLLECTION)

    async def create_indexes(self) -> None:
        await self._docs.create_index([("run_id", 1), ("key", 1), ("step_min", 1)])

    async def add_batch(self, project: str, run_id: str, batch: str, points: Sequence) -> int:
        """Store a batch of points (objects with ``key``, ``value``, ``step``, ``timestamp``);
        how many buckets were new (0: the batch was stored before)."""
        by_key: dict[str, list] = defaultdict(list)
        for point in points:
            by_key[point.key].append(point)
        docs = []
        for key, series in by_key.items():
            series.sort(key=lambda p: (p.step, p.timestamp))
            steps = [p.step for p in series]
            docs.append({
                "_id": _bucket_id(run_id, batch, key), "project": project, "run_id": run_id, "key": key,
                "step_min": steps[0], "step_max": steps[-1], "count": len(series), "steps": pack_column("q", steps),
                "values": pack_column("d", [p.value for p in series]),
                "timestamps": pack_column("q", [epoch_ms(p.timestamp) for p in series])})
        try:
            await self._docs.insert_many(docs)
            return len(docs)
        except Conflict:
            pass  # delivered before, perhaps only in part: store the buckets that are missing
        added = 0
        for doc in docs:
            try:
                await self._docs.insert_one(doc)
                added += 1
            except Conflict:
                continue
        return added

    async def series(self, project: str, run_id: str, key: str, min_step: int | None = None,
                     max_step: int | None = None) -> list[Point]:
        """The points of ``key`` with ``min_step <= step <= max_step``, by step then time."""
        query: Document = {"run_id": run_id, "key": key, "project": project}
        if max_step is not None:
            query["step_min"] = {"$lte": max_step}
        if min_step is not None:
            query["step_max"] = {"$gte": min_step}
        low = min_step if min_step is not None else -(2**63)
        high = max_step if max_step is not None else 2**63
        points = [Point(step, ts, value)
                  async for doc in self._docs.find(query, sort=[("step_min", 1), ("_id", 1)])
                  for step, ts, value in zip(unpack_column("q", doc["steps"]), unpack_column("q", doc["timestamps"]),
                                             unpack_column("d", doc["values"]), strict=True)
                  if low <= step <= high]
        points.sort(key=lambda p: (p.step, p.timestamp))
        return points


def pack_column(code: str, values: list) -> bytes:
    """``values`` as one little-endian column (``code``: ``q`` int64, ``d`` float64)."""
    column = array.array(code, values)
    if sys.byteorder == "big":
        column.byteswap()
    return column.tobytes()


def unpack_column(code: str, data: bytes) -> array.array:
    """The values of a column ``pack_column`` made."""
    column = array.array(code)
    column.frombytes(data)
    if sys.byteorder == "big":
        column.byteswap()
    return column


def _bucket_id(run_id: str, batch: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"{run_id}/{batch}/{digest}"
