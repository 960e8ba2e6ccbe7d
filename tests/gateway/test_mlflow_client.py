"""The real ``mlflow`` client (mlflow-skinny, unchanged) against the whole stack through the gateway:
``MLFLOW_TRACKING_URI`` is the gateway, ``MLFLOW_TRACKING_TOKEN`` a LakeCache token.

The stack runs in a background thread (``served_stack``); the client is synchronous and runs in
the test's thread, as a training script would. Logging is applied by the tracker shortly after
the client's call returns, so reads of freshly logged values wait for them (``until``), while
the end of a run (``runs/update``) answers only once everything logged before it is applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import mlflow
import mlflow.tracking._tracking_service.client as tracking_service
import pytest
from mlflow import MlflowClient
from mlflow.data.dataset import Dataset
from mlflow.data.dataset_source import DatasetSource
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.support.stack import STACK_VOLUME, Stack, create_user, gateway_call, served_stack

PROJECT, OTHER = "vision", "speech"


class LakeCacheSource(DatasetSource):
    """A LakeCache commit as an MLflow dataset source (what a training script would define)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @staticmethod
    def _get_source_type() -> str:
        return "lakecache"

    def load(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return isinstance(raw_source, str) and raw_source.startswith("lakecache://")

    @classmethod
    def _resolve(cls, raw_source: str) -> LakeCacheSource:
        return cls(raw_source)

    def to_dict(self) -> dict[str, str]:
        return {"uri": self.uri}

    @classmethod
    def from_dict(cls, source_dict: dict[str, str]) -> LakeCacheSource:
        return cls(source_dict["uri"])


class LakeCacheDataset(Dataset):
    """A dataset without numpy (mlflow-skinny's own datasets need it)."""

    def _compute_digest(self) -> str:
        return hashlib.sha256(self.source.to_json().encode()).hexdigest()[:8]

    @property
    def profile(self) -> None:
        return None

    @property
    def schema(self) -> None:
        return None


def until(read: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout: float = 15) -> Any:
    """``read()`` once ``done`` of it, polled (the tracker applies logged values shortly after)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}; last read {value!r}")
        time.sleep(0.05)


def rest_error(call: Callable[[], Any]) -> str:
    with pytest.raises(MlflowException) as caught:
        call()
    return caught.value.error_code


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("mlflow")
    with served_stack(root / "home", root / STACK_VOLUME) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(stack) -> dict[str, str]:
    admin = stack.token
    return {"admin": admin,
            "ada": create_user(stack.base_url, admin, "ada", {PROJECT: "editor"}),
            "vic": create_user(stack.base_url, admin, "vic", {PROJECT: "viewer"}),
            "olga": create_user(stack.base_url, admin, "olga", {OTHER: "editor"})}


@pytest.fixture
def as_user(stack, tokens, monkeypatch) -> Callable[[str], None]:
    """Point the ``mlflow`` client at the gateway; ``as_user(name)`` switches its token."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stack.base_url)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)

    def switch(name: str) -> None:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", tokens.get(name, name))

    switch("ada")
    yield switch
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.tracking.fluent._active_experiment_id = None  # set_experiment's, for the next test
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


def raw_call(stack: Stack, token: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """One request as a client other than ``mlflow`` would send it: (status, JSON answer)."""
    request = urllib.request.Request(stack.base_url + path, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as refused:
        assert refused.headers["Content-Type"].startswith("application/json"), refused.headers["Content-Type"]
        return refused.code, json.loads(refused.read())


def synced_commit(stack: Stack, token: str, tmp_path: Path, project: str, dataset: str) -> dict[str, Any]:
    """Dataset ``project/dataset`` with one commit of a small tree, synced through the gateway."""
    data = tmp_path / f"data-{project}-{dataset}"
    (data / "train").mkdir(parents=True)
    for i in range(3):
        (data / "train" / f"{i}.bin").write_bytes(os.urandom(512))
    settings = ClientSettings(api_url=stack.base_url, token=token, cache_dir=tmp_path / f"cache-{project}",
                              home=tmp_path / "no-home")

    async def sync() -> dict[str, Any]:
        async with CatalogClient(settings) as catalog:
            await catalog.create_dataset(project, dataset)
            return (await sync_directory(catalog, DatasetRef(project, dataset), data, message="first")).commit

    return asyncio.run(sync())


def test_a_training_script_logs_through_the_mlflow_client(stack, tokens, as_user, tmp_path):
    commit = synced_commit(stack, tokens["ada"], tmp_path, PROJECT, "cats")
    experiment = mlflow.set_experiment(f"{PROJECT}/resnet")
    assert experiment.name == f"{PROJECT}/resnet" and experiment.lifecycle_stage == "active"
    assert mlflow.set_experiment(f"{PROJECT}/resnet").experiment_id == experiment.experiment_id  # found, not made
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"hello artifact\n" + os.urandom(100_000))

    with mlflow.start_run(run_name="r1") as run:
        run_id = run.info.run_id
        assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment.experiment_id}/{run_id}/artifacts"
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"bs": 32, "opt": "adam"})
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_metrics({"loss": 0.4, "acc": 0.8}, step=2)
        mlflow.log_metric("diverged", math.nan)
        mlflow.set_tag("team", "cv")
        source = LakeCacheSource(f"lakecache://{PROJECT}/cats@{commit['id']}")
        mlflow.log_input(LakeCacheDataset(source=source, name="cats"), context="training",
                         tags={"lakecache.site": "dgx", "lakecache.cache_hit": "true"})
        mlflow.log_artifact(str(notes))
        mlflow.log_artifact(str(notes), artifact_path="plots")

        client = MlflowClient()
        assert sorted((a.path, a.is_dir) for a in client.list_artifacts(run_id)) == [
            ("notes.txt", False), ("plots", True)]
        assert [(a.path, a.file_size) for a in client.list_artifacts(run_id, "plots")] == [
            ("plots/notes.txt", notes.stat().st_size)]
        whole = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "all")))
        assert (whole / "notes.txt").read_bytes() == (whole / "plots" / "notes.txt").read_bytes() == notes.read_bytes()
        one = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="plots/notes.txt",
                                                  dst_path=str(tmp_path / "one"))
        assert Path(one).read_bytes() == notes.read_bytes()

    shown = MlflowClient().get_run(run_id)  # ended: everything logged before is applied
    assert (shown.info.status, shown.info.run_name, shown.info.lifecycle_stage) == ("FINISHED", "r1", "active")
    assert shown.info.end_time >= shown.info.start_time > 0
    assert shown.data.params == {"lr": "0.1", "bs": "32", "opt": "adam"}
    assert shown.data.metrics["loss"] == 0.4 and shown.data.metrics["acc"] == 0.8
    assert math.isnan(shown.data.metrics["diverged"])
    assert shown.data.tags["team"] == "cv" and shown.data.tags["mlflow.runName"] == "r1"
    [read] = shown.inputs.dataset_inputs
    assert (read.dataset.name, read.dataset.source_type) == ("cats", "lakecache")
    assert read.dataset.source == f"lakecache://{PROJECT}/cats@{commit['id']}"
    assert {t.key: t.value for t in read.tags} == {"mlflow.data.context": "training"}
    loss = MlflowClient().get_metric_history(run_id, "loss")
    assert [(p.step, p.value) for p in loss] == [(1, 0.5), (2, 0.4)]

    found = mlflow.search_runs(filter_string="params.lr = '0.1' and metrics.loss < 1", output_format="list")
    assert [r.info.run_id for r in found] == [run_id]
    assert mlflow.search_runs(filter_string="metrics.loss > 1", output_format="list") == []

    lineage = gateway_call(stack.base_url, tokens["vic"], "GET", f"/api/v1/projects/{PROJECT}/lineage"
                           f"?node=commit:{commit['id']}&direction=down")
    [edge] = lineage["edges"]
    assert (edge["source"], edge["target"], edge["kind"]) == (f"commit:{commit['id']}", f"run:{run_id}", "input")
    assert edge["context"] == "training" and edge["cache"]["site"] == "dgx" and edge["cache"]["cache_hit"] is True


def test_a_failed_run_a_retried_batch_and_a_long_history(as_user, monkeypatch):
    mlflow.set_experiment(f"{PROJECT}/batches")
    mlflow.start_run()
    run_id = mlflow.active_run().info.run_id
    assert mlflow.active_run().info.run_name  # named by the gateway, as MLflow's server does
    client = MlflowClient()
    now = int(time.time() * 1000)
    points = [Metric("x", float(step), now, step) for step in range(2500)]
    for first in range(0, len(points), 1000):
        client.log_batch(run_id, metrics=points[first:first + 1000])
    retried = [Metric("y", 1.0, now, 0), Metric("y", 2.0, now, 1)]
    client.log_batch(run_id, metrics=retried, params=[Param("p", "1")], tags=[RunTag("t", "1")])
    client.log_batch(run_id, metrics=retried, params=[Param("p", "1")], tags=[RunTag("t", "1")])  # as a retry would
    mlflow.end_run(status="FAILED")

    assert client.get_run(run_id).info.status == "FAILED"
    monkeypatch.setattr(tracking_service, "GET_METRIC_HISTORY_MAX_RESULTS", 1000)  # pages of 1,000 points
    history = client.get_metric_history(run_id, "x")
    assert [(p.step, p.value) for p in history] == [(s, float(s)) for s in range(2500)]
    assert [(p.step, p.value) for p in client.get_metric_history(run_id, "y")] == [(0, 1.0), (1, 2.0)]


def test_batches_over_mlflows_limits_are_refused(stack, tokens, as_user):
    run_id = MlflowClient().create_run(MlflowClient().create_experiment(f"{PROJECT}/limits")).info.run_id
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    status, answer = raw_call(stack, tokens["ada"], "POST", "/api/2.0/mlflow/runs/log-batch",
                              {"run_id": run_id, "params": params})
    assert (status, answer["error_code"]) == (400, "INVALID_PARAMETER_VALUE") and "params" in answer["message"]
    metrics = [{"key": "m", "value": 1, "timestamp": 0, "step": i} for i in range(901)]
    status, answer = raw_call(stack, tokens["ada"], "POST", "/api/2.0/mlflow/runs/log-batch",
                              {"run_id": run_id, "metrics": metrics, "params": params[:100]})
    assert (status, answer["error_code"]) == (400, "INVALID_PARAMETER_VALUE") and "1000" in answer["message"]
    status, answer = raw_call(stack, tokens["ada"], "POST", "/api/2.0/mlflow/runs/delete",
                              {"run_id": run_id})  # not supported here
    assert (status, answer["error_code"]) == (404, "ENDPOINT_NOT_FOUND")


def test_the_default_experiment_is_the_default_projects(stack, tokens, as_user):
    as_user("admin")
    client = MlflowClient()
    run = client.create_run("0")  # what mlflow.start_run() uses when no experiment is set
    default = client.get_experiment("0")
    assert (default.name, run.info.experiment_id) == ("default/Default", default.experiment_id)
    assert client.get_experiment_by_name("Default").experiment_id == default.experiment_id
    assert [r.info.run_id for r in client.search_runs(["0"])] == [run.info.run_id]
    as_user("ada")  # no role in project default
    assert rest_error(lambda: client.create_run("0")) == "PERMISSION_DENIED"


def test_unknown_ids_and_other_projects_are_refused_as_mlflow_expects(stack, tokens, as_user, tmp_path):
    client = MlflowClient()
    assert client.get_experiment_by_name(f"{PROJECT}/missing") is None
    assert rest_error(lambda: client.get_run("0123456789abcdef0123456789abcdef")) == "RESOURCE_DOES_NOT_EXIST"
    assert rest_error(lambda: client.log_metric("no-such-run", "m", 1.0)) == "RESOURCE_DOES_NOT_EXIST"
    exp = client.create_experiment(f"{PROJECT}/refusals")
    assert rest_error(lambda: client.create_experiment(f"{PROJECT}/refusals")) == "RESOURCE_ALREADY_EXISTS"
    run_id = client.create_run(exp).info.run_id

    as_user("olga")  # editor of another project: the run is not reachable
    assert rest_error(lambda: client.get_run(run_id)) == "PERMISSION_DENIED"
    assert rest_error(lambda: client.log_param(run_id, "a", "b")) == "PERMISSION_DENIED"
    assert rest_error(lambda: client.list_artifacts(run_id)) == "PERMISSION_DENIED"
    olgas = client.create_experiment(f"{OTHER}/hers")
    assert [e.experiment_id for e in client.search_experiments()] == [olgas]

    as_user("vic")  # a viewer reads but cannot log
    assert client.get_run(run_id).info.run_id == run_id
    assert rest_error(lambda: client.log_metric(run_id, "m", 1.0)) == "PERMISSION_DENIED"
    assert rest_error(lambda: client.set_terminated(run_id)) == "PERMISSION_DENIED"
    assert rest_error(lambda: client.create_experiment(f"{PROJECT}/viewers")) == "PERMISSION_DENIED"

    as_user("ada")  # a job token logs to its own run only
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    job = gateway_call(stack.base_url, tokens["ada"], "POST",
                       f"/api/v1/projects/{PROJECT}/runs/{quote(run_id)}/job-tokens", {"expires_at": expires})
    other_run = client.create_run(exp).info.run_id
    as_user(job["token"])
    client.log_metric(run_id, "from-job", 1.0)
    assert rest_error(lambda: client.log_metric(other_run, "from-job", 1.0)) == "PERMISSION_DENIED"
    assert rest_error(lambda: client.get_run(run_id)) == "PERMISSION_DENIED"  # a job reads no runs

    as_user("nobody-has-this-token")
    assert rest_error(lambda: client.get_run(run_id)) == "UNAUTHENTICATED"
    request = urllib.request.Request(f"{stack.base_url}/api/2.0/mlflow/runs/get?run_id={run_id}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401 and refused.value.headers["Content-Type"].startswith("application/json")
    assert json.loads(refused.value.read())["error_code"] == "UNAUTHENTICATED"
