"""Reading runs back: search with MLflow's filter strings, compare, metric history by step range
(paged, or downsampled for charts) and a million-point series."""

from __future__ import annotations

import time
from types import SimpleNamespace

from lakecache.core.contracts.runs import MetricPoint, RunMetricsLogged, RunParamsLogged, RunStarted, RunTagsSet
from tests.tracker.conftest import PROJECT, at

SEARCH = f"/api/v1/projects/{PROJECT}/runs/search"


async def sweep(api) -> str:
    """Four runs of one experiment: lr 0.1/0.01/0.001/none, acc 0.7/0.9/0.95/none."""
    experiment = await api.experiment()
    table = [("r1", "0.1", 0.7, "a"), ("r2", "0.01", 0.9, "b"), ("r3", "0.001", 0.95, "b"), ("r4", None, None, None)]
    events = []
    for i, (run_id, lr, acc, team) in enumerate(table):
        events.append(RunStarted(run_id=run_id, project=PROJECT, experiment="resnet", experiment_id=experiment,
                                 name=f"sweep-{run_id}", user="ada", start_time=at(i)))
        if lr is not None:
            events.append(RunParamsLogged(run_id=run_id, project=PROJECT, params={"lr": lr, "opt": "adam"}))
            events.append(RunMetricsLogged(run_id=run_id, project=PROJECT,
                                           metrics=[MetricPoint(key="acc", value=acc, step=1, timestamp=at(9))]))
            events.append(RunTagsSet(run_id=run_id, project=PROJECT, tags={"team": team}))
    await api.send(*events)
    return experiment


async def names(api, experiment: str, filter_text: str | None = None, order_by: list[str] | None = None,
                **more) -> list[str]:
    reply = await api.call("POST", SEARCH, json_body={"experiment_ids": [experiment], "filter": filter_text,
                                                      "order_by": order_by, **more})
    assert reply.status == 200, reply.body
    return [r["id"] for r in reply.body["items"]]


async def test_search_filters_like_mlflow(api):
    experiment = await sweep(api)
    assert await names(api, experiment) == ["r4", "r3", "r2", "r1"]  # newest start first
    assert await names(api, experiment, "metrics.acc > 0.8") == ["r3", "r2"]
    assert await names(api, experiment, "metrics.acc >= 0.9 and params.lr = '0.01'") == ["r2"]
    assert await names(api, experiment, "params.lr != '0.1'") == ["r3", "r2"]  # r4 has no lr: no match
    assert await names(api, experiment, "tags.team IN ('a', 'b') AND tags.team != 'a'") == ["r3", "r2"]
    assert await names(api, experiment, "params.lr LIKE '0.0%'") == ["r3", "r2"]
    assert await names(api, experiment, "attributes.run_name ILIKE 'SWEEP-R1'") == ["r1"]
    assert await names(api, experiment, "attributes.status = 'RUNNING'") == ["r4", "r3", "r2", "r1"]
    assert await names(api, experiment, "params.lr IS NULL") == ["r4"]
    assert await names(api, experiment, "metrics.`acc` < 0.8") == ["r1"]
    assert await names(api, experiment, order_by=["metrics.acc DESC"]) == ["r3", "r2", "r1", "r4"]
    assert await names(api, experiment, order_by=["params.lr ASC"]) == ["r3", "r2", "r1", "r4"]


async def test_search_pages_and_refuses_what_it_cannot_read(api):
    experiment = await sweep(api)
    first = await api.call("POST", SEARCH, json_body={"experiment_ids": [experiment], "limit": 3})
    assert [r["id"] for r in first.body["items"]] == ["r4", "r3", "r2"]
    second = await api.call("POST", SEARCH, json_body={"experiment_ids": [experiment], "limit": 3,
                                                       "page_token": first.body["next_page_token"]})
    assert [r["id"] for r in second.body["items"]] == ["r1"] and second.body["next_page_token"] is None
    for bad, words in [("metrics.acc > 'x'", "compares with a number"), ("params.lr > '1'", "is a string"),
                       ("metrics.acc > 1 OR metrics.acc < 0", "OR is not supported"), ("lr = 1", "unknown attribute"),
                       ("params.lr = ", "ends too early"), ("foo.lr = '1'", "is not metrics, params")]:
        reply = await api.call("POST", SEARCH, json_body={"experiment_ids": [experiment], "filter": bad})
        assert reply.status == 400 and words in reply.body["detail"], (bad, reply.body)
    wrong_token = await api.call("POST", SEARCH, json_body={"experiment_ids": [experiment], "page_token": "zz"})
    assert wrong_token.status == 400


async def test_a_listing_without_a_filter_pages_in_the_same_order_as_a_filtered_search(api):
    """Without a filter the store orders and pages by start time; the order must be the one the
    in-memory search gives (ties by id), both ways, across pages."""
    experiment = await sweep(api)
    await api.send(*(RunStarted(run_id=run_id, project=PROJECT, experiment="resnet", experiment_id=experiment,
                                name=run_id, user="ada", start_time=at(2)) for run_id in ("r0", "r9", "r5")))

    async def paged(order: list[str] | None) -> list[str]:
        seen, token = [], None
        while True:
            reply = await api.call("POST", SEARCH, json_body={"experiment_ids": [experiment], "limit": 2,
                                                              "order_by": order, "page_token": token})
            seen += [r["id"] for r in reply.body["items"]]
            if not (token := reply.body["next_page_token"]):
                return seen

    everything = "attributes.status = 'RUNNING'"  # matches every run, through the in-memory search
    assert await paged(None) == await names(api, experiment, everything) == ["r4", "r0", "r3", "r5", "r9", "r2",
                                                                             "r1"]
    ascending = ["attributes.start_time ASC"]
    assert await paged(ascending) == await names(api, experiment, everything, ascending)


async def test_another_projects_experiment_finds_nothing(api):
    experiment = await sweep(api)
    reply = await api.call("POST", "/api/v1/projects/audio/runs/search", json_body={"experiment_ids": [experiment]})
    assert reply.status == 200 and reply.body["items"] == []
    assert (await api.call("GET", f"/api/v1/projects/audio/experiments/{experiment}")).status == 404


async def test_experiments_are_unique_by_name_within_a_project(api):
    first = await api.experiment("resnet")
    taken = await api.call("POST", f"/api/v1/projects/{PROJECT}/experiments", json_body={"name": "resnet"})
    assert taken.status == 409
    elsewhere = await api.experiment("resnet", project="audio")
    assert elsewhere != first
    by_name = await api.call("GET", f"/api/v1/projects/{PROJECT}/experiments", params={"name": "resnet"})
    assert [e["id"] for e in by_name.body["items"]] == [first]


async def test_history_by_step_range_in_pages_and_downsampled(api):
    experiment = await api.experiment()
    await api.send(RunStarted(run_id="h1", project=PROJECT, experiment="resnet", experiment_id=experiment, user="ada"))
    batches = [RunMetricsLogged(run_id="h1", project=PROJECT, batch=f"b{b}", metrics=[
        MetricPoint(key="loss", value=1 / (1 + s), step=s, timestamp=at(s)) for s in range(b * 1000, b * 1000 + 1000)])
        for b in range(5)]
    await api.send(*batches)
    path = f"/api/v1/projects/{PROJECT}/runs/h1/metric-history"
    ranged = await api.call("GET", path, params={"key": "loss", "min_step": 1500, "max_step": 3499})
    assert [p["step"] for p in ranged.body["points"]] == list(range(1500, 3500))
    steps, token = [], None
    while True:
        page = await api.call("GET", path, params={"key": "loss", "limit": 1200, "page_token": token})
        steps += [p["step"] for p in page.body["points"]]
        token = page.body["next_page_token"]
        if token is None:
            break
    assert steps == list(range(5000))
    thin = await api.call("GET", path, params={"key": "loss", "max_points": 100})
    assert len(thin.body["points"]) == 100 and thin.body["downsampled"] and thin.body["total"] == 5000
    assert thin.body["points"][0]["step"] == 0 and thin.body["points"][-1]["step"] == 4999
    unknown = await api.call("GET", path, params={"key": "nope"})
    assert unknown.status == 200 and unknown.body["points"] == []


async def test_a_million_point_series_is_written_and_read_by_step_range(api):
    experiment = await api.experiment()
    await api.send(RunStarted(run_id="big", project=PROJECT, experiment="resnet", experiment_id=experiment,
                              user="ada"))
    metrics = api.tracker.metrics
    for b in range(1000):
        batch = [SimpleNamespace(key="loss", value=s * 0.5, step=s, timestamp=at(s))
                 for s in range(b * 1000, b * 1000 + 1000)]
        await metrics.add_batch(PROJECT, "big", f"b{b}", batch)
    path = f"/api/v1/projects/{PROJECT}/runs/big/metric-history"
    started = time.perf_counter()
    ranged = await api.call("GET", path, params={"key": "loss", "min_step": 500_000, "max_step": 509_999})
    ranged_seconds = time.perf_counter() - started
    assert [p["step"] for p in ranged.body["points"]] == list(range(500_000, 510_000))
    assert ranged.body["points"][10]["value"] == 500_010 * 0.5
    thin = await api.call("GET", path, params={"key": "loss", "min_step": 500_000, "max_step": 509_999,
                                               "max_points": 1000})
    assert len(thin.body["points"]) == 1000 and thin.body["total"] == 10_000
    assert ranged_seconds < 5  # the measured target (1 s) is the benchmark's; this guards against a full scan


async def test_compare_lines_up_params_and_metrics_and_names_the_differences(api):
    await sweep(api)
    compare = f"/api/v1/projects/{PROJECT}/runs/compare"
    reply = await api.call("POST", compare, json_body={"run_ids": ["r1", "r2", "r4"]})
    assert reply.status == 200, reply.body
    body = reply.body
    assert [r["id"] for r in body["runs"]] == ["r1", "r2", "r4"]
    assert body["params"] == {"lr": {"r1": "0.1", "r2": "0.01"}, "opt": {"r1": "adam", "r2": "adam"}}
    assert body["metrics"] == {"acc": {"r1": 0.7, "r2": 0.9}}
    assert body["differing"] == {"params": ["lr", "opt"], "metrics": ["acc"]}  # r4 lacks opt: it differs too
    same = await api.call("POST", f"/api/v1/projects/{PROJECT}/runs/compare", json_body={"run_ids": ["r2", "r3"]})
    assert same.body["differing"]["params"] == ["lr"]
    missing = await api.call("POST", f"/api/v1/projects/{PROJECT}/runs/compare", json_body={"run_ids": ["r1", "zz"]})
    assert missing.status == 404 and "'zz'" in missing.body["detail"]
    other = await api.call("POST", "/api/v1/projects/audio/runs/compare", json_body={"run_ids": ["r1", "r2"]})
    assert other.status == 404
