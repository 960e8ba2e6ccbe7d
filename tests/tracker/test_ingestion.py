"""Run events into runs: each applies once however often it is delivered, and events about a
run of another project, or of no run, change nothing."""

from __future__ import annotations

import math
import uuid

from lakecache.core.contracts.runs import (
    MetricPoint,
    RunFinished,
    RunMetricsLogged,
    RunParamsLogged,
    RunStarted,
    RunTagsSet,
)
from tests.support.waiting import bus_settled
from tests.tracker.conftest import PROJECT, at

RUN = "run-1"


def started(experiment_id: str, run_id: str = RUN, project: str = PROJECT, **fields) -> RunStarted:
    return RunStarted(run_id=run_id, project=project, experiment="resnet", experiment_id=experiment_id,
                      name="lr-sweep", user="ada", code_version="9fceb02", code_dirty=True, source="train.py",
                      host="node3", site="dgx", start_time=at(0), tags={"team": "cv"}, **fields)


def points(key: str, steps: range, *, offset: float = 0.0) -> list[MetricPoint]:
    return [MetricPoint(key=key, value=step / 10 + offset, step=step, timestamp=at(step)) for step in steps]


async def test_a_run_and_what_it_logged_read_back_as_sent(api):
    experiment = await api.experiment()
    await api.send(started(experiment),
                   RunParamsLogged(run_id=RUN, project=PROJECT, params={"lr": 0.001, "model.depth": 50, "aug": True}),
                   RunMetricsLogged(run_id=RUN, project=PROJECT, batch="b1", metrics=[
                       *points("loss", range(3)),
                       MetricPoint(key="grad norm", value=math.nan, step=2, timestamp=at(2))]),
                   RunTagsSet(run_id=RUN, project=PROJECT, tags={"stage": "tuning", "mlflow.note": "x"}),
                   RunFinished(run_id=RUN, project=PROJECT, status="failed", end_time=at(60)))
    run = await api.run(RUN)
    assert (run["experiment_id"], run["name"], run["user"], run["status"]) == (experiment, "lr-sweep", "ada", "failed")
    assert run["start_time"] == "2026-12-01T08:00:00Z" and run["end_time"] == "2026-12-01T08:01:00Z"
    assert run["params"] == {"lr": "0.001", "model.depth": "50", "aug": "True"}
    assert run["tags"] == {"team": "cv", "stage": "tuning", "mlflow.note": "x"}
    assert run["metrics"]["loss"] == {"value": 0.2, "step": 2, "timestamp": int(at(2).timestamp() * 1000)}
    assert run["metrics"]["grad norm"]["value"] == "NaN"
    assert run["code"] == {"version": "9fceb02", "dirty": True, "source": "train.py"}
    assert (run["host"], run["site"]) == ("node3", "dgx")


async def test_every_event_delivered_three_times_changes_nothing_more(api):
    experiment = await api.experiment()
    events = [started(experiment),
              RunParamsLogged(run_id=RUN, project=PROJECT, params={"lr": 0.1}, batch="p1"),
              RunMetricsLogged(run_id=RUN, project=PROJECT, batch="m1", metrics=points("loss", range(100))),
              RunMetricsLogged(run_id=RUN, project=PROJECT, batch="m2", metrics=points("loss", range(100, 150))),
              RunTagsSet(run_id=RUN, project=PROJECT, tags={"stage": "a"}),
              RunFinished(run_id=RUN, project=PROJECT, status="finished", end_time=at(500))]
    await api.send(*events)
    once = await api.run(RUN)
    history = await api.call("GET", f"/api/v1/projects/{PROJECT}/runs/{RUN}/metric-history", params={"key": "loss"})
    for _ in range(2):  # the same events (same ids, same batch keys) again, as a redelivery would
        for event in events:
            await api.send(event, event_id=f"fixed-{type(event).__name__}")
    twice = await api.run(RUN)
    again = await api.call("GET", f"/api/v1/projects/{PROJECT}/runs/{RUN}/metric-history", params={"key": "loss"})
    assert len(again.body["points"]) == len(history.body["points"]) == 150
    assert {k: v for k, v in twice.items() if k != "updated_at"} == {k: v for k, v in once.items() if k != "updated_at"}
    buckets = await api.tracker.metrics._docs.count_documents({"run_id": RUN})
    assert buckets == 2


async def test_a_batch_without_a_key_is_stored_once_per_event_id(api):
    experiment = await api.experiment()
    await api.send(started(experiment))
    batch = RunMetricsLogged(run_id=RUN, project=PROJECT, metrics=points("acc", range(10)))
    for _ in range(3):
        await api.send(batch, event_id="same-delivery")
    reply = await api.call("GET", f"/api/v1/projects/{PROJECT}/runs/{RUN}/metric-history", params={"key": "acc"})
    assert [p["step"] for p in reply.body["points"]] == list(range(10))


async def test_out_of_order_batches_land_in_step_order_and_the_latest_value_is_the_highest_step(api):
    experiment = await api.experiment()
    await api.send(started(experiment),
                   RunMetricsLogged(run_id=RUN, project=PROJECT, batch="late", metrics=points("loss", range(50, 100))),
                   RunMetricsLogged(run_id=RUN, project=PROJECT, batch="early", metrics=points("loss", range(0, 50))))
    reply = await api.call("GET", f"/api/v1/projects/{PROJECT}/runs/{RUN}/metric-history", params={"key": "loss"})
    assert [p["step"] for p in reply.body["points"]] == list(range(100))
    assert (await api.run(RUN))["metrics"]["loss"]["step"] == 99


async def test_a_param_keeps_its_first_value(api):
    experiment = await api.experiment()
    await api.send(started(experiment), RunParamsLogged(run_id=RUN, project=PROJECT, params={"lr": 0.1}),
                   RunParamsLogged(run_id=RUN, project=PROJECT, params={"lr": 0.5, "bs": 32}))
    assert (await api.run(RUN))["params"] == {"lr": "0.1", "bs": "32"}


async def test_events_naming_another_projects_run_change_nothing_and_are_dead_lettered(api):
    experiment = await api.experiment()
    other = await api.experiment(project="audio")
    await api.send(started(experiment))
    # Another project claims the same run id, logs to it and ends it: none of it lands.
    await api.send(started(other, project="audio"),
                   RunParamsLogged(run_id=RUN, project="audio", params={"stolen": 1}),
                   RunFinished(run_id=RUN, project="audio", status="killed"))
    run = await api.run(RUN)
    assert run["params"] == {} and run["status"] == "running" and run["project"] == PROJECT
    assert (await api.call("GET", f"/api/v1/projects/audio/runs/{RUN}")).status == 404
    dead = await dead_letters(api)
    assert {"lakecache.run.params.logged", "lakecache.run.finished", "lakecache.run.started"} <= dead


async def test_a_run_started_in_an_experiment_its_project_lacks_is_not_recorded(api):
    other = await api.experiment(project="audio")
    await api.send(started(other))  # project vision, experiment of project audio
    assert (await api.call("GET", f"/api/v1/projects/{PROJECT}/runs/{RUN}")).status == 404
    assert "lakecache.run.started" in await dead_letters(api)


async def dead_letters(api) -> set[str]:
    """The types of the events dead-lettered so far (read by a new consumer group from the start)."""
    bus, types = api.running.resources.bus, set()

    async def collect(message) -> None:
        types.add(message.header("ce_type").decode())

    subscription = await bus.subscribe(["lakecache.runs.dlq"], group=f"dlq-{uuid.uuid4().hex}", handler=collect)
    try:
        await bus_settled(bus)
    finally:
        await subscription.stop()
    return types
