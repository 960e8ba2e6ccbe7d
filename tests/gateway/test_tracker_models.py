"""The gateway's models of the tracker's API, against the real tracker (on the embedded store):
every answer validates strictly, refusing unknown fields, so the two cannot drift."""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel

from lakecache.core.contracts.runs import (
    MetricPoint,
    RunInputRecorded,
    RunMetricsLogged,
    RunOutputRecorded,
    RunParamsLogged,
    RunStarted,
    RunTagsSet,
)
from lakecache.gateway.api.backends import tracker_models as t
from tests.support.http import Reply
from tests.tracker.conftest import PROJECT, at, running_tracker

BASE = f"/api/v1/projects/{PROJECT}"


def answer(reply: Reply, status: int, model: type[BaseModel]) -> Any:
    assert reply.status == status, reply.body
    return model.model_validate_json(json.dumps(reply.body), strict=True, extra="forbid")


async def test_every_tracker_answer_fits_the_gateways_model(tmp_path):
    async with running_tracker(tmp_path / "home") as api:
        created = answer(await api.call("POST", BASE + "/experiments", json_body=t.NewExperiment(
            name="resnet", tags={"team": "cv"}).model_dump()), 201, t.Experiment)
        answer(await api.call("GET", BASE + "/experiments"), 200, t.ExperimentPage)
        answer(await api.call("GET", BASE + "/experiments", params={"name": "resnet"}), 200, t.ExperimentPage)
        answer(await api.call("GET", f"{BASE}/experiments/{created.id}"), 200, t.Experiment)
        for run_id in ("r1", "r2"):
            await api.send(
                RunStarted(run_id=run_id, project=PROJECT, experiment="resnet", experiment_id=created.id, user="ada",
                           code_version="abc", code_dirty=False, source="train.py", host="h", site="dgx"),
                RunParamsLogged(run_id=run_id, project=PROJECT, params={"lr": 0.1}),
                RunMetricsLogged(run_id=run_id, project=PROJECT, metrics=[
                    MetricPoint(key="loss", value=v, step=s, timestamp=at(s))
                    for s, v in enumerate([1.0, 0.5, math.nan, math.inf])]),
                RunTagsSet(run_id=run_id, project=PROJECT, tags={"stage": "x"}),
                RunInputRecorded(run_id=run_id, project=PROJECT, dataset_id="d", dataset="raw", commit_id="a" * 64,
                                 site="dgx", volume="nfs1", cache_hit=True, bytes=5, waited_seconds=0.5),
                RunOutputRecorded(run_id=run_id, project=PROJECT, kind="model", uri="s3://m/1", sha256="b" * 64,
                                  size=3))
        run = answer(await api.call("GET", BASE + "/runs/r1"), 200, t.Run)
        assert run.metrics["loss"].value == "Infinity" and run.inputs and run.outputs
        answer(await api.call("POST", BASE + "/runs/search", json_body=t.RunSearch(
            experiment_ids=[created.id], filter="metrics.loss > 0", limit=1).model_dump()), 200, t.RunPage)
        answer(await api.call("POST", BASE + "/runs/compare", json_body={"run_ids": ["r1", "r2"]}), 200,
               t.Comparison)
        history = answer(await api.call("GET", BASE + "/runs/r1/metric-history", params={"key": "loss", "limit": 2}),
                         200, t.MetricHistory)
        assert history.next_page_token is not None
        answer(await api.call("GET", BASE + "/runs/r1/metric-history", params={"key": "loss", "max_points": 2}), 200,
               t.MetricHistory)
        lineage = answer(await api.call("GET", BASE + "/lineage", params={"node": "run:r1"}), 200, t.Lineage)
        assert {n.kind for n in lineage.nodes} == {"run", "commit", "model"}
        answer(await api.call("PUT", BASE + "/runs/r1/artifacts/a/b.txt", data=b"hi"), 201, t.ArtifactStored)
        answer(await api.call("GET", BASE + "/runs/r1/artifacts"), 200, t.ArtifactList)
        answer(await api.call("GET", BASE + "/runs/r1/artifacts", params={"path": "a"}), 200, t.ArtifactList)
