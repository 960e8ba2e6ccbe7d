"""A search the store filters, orders and pages gives exactly what the tracker's own evaluation
of the MLflow filter gives over every run: many filters and orders over runs built to disagree
where the two could (numbers and strings, NaN and the infinities, missing keys and nulls, ties,
equal start times, both directions, pages), on the embedded store and on FerretDB."""

from __future__ import annotations

import random
from datetime import timedelta

from lakecache.tracker import search
from lakecache.tracker.repositories.fields import encode_key, stored_value
from lakecache.tracker.repositories.run_search import segments, where
from tests.tracker.conftest import PROJECT, T0

NAN, INF = float("nan"), float("inf")
MISSING = object()
ACC = [0.1, 0.5, 0.5, 0.9, 0.95, 1.0, -2.0, NAN, INF, -INF, MISSING, MISSING]
LOSS = [0.25, 0.25, 3.0, NAN, MISSING]
LR = ["0.1", "0.01", "1e-3", "0.1 ", MISSING]
OPT = ["adam", "Adam", "sgd", "adamw", "", MISSING]
MIXED = [0.1, "0.1", 1, "1", MISSING]  # a param written as a number by hand must never equal a string
TEAM = ["a", "b", "ab", "a_b", "é", MISSING]
NAMES = ["sweep-1", "sweep-10", "Sweep-2", None, MISSING]
STATUS = ["running", "finished", "failed", "killed"]

FILTERS = [
    "metrics.acc > 0.9", "metrics.acc >= 0.9", "metrics.acc < 0.5", "metrics.acc <= 0.5", "metrics.acc = 0.5",
    "metrics.acc != 0.5", "metrics.acc = 1", "metrics.acc > -1e308", "metrics.acc IS NULL",
    "metrics.acc IS NOT NULL", "metrics.loss != 3", "metrics.`loss` <= 0.25", "metrics.nope > 0",
    "metrics.acc > 1e999", "params.lr = '0.1'", "params.lr != '0.1'", "params.lr IN ('0.1', '0.01')",
    "params.lr NOT IN ('0.1')", "params.lr IS NULL", "params.lr IS NOT NULL", "params.lr LIKE '0.1'",
    "params.lr LIKE '0.%'", "params.lr LIKE '%'", "params.lr LIKE '0._'", "params.lr LIKE '%1'",
    "params.lr ILIKE '0.1%'", "params.opt ILIKE 'ADAM'", "params.opt = ''", "params.opt LIKE 'adam%'",
    "params.mixed = '0.1'", "params.mixed != '0.1'", "params.mixed IN ('1', '0.1')", "params.mixed NOT IN ('1')",
    "params.mixed IS NOT NULL", "params.`a.b` = 'dotted'", "params.`a.b` IS NULL", "params.`we\"ird` = 'x'",
    "tags.team = 'a'", "tags.team LIKE 'a%'", "tags.team LIKE 'a_b'", "tags.team LIKE '%'", "tags.team = 'é'",
    "tags.team NOT IN ('a', 'b')", "attributes.run_name = 'sweep-1'", "attributes.run_name LIKE 'sweep-1%'",
    "attributes.run_name IS NULL", "attributes.run_name != 'sweep-1'", "run_name ILIKE 'sweep%'",
    "attributes.status = 'FINISHED'", "attributes.status = 'finished'", "attributes.status != 'RUNNING'",
    "attributes.status IN ('FAILED', 'killed')", "attributes.status NOT IN ('FAILED')",
    "attributes.status IS NULL", "attributes.status IS NOT NULL", "attributes.status LIKE 'FIN%'",
    "attributes.user_id = 'ada'", "attributes.experiment_id != 'x'", "attributes.lifecycle_stage = 'active'",
    "attributes.lifecycle_stage != 'active'", "attributes.lifecycle_stage IN ('deleted')",
    "attributes.start_time > {t3}", "attributes.start_time >= {t3}", "attributes.start_time < {t3}",
    "attributes.start_time <= {t3}", "attributes.start_time = {t3}", "attributes.start_time != {t3}",
    "attributes.start_time > {t3}.5", "attributes.start_time < {t3}.5", "attributes.start_time = {t3}.5",
    "attributes.start_time != {t3}.5", "attributes.end_time IS NULL", "attributes.end_time >= {t3}",
    "attributes.end_time != {t3}", "attributes.run_id = 'r07'", "attributes.run_id LIKE 'r1%'",
    "attributes.run_id NOT IN ('r01', 'r02')", "attributes.artifact_uri IS NULL",
]
ORDERS = [
    None, ["metrics.acc"], ["metrics.acc DESC"], ["metrics.loss ASC", "attributes.start_time DESC"],
    ["metrics.loss DESC", "params.lr DESC"], ["params.lr"], ["params.lr DESC"], ["params.opt ASC", "run_id"],
    ["tags.team DESC", "attributes.start_time ASC"], ["attributes.start_time ASC"], ["start_time DESC"],
    ["attributes.end_time ASC"], ["attributes.end_time DESC", "status ASC"], ["attributes.status DESC"],
    ["attributes.run_name"], ["attributes.run_name DESC", "params.lr DESC"], ["run_id DESC"],
    ["params.lr", "metrics.acc DESC"], ["params.nope", "metrics.acc"], ["attributes.lifecycle_stage", "params.lr"],
    ["params.lr DESC", "params.lr ASC"], ["attributes.experiment_id", "attributes.start_time"],
    ["attributes.start_time DESC", "params.lr ASC"],
]
#: What the store must take itself (the rest may fall back, but must still agree).
PUSHED_FILTERS = ["metrics.acc > 0.9 and params.lr = '0.1'", "params.lr LIKE '0.%' and attributes.status != 'RUNNING'",
                  "tags.team IN ('a', 'b') and attributes.start_time <= {t3}.5 and metrics.loss IS NOT NULL"]
PUSHED_ORDERS = [["metrics.acc DESC"], ["metrics.acc"], ["params.lr"], ["params.lr", "attributes.start_time DESC"],
                 ["metrics.loss", "tags.team DESC", "run_id"], ["attributes.end_time ASC"]]


def _pick(rng: random.Random, pool: list, i: int) -> object:
    return pool[i % len(pool)] if rng.random() < 0.5 else rng.choice(pool)


def _run(rng: random.Random, i: int, experiment: str) -> tuple[str, dict]:
    metrics = {key: {"value": stored_value(v), "step": 1, "timestamp": 0}
               for key, v in (("acc", _pick(rng, ACC, i)), ("loss", _pick(rng, LOSS, i))) if v is not MISSING}
    params = {key: v for key, v in (("lr", _pick(rng, LR, i)), ("opt", _pick(rng, OPT, i)),
                                    ("mixed", _pick(rng, MIXED, i)), ("a.b", rng.choice(["dotted", MISSING])))
              if v is not MISSING}
    team = _pick(rng, TEAM, i)
    status = _pick(rng, STATUS, i)
    fields = {"experiment_id": experiment, "experiment": "sweep", "user": rng.choice(["ada", "bob"]),
              "start_time": T0 + timedelta(milliseconds=rng.choice([0, 1, 3, 3, 3, 7])),  # equal starts
              "status": status,
              "end_time": None if status == "running" else T0 + timedelta(milliseconds=rng.randint(2, 4)),
              "params": {encode_key(k): v for k, v in params.items()},
              "metrics": {encode_key(k): p for k, p in metrics.items()},
              "tags": {} if team is MISSING else {"team": team}}
    name = _pick(rng, NAMES, i)
    if name is not MISSING:
        fields["name"] = name
    return f"r{i:02d}", fields


async def _runs(api) -> tuple[object, str]:
    runs, rng = api.tracker.runs, random.Random(20261207)
    experiment, other = await api.experiment("sweep"), await api.experiment("other")
    for i in range(60):
        run_id, fields = _run(rng, i, experiment)
        await runs.start(PROJECT, run_id, fields)
    for i in range(60, 64):  # other experiments' and projects' runs that match everything
        await runs.start(PROJECT, *(_run(rng, i, other)))
        await runs.start("elsewhere", f"x{i}", _run(rng, i, experiment)[1])
    return runs, experiment


def _text(filter_text: str | None) -> str | None:
    return filter_text and filter_text.replace("{t3}", str(int((T0 + timedelta(milliseconds=3)).timestamp() * 1000)))


async def _both(runs, experiment: str, filter_text: str | None, order_by: list[str] | None, *, skip: int = 0,
                limit: int = 1000) -> tuple[list[str], list[str]]:
    clauses, orderings = search.parse_filter(_text(filter_text)), search.parse_order(order_by)
    answers = []
    for in_store in (True, False):
        page = await search.find(runs, PROJECT, [experiment], clauses, orderings, skip=skip, limit=limit,
                                 in_store=in_store)
        answers.append([r["_id"] for r in page])
    return answers[0], answers[1]


async def test_the_store_answers_every_search_as_the_tracker_evaluates_it(api):
    runs, experiment = await _runs(api)
    rng = random.Random(7)
    cases = [(f, None) for f in FILTERS] + [(None, o) for o in ORDERS]
    cases += [(" and ".join(rng.sample(FILTERS, rng.choice([2, 3]))), rng.choice(ORDERS)) for _ in range(60)]
    cases += [(f, o) for f in PUSHED_FILTERS for o in PUSHED_ORDERS]
    for filter_text, order_by in cases:
        in_store, reference = await _both(runs, experiment, filter_text, order_by)
        assert in_store == reference, (filter_text, order_by)


async def test_pages_from_the_store_are_the_slices_of_the_whole_answer(api):
    runs, experiment = await _runs(api)
    for filter_text, order_by in [(None, ["metrics.acc"]), (None, ["metrics.acc DESC", "run_id DESC"]),
                                  ("params.lr IS NOT NULL", ["params.opt", "attributes.start_time"]),
                                  (None, ["attributes.run_name"]), ("metrics.loss < 10", ["metrics.loss DESC"]),
                                  (None, None)]:
        clauses, orderings = search.parse_filter(filter_text), search.parse_order(order_by)
        _, whole = await _both(runs, experiment, filter_text, order_by)
        for limit in (4, 7):
            for skip in range(0, len(whole) + limit, limit):
                page = await search.find(runs, PROJECT, [experiment], clauses, orderings, skip=skip, limit=limit)
                assert [r["_id"] for r in page] == whole[skip:skip + limit], (filter_text, order_by, skip, limit)


def test_the_common_searches_are_the_stores_and_the_rest_falls_back():
    for filter_text in PUSHED_FILTERS:
        assert where(search.parse_filter(_text(filter_text))) is not None, filter_text
    for order_by in PUSHED_ORDERS:
        assert segments(search.parse_order(order_by)) is not None, order_by
    for filter_text in ["params.lr LIKE '%1'", "params.opt ILIKE 'ADAM'", "attributes.status LIKE 'FIN%'",
                        "metrics.acc > 1e999"]:
        assert where(search.parse_filter(filter_text)) is None, filter_text
    for order_by in [["params.lr", "metrics.acc DESC"], ["metrics.acc", "params.lr ASC"]]:
        assert segments(search.parse_order(order_by)) is None, order_by


def test_a_param_compared_with_a_string_never_matches_a_number_nor_a_metric_a_string():
    condition = where(search.parse_filter("params.lr = '0.1' and metrics.acc > 0.9"))
    assert condition == [{"params.lr": "0.1"}, {"$or": [{"metrics.acc.value": {"$gt": 0.9}},
                                                        {"metrics.acc.value": "Infinity"}]}]
