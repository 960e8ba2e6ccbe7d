"""Benchmark: layout of the tracker's metric series in the document store, through the port,
on the embedded SQLite store and on FerretDB (the test server from tests/servers).

A: one document per point {_id, run_id, key, step, value, ts}, index (run_id, key, step).
B: one document per ingested batch (<= 1,000 points of a key) {_id from run, key and batch key,
run_id, key, step_min, step_max, count, steps, values, timestamps}, indexes (run_id, key,
step_min) and (run_id, key, step_max); a range is step_min <= hi and step_max >= lo, cut and
sorted in Python. C: B with the points as three packed little-endian binary columns (int64
steps, int64 timestamps, float64 values), as the tracker stores them
(``lakecache.tracker.repositories.metrics``). Measured (medians of --runs, fresh database each
run): ingest of --points in batches of 1,000 (one writer), a 10,000-step range in the middle
raw and downsampled to 1,000 points, the whole series downsampled, storage. Non-finite values are stored as "nan"/"inf".

    .venv/bin/python -m bench.tracker_metric_layout                            # 1,000,000 points, 3 runs
    .venv/bin/python -m bench.tracker_metric_layout --points 20000 --runs 1    # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import os
import shutil
import statistics
import tempfile
import time
import uuid
from operator import itemgetter
from pathlib import Path

from lakecache.core.adapters.registry import document_store_from_url
from lakecache.tracker.repositories.metrics import pack_column, unpack_column

RUN_ID, KEY, COLLECTION = "bench-run", "train/loss", "metrics"
BATCH, RANGE, TARGET = 1000, 10_000, 1000
METRICS = [("ingest", "ingest points/s"), ("range", "range 10k ms"), ("range_ds", "range 10k -> 1k ms"),
           ("full_ds", "full -> 1k ms"), ("size", "storage MB")]
Row = tuple[int, float, int]  # step, value, timestamp in ms


def series(points: int) -> list[Row]:
    """A loss-like curve with a non-finite value now and then (every 100,003rd point)."""
    t0 = 1_800_000_000_000
    rows = []
    for step in range(points):
        value = 2.0 * math.exp(-step / 200_000) + 0.05 * math.sin(step / 37) + (step % 89) / 890
        if step % 100_003 == 99_999:
            value = (math.nan, math.inf, -math.inf)[step // 100_003 % 3]
        rows.append((step, value, t0 + 250 * step + step % 7))
    return rows


def encode(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)  # 'nan', 'inf', '-inf'; float() reads them back


def downsample(rows: list[Row], target: int = TARGET) -> list[Row]:
    """Min/max per bucket: ``target // 2`` equal-count buckets of the step-ordered rows, each
    kept as its lowest and highest finite value in step order (its first row if none is
    finite), so spikes survive. At most ``target`` rows."""
    if len(rows) <= target:
        return rows
    buckets, out = target // 2, []
    for b in range(buckets):
        chunk = rows[len(rows) * b // buckets: len(rows) * (b + 1) // buckets]
        finite = [r for r in chunk if math.isfinite(r[1])]
        picks = {min(finite, key=itemgetter(1)), max(finite, key=itemgetter(1))} if finite else {chunk[0]}
        out.extend(sorted(picks, key=itemgetter(0)))
    return out


# Layout A's reads on SQLite go in windows of 256 steps: find() sorts by an expression its
# indexes do not hold and re-runs the filter through the (run_id, key, step) index for every
# 256-document fetch, so one sorted find() over a long series is quadratic (1M points were still
# being read after 7 min). FerretDB gets one find() per read (it filters in Go; every extra
# query would rescan the collection).
WINDOW = {"sqlite": 256, "ferretdb": 0}


class PointPerDocument:
    name = "A"

    async def setup(self, coll) -> None:
        await coll.create_index([("run_id", 1), ("key", 1), ("step", 1)])

    async def write(self, coll, batch_no: int, rows: list[Row]) -> None:
        await coll.insert_many([{"run_id": RUN_ID, "key": KEY, "step": s, "value": encode(v), "ts": t}
                                for s, v, t in rows])

    async def read(self, coll, lo: int | None = None, hi: int | None = None) -> list[Row]:
        base, projection = {"run_id": RUN_ID, "key": KEY}, {"_id": 0, "step": 1, "value": 1, "ts": 1}
        if not self.window:
            query = base if lo is None else {**base, "step": {"$gte": lo, "$lte": hi}}
            docs = await coll.find_list(query, sort=[("step", 1)], projection=projection)
        else:
            if lo is None:  # the series' bounds, then windows
                ends = [await coll.find_one(base, sort=[("step", d)], projection=projection) for d in (1, -1)]
                if ends[0] is None:
                    return []
                lo, hi = ends[0]["step"], ends[1]["step"]
            docs = []
            for first in range(lo, hi + 1, self.window):
                window = {"$gte": first, "$lte": min(hi, first + self.window - 1)}
                docs += await coll.find_list({**base, "step": window}, projection=projection)
            docs.sort(key=itemgetter("step"))
        return [(d["step"], float(d["value"]), d["ts"]) for d in docs]


class Bucketed:
    name = "B"

    async def setup(self, coll) -> None:
        await coll.create_index([("run_id", 1), ("key", 1), ("step_min", 1)])
        await coll.create_index([("run_id", 1), ("key", 1), ("step_max", 1)])

    @staticmethod
    def bucket_id(run_id: str, key: str, batch_key: str) -> str:
        """Deterministic, so a retried batch collides (Conflict) instead of duplicating."""
        return hashlib.sha256(f"{run_id}\0{key}\0{batch_key}".encode()).hexdigest()[:32]

    async def write(self, coll, batch_no: int, rows: list[Row]) -> None:
        steps = [r[0] for r in rows]
        await coll.insert_one({"_id": self.bucket_id(RUN_ID, KEY, str(batch_no)), "run_id": RUN_ID, "key": KEY,
                               "step_min": min(steps), "step_max": max(steps), "count": len(rows),
                               "steps": steps, "values": [encode(r[1]) for r in rows],
                               "timestamps": [r[2] for r in rows]})

    async def read(self, coll, lo: int | None = None, hi: int | None = None) -> list[Row]:
        query: dict = {"run_id": RUN_ID, "key": KEY}
        if lo is not None:
            query.update(step_min={"$lte": hi}, step_max={"$gte": lo})
        rows: list[Row] = []
        for d in await coll.find_list(query):  # one find(); cut and sorted here
            rows.extend(zip(d["steps"], map(float, d["values"]), d["timestamps"], strict=True))
        if lo is not None:
            rows = [r for r in rows if lo <= r[0] <= hi]
        rows.sort(key=itemgetter(0))  # buckets may overlap in steps; linear when they do not
        return rows


class Packed(Bucketed):
    name = "C"

    async def write(self, coll, batch_no: int, rows: list[Row]) -> None:
        steps = [r[0] for r in rows]
        await coll.insert_one({"_id": self.bucket_id(RUN_ID, KEY, str(batch_no)), "run_id": RUN_ID, "key": KEY,
                               "step_min": min(steps), "step_max": max(steps), "count": len(rows),
                               "steps": pack_column("q", steps), "values": pack_column("d", [r[1] for r in rows]),
                               "timestamps": pack_column("q", [r[2] for r in rows])})

    async def read(self, coll, lo: int | None = None, hi: int | None = None) -> list[Row]:
        query: dict = {"run_id": RUN_ID, "key": KEY}
        if lo is not None:
            query.update(step_min={"$lte": hi}, step_max={"$gte": lo})
        rows: list[Row] = []
        for d in await coll.find_list(query):
            rows.extend(zip(unpack_column("q", d["steps"]), unpack_column("d", d["values"]),
                            unpack_column("q", d["timestamps"]), strict=True))
        if lo is not None:
            rows = [r for r in rows if lo <= r[0] <= hi]
        rows.sort(key=itemgetter(0))
        return rows


class Store:
    """A fresh database per run: a new SQLite file, or a new FerretDB database."""

    def __init__(self, kind: str, work: Path, server=None) -> None:
        self.kind, self.work, self.server = kind, work, server

    def fresh(self) -> tuple[str, str]:
        name = f"m{uuid.uuid4().hex[:12]}"
        if self.kind == "sqlite":
            return f"sqlite:///{self.work / (name + '.db')}", name
        return self.server.url.replace("/?", f"/{name}?"), name

    def files(self, name: str) -> list[Path]:
        root = self.work if self.kind == "sqlite" else self.server.data
        return [p for p in root.glob(f"{name}*") if p.is_file()]

    def size_mb(self, name: str) -> float | None:
        return sum(p.stat().st_size for p in files) / 1e6 if (files := self.files(name)) else None

    def cleanup(self, url: str, name: str) -> None:
        if self.kind == "sqlite":
            for p in self.files(name):
                p.unlink()
            return
            from pymongo import MongoClient  # cleanup only, outside the port and the timings

            with MongoClient(url) as client:
                client.drop_database(name)


async def measure(store: Store, layout, rows: list[Row]) -> dict[str, float | None]:
    url, name = store.fresh()
    result: dict[str, float | None] = {}
    async with document_store_from_url(url) as docs:
        coll, layout.window = docs.collection(COLLECTION), WINDOW[store.kind]
        await layout.setup(coll)
        start = time.perf_counter()
        for batch_no, first in enumerate(range(0, len(rows), BATCH)):
            await layout.write(coll, batch_no, rows[first:first + BATCH])
        result["ingest"] = len(rows) / (time.perf_counter() - start)
        hi = (lo := max(0, len(rows) // 2 - RANGE // 2)) + RANGE - 1
        start = time.perf_counter()
        got = await layout.read(coll, lo, hi)
        result["range"] = (time.perf_counter() - start) * 1e3
        assert [r[0] for r in got] == list(range(lo, min(hi, len(rows) - 1) + 1)), "wrong range"
        start = time.perf_counter()
        got = downsample(await layout.read(coll, lo, hi))
        result["range_ds"] = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        full = downsample(got := await layout.read(coll))
        result["full_ds"] = (time.perf_counter() - start) * 1e3
        assert len(got) == len(rows) and len(full) <= TARGET, "wrong full read"
        result["size"] = store.size_mb(name)  # FerretDB: its file (+ WAL) for this database
    if store.kind == "sqlite":
        result["size"] = store.size_mb(name)  # once closed, with the WAL checkpointed
    store.cleanup(url, name)
    return result


def cell(value: float | None, metric: str) -> str:
    return "n/a" if value is None else f"{value:,.0f}" if metric == "ingest" else f"{value:,.1f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", choices=["sqlite", "ferretdb", "both"], default="both")
    parser.add_argument("--ferretdb-a-points", type=int, default=None,
                        help="fewer points for layout A on FerretDB only; its full-read time and size "
                             "are then extrapolated linearly to --points (marked *)")
    args = parser.parse_args()
    kinds = ["sqlite", "ferretdb"] if args.store == "both" else [args.store]
    print(f"{args.points:,} points, batches of {BATCH}, median of {args.runs} run(s); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before", flush=True)
    work = Path(tempfile.mkdtemp(prefix="lakecache-bench-metrics-"))
    server, results, scaled = None, {}, set()
    try:
        for kind in kinds:
            if kind == "ferretdb":
                from tests.servers.registry import start as start_server

                server = start_server("mongo", work / "servers")
            store = Store(kind, work, server)
            for layout in (PointPerDocument(), Bucketed(), Packed()):
                points = args.points
                if kind == "ferretdb" and layout.name == "A" and args.ferretdb_a_points:
                    points = min(points, args.ferretdb_a_points)
                rows = series(points)
                runs = []
                for run in range(args.runs):
                    runs.append(await measure(store, layout, rows))
                    print(f"  {kind} {layout.name} run {run + 1} ({points:,} points): "
                          + ", ".join(f"{m} {cell(runs[-1][m], m)}" for m, _ in METRICS), flush=True)
                med = {m: (statistics.median(v) if None not in (v := [r[m] for r in runs]) else None)
                       for m, _ in METRICS}
                if points != args.points:
                    factor = args.points / points
                    for m in ("full_ds", "size"):
                        med[m] = med[m] * factor if med[m] is not None else None
                    scaled.add(kind)
                results[(kind, layout.name)] = med
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    header = f"{'metric':<20}" + "".join(f"{kind + ' A':>14}{kind + ' B':>14}{kind + ' C':>14}{'B/A':>8}{'C/A':>8}"
                                         for kind in kinds)
    print(header)
    for m, label in METRICS:
        line = f"{label:<20}"
        for kind in kinds:
            a, b, c = (results[(kind, name)][m] for name in "ABC")
            star = "*" if kind in scaled and m in ("full_ds", "size", "ingest") else ""
            line += f"{cell(a, m) + star:>14}{cell(b, m):>14}{cell(c, m):>14}"
            line += "".join(f"{x / a:>7.2f}x" if a and x is not None else f"{'n/a':>8}" for x in (b, c))
        print(line)
    print("Ratios above 1 for ingest and below 1 for ms and MB mean a better layout than A.")
    for kind in sorted(scaled):
        print(f"* {kind} layout A measured with {args.ferretdb_a_points:,} points, not {args.points:,}: "
              "ingest points/s as measured (assumes a constant rate), full-read ms and MB scaled "
              f"linearly by {args.points / args.ferretdb_a_points:.0f}x; the range reads are as measured.")
    print(f"load average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    asyncio.run(main())
