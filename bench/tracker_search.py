"""Benchmark: the tracker's run search at 10,000 runs in one experiment, on the embedded store.

Builds ``--runs`` run documents through ``RunRepository`` (8 params, 5 latest metrics — a few
NaN and infinite —, 3 tags, runs without some of them) in a temporary SQLite store, then times
``lakecache.tracker.search.find`` for each query two ways: evaluated in the tracker over every
run (``in_store=False``: what every search with a filter or an order other than start time
did before the store took them) and as it runs now (pushed into the store where it can be).
A page is the dashboard's runs table: 50 runs and one more to know whether there is a next.

    .venv/bin/python -m bench.tracker_search                 # 10,000 runs, 30 timings per query
    .venv/bin/python -m bench.tracker_search --runs 1000 --repeat 5   # smoke run

Prints median and p95 in milliseconds per query and path; the goal is p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lakecache.core.adapters.registry import document_store_from_url
from lakecache.tracker import search
from lakecache.tracker.repositories.fields import stored_value
from lakecache.tracker.repositories.runs import RunRepository

PROJECT, EXPERIMENT, PAGE = "bench", "e1", 50
QUERIES = {
    "filtered": ("metrics.acc > 0.9 and params.lr = '0.1'", None, 0),
    "ordered by metric": (None, ["metrics.acc DESC"], 0),
    "filtered and ordered": ("metrics.acc > 0.5 and params.optimizer = 'adam'", ["metrics.loss ASC"], 0),
    "paged (page 5)": ("params.lr IN ('0.1', '0.01')", ["params.batch DESC", "attributes.start_time DESC"],
                       4 * PAGE),
    "LIKE (falls back)": ("tags.model LIKE '%net%'", None, 0),
}


def _metric(rng: random.Random, value: float) -> dict:
    if rng.random() < 0.01:
        value = rng.choice([float("nan"), float("inf"), float("-inf")])
    return {"value": stored_value(value), "step": 100, "timestamp": 1_700_000_000_000}


async def populate(runs: RunRepository, count: int) -> None:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(count):
        params = {"lr": rng.choice(["0.1", "0.01", "0.001", "0.0001"]), "batch": str(rng.choice([32, 64, 128, 256])),
                  "optimizer": rng.choice(["adam", "sgd", "adamw"]), "epochs": str(rng.randint(1, 100)),
                  "dropout": f"{rng.random():.2f}", "layers": str(rng.randint(2, 50)),
                  "seed": str(rng.randint(0, 10**6)), "warmup": str(rng.randint(0, 1000))}
        metrics = {"acc": rng.random(), "loss": rng.expovariate(1), "f1": rng.random(),
                   "val_acc": rng.random(), "val_loss": rng.expovariate(1)}
        if rng.random() < 0.05:  # runs that failed before logging
            params, metrics = {}, {}
        await runs.start(PROJECT, f"run-{i:05d}", {
            "experiment_id": EXPERIMENT, "experiment": "sweep", "name": f"sweep-{i}", "user": "ada",
            "start_time": start + timedelta(seconds=i // 3),  # equal start times too
            "params": params, "metrics": {k: _metric(rng, v) for k, v in metrics.items()},
            "tags": {"model": rng.choice(["resnet50", "vit-b", "convnext"]), "team": "vision", "host": f"node{i % 8}"},
        })


async def timed(runs: RunRepository, filter_text: str | None, order_by: list[str] | None, skip: int,
                in_store: bool, repeat: int) -> list[float]:
    clauses, orderings = search.parse_filter(filter_text), search.parse_order(order_by)
    seconds = []
    for _ in range(repeat):
        began = time.perf_counter()
        await search.find(runs, PROJECT, [EXPERIMENT], clauses, orderings, skip=skip, limit=PAGE + 1,
                          in_store=in_store)
        seconds.append(time.perf_counter() - began)
    return seconds


def _summary(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        async with document_store_from_url(f"sqlite:///{Path(work) / 'tracker.db'}") as store:
            runs = RunRepository(store)
            await runs.create_indexes()
            began = time.perf_counter()
            await populate(runs, args.runs)
            print(f"{args.runs} runs written in {time.perf_counter() - began:.1f} s; page of {PAGE} (+1)")
            for name, (filter_text, order_by, skip) in QUERIES.items():
                for in_store in (False, True):
                    seconds = await timed(runs, filter_text, order_by, skip, in_store, args.repeat)
                    where = "store where it can" if in_store else "tracker (before)"
                    print(f"{name:22} {where:19} {_summary(seconds)}")


if __name__ == "__main__":
    asyncio.run(main())
