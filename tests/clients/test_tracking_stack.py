"""``lakecache.start_run`` against the whole stack: a run logged by the synchronous SDK reads back
through ``GatewayClient`` (the run, metric histories, search, artifacts) as it was logged."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from typing import Any

from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.run_buffer import DROPPED_TAG
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.tracking import start_run
from tests.clients.conftest import PROJECT

STEPS = 1000
METRICS = ("loss", "acc", "lr", "grad_norm", "throughput")  # 5 x 1,000 steps: 5,000 points


def value(key: str, step: int) -> float:
    return {"loss": 1 / (step + 1), "acc": step / STEPS, "lr": 0.1 * 0.99 ** step, "grad_norm": (step % 7) / 3,
            "throughput": 1000.0 + step}[key]


async def read_back(settings: ClientSettings, run_id: str, experiment_id: str, download_to: Any) -> dict[str, Any]:
    async with GatewayClient(settings) as gateway:
        return {
            "run": await gateway.get_run(PROJECT, run_id),
            "histories": {key: await gateway.metric_history(PROJECT, run_id, key) for key in METRICS},
            "thinned": await gateway.metric_history(PROJECT, run_id, "loss", max_points=100),
            "found": [r["id"] async for r in gateway.search_runs(PROJECT, [experiment_id],
                                                                 filter="params.lr = '0.1' and metrics.acc > 0.9")],
            "top": await gateway.list_artifacts(PROJECT, run_id),
            "models": await gateway.list_artifacts(PROJECT, run_id, "models"),
            "downloaded": await gateway.download_artifact(PROJECT, run_id, "models/model.bin", download_to),
            "again": await gateway.get_or_create_experiment(PROJECT, "resnet"),
        }


def test_a_run_logged_with_start_run_reads_back_through_the_gateway(stack, client_settings, tmp_path):
    weights = os.urandom(300_000)
    model = tmp_path / "model.bin"
    model.write_bytes(weights)

    with start_run(project=PROJECT, experiment="resnet", name="r1", params={"lr": 0.1, "opt": "adam"},
                   tags={"team": "cv"}, settings=client_settings, flush_seconds=0.2, sample_seconds=0) as run:
        for step in range(STEPS):
            run.log_metrics({key: value(key, step) for key in METRICS}, step=step)
        run.log_params({"batch_size": 32})
        run.set_tags({"stage": "train"})
        stored = run.log_artifact(model, artifact_path="models")
    assert stored == {"path": "models/model.bin", "size": len(weights), "sha256": hashlib.sha256(weights).hexdigest()}
    assert run.dropped_points == 0

    got = asyncio.run(read_back(client_settings, run.id, run.experiment_id, tmp_path / "copy.bin"))

    shown = got["run"]
    assert (shown["id"], shown["name"], shown["status"], shown["experiment_id"]) == (run.id, "r1", "finished",
                                                                                     run.experiment_id)
    assert shown["end_time"] and shown["host"] == socket.gethostname()
    assert shown["params"] == {"lr": "0.1", "opt": "adam", "batch_size": "32"}
    assert shown["tags"]["team"] == "cv" and shown["tags"]["stage"] == "train" and DROPPED_TAG not in shown["tags"]
    assert {key: (m["value"], m["step"]) for key, m in shown["metrics"].items()} == {
        key: (value(key, STEPS - 1), STEPS - 1) for key in METRICS}

    for key, history in got["histories"].items():
        assert [(p["step"], p["value"]) for p in history["points"]] == [(s, value(key, s)) for s in range(STEPS)], key
        assert history["downsampled"] is False
    assert got["thinned"]["downsampled"] is True and len(got["thinned"]["points"]) <= 100

    assert got["found"] == [run.id]
    assert got["again"]["id"] == run.experiment_id  # found by name, not created twice
    assert [(a["path"], a["is_dir"]) for a in got["top"]] == [("models", True)]
    assert [(a["path"], a["is_dir"], a.get("file_size")) for a in got["models"]] == [
        ("models/model.bin", False, len(weights))]
    assert got["downloaded"].read_bytes() == weights
