"""Runs at the gateway: experiments, runs and what they log, read and write.

Reads go to the tracker as they are (``forwarded``). Writes to a run go on the bus
(``lakecache.runs``), which the tracker consumes: the gateway checks the caller's token, takes
the project from the path and checks that the run is that project's before it sends anything,
so an event's project is never the caller's word alone; the tracker checks it again.

The gateway hands out run ids and binds each to its project (``RunIdRepository``), which is
how MLflow's routes, which name a run by id alone, find its project. Starting and finishing a
run answer once the tracker shows the change, so a read right after sees it and everything
logged before it (one run's events are one partition, applied in order). Logged batches are
answered ``202`` as soon as they are on the bus; a batch sent again with the same ``batch`` key
(or, without one, the same content) is stored once.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, Field

from lakecache.core.contracts.fields import CommitId, Id, NonNegative, Slug
from lakecache.core.contracts.runs import (
    BatchKey,
    MetricPoint,
    RunFinished,
    RunInputRecorded,
    RunMetricsLogged,
    RunOutputRecorded,
    RunParamsLogged,
    RunStarted,
    RunTagsSet,
)
from lakecache.core.errors import Conflict, InvalidArgument, NotFound, Unavailable
from lakecache.core.vocabulary.runs import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    PARAM_VALUE_MAX,
    TAG_VALUE_MAX,
)
from lakecache.gateway.api.backends import tracker_models as t
from lakecache.gateway.api.common import API, publisher_of
from lakecache.gateway.auth import Permission
from lakecache.gateway.auth.context import principal_of
from lakecache.gateway.http.operation import Operation, Reply, StreamedBody
from lakecache.gateway.repositories import RunIdRepository
from lakecache.gateway.upstream import upstream_json, upstreams_of
from lakecache.gateway.upstream.proxy import TRACKER, proxy, relay

RUN_IDS_KEY = web.AppKey("lakecache_run_ids", RunIdRepository)
#: Seconds a start or a finish waits for the tracker to show it.
APPLY_WAIT_KEY = web.AppKey("lakecache_run_apply_wait", float)

_PROJECT = f"{API}/projects/{{project}}"
_RUN = _PROJECT + "/runs/{run_id}"
_IN_PATH = "match_info:project"
READ = Permission("runs:read", project_from=_IN_PATH)
WRITE = Permission("runs:write", project_from=_IN_PATH)
LOG = Permission("runs:log", project_from=_IN_PATH, run_from="match_info:run_id")

ParamValue = Annotated[str, Field(max_length=PARAM_VALUE_MAX)] | int | float | bool
TagValue = Annotated[str, Field(max_length=TAG_VALUE_MAX)]


class NewRun(t.Input):
    experiment_id: Id
    name: str = Field("", max_length=250, pattern=r"^[^\x00-\x1f\x7f]*$")
    tags: dict[t.Key, TagValue] = Field(default_factory=dict, max_length=MAX_TAGS_PER_BATCH)
    params: dict[t.Key, ParamValue] = Field(default_factory=dict, max_length=MAX_PARAMS_PER_BATCH)
    code_version: str | None = Field(None, max_length=200, description="The git commit of the run's code.")
    code_dirty: bool | None = Field(None, description="Whether the working tree had uncommitted changes.")
    source: str | None = Field(None, max_length=1000, description="The entry point.")
    host: str | None = Field(None, max_length=255)
    site: Slug | None = None
    start_time: datetime | None = Field(None, description="When the run started (default: now).")


class MetricIn(t.Input):
    key: t.Key
    value: float = Field(description="A number; NaN and the infinities as \"NaN\", \"Infinity\", \"-Infinity\".")
    step: int = 0
    timestamp: datetime | None = Field(None, description="When it was measured (default: when received).")


class LogBatch(t.Input):
    batch: BatchKey | None = Field(None, description="The same for every retry of one batch: it is stored once. "
                                                     "Without it, a batch's content identifies it.")
    metrics: list[MetricIn] = Field(default_factory=list, max_length=MAX_METRICS_PER_BATCH)
    params: dict[t.Key, ParamValue] = Field(default_factory=dict, max_length=MAX_PARAMS_PER_BATCH)
    tags: dict[t.Key, TagValue] = Field(default_factory=dict, max_length=MAX_TAGS_PER_BATCH)


class LogAccepted(BaseModel):
    batch: str
    metrics: int
    params: int
    tags: int


class NewInput(t.Input):
    dataset: Slug = Field(description="A dataset of the run's project.")
    commit_id: CommitId
    site: Slug | None = None
    volume: Slug | None = None
    cache_hit: bool | None = Field(None, description="Whether the copy was ready when the run asked for it.")
    bytes: NonNegative | None = None
    waited_seconds: float | None = Field(None, ge=0, description="How long the run waited for the copy.")
    context: str = Field("", max_length=100, description="What the input was for: training, validation…")


class NewOutput(t.Input):
    kind: Literal["model", "artifact", "dataset"]
    uri: str = Field(min_length=1, max_length=2000, pattern=r"^[^\x00-\x1f\x7f]+$")
    name: str = Field("", max_length=250)
    dataset: Slug | None = Field(None, description="For a dataset output: the dataset of the commit.")
    commit_id: CommitId | None = None
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    size: NonNegative | None = None


class Recorded(BaseModel):
    run_id: str


class RunEnd(t.Input):
    status: Literal["finished", "failed", "killed"]
    end_time: datetime | None = None


def run_ids_of(request: web.Request) -> RunIdRepository:
    return request.app[RUN_IDS_KEY]


def problem_of(status: int, answer: Any, what: str) -> Exception:
    """The error a caller should see for a tracker's (or catalog's) refusal."""
    detail = (answer or {}).get("detail") if isinstance(answer, dict) else None
    detail = detail or f"status {status}"
    if status == 404:
        return NotFound(detail)
    if status == 409:
        return Conflict(detail)
    if 400 <= status < 500:
        return InvalidArgument(f"{what}: {detail}")
    return Unavailable(f"{what}: the tracker answered {status} ({detail}); retry later")


async def tracker_json(request: web.Request, method: str, path: str, *, action: str, project: str,
                       body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
    return await upstream_json(request, upstreams_of(request).tracker, path, method=method, action=action,
                               project=project, query=query, json_body=body)


async def own_run(request: web.Request, project: str, run_id: str) -> None:
    """``NotFound`` unless the gateway handed out ``run_id`` in ``project``."""
    if await run_ids_of(request).project_of("run", run_id) != project:
        raise NotFound(f"project {project!r} has no run {run_id!r}")


async def read_run(request: web.Request, project: str, run_id: str) -> dict[str, Any] | None:
    status, answer = await tracker_json(request, "GET", f"{API}/projects/{project}/runs/{quote(run_id, safe='')}",
                                        action="runs:read", project=project)
    if status == 404:
        return None
    if status != 200:
        raise problem_of(status, answer, f"reading run {run_id}")
    return answer


async def applied(request: web.Request, project: str, run_id: str,
                  done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The run once the tracker shows ``done`` of it, polled until the apply wait runs out."""
    deadline = time.monotonic() + request.app[APPLY_WAIT_KEY]
    pause = 0.005
    while True:
        run = await read_run(request, project, run_id)
        if run is not None and done(run):
            return run
        if time.monotonic() >= deadline:
            raise Unavailable(f"run {run_id} was sent to the tracker, which has not recorded it yet; read it again "
                              "shortly (GET …/runs/{run_id}) instead of sending it again")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)


# experiments

async def create_experiment(request: web.Request, params: t.ProjectPath, body: t.NewExperiment) -> Reply:
    status, answer = await tracker_json(request, "POST", f"{API}/projects/{params.project}/experiments",
                                        action="runs:write", project=params.project, body=body.model_dump())
    if status != 201:
        raise problem_of(status, answer, f"creating experiment {body.name!r}")
    await run_ids_of(request).bind("experiment", answer["id"], params.project)
    return Reply(t.Experiment.model_validate(answer), status=201)


# runs

async def start_run(request: web.Request, params: t.ProjectPath, body: NewRun) -> Reply:
    project = params.project
    status, experiment = await tracker_json(request, "GET", f"{API}/projects/{project}/experiments/"
                                            f"{quote(body.experiment_id, safe='')}", action="runs:read",
                                            project=project)
    if status != 200:
        raise problem_of(status, experiment, f"starting a run in experiment {body.experiment_id}")
    run_id = uuid.uuid4().hex
    if not await run_ids_of(request).bind("run", run_id, project):
        raise Conflict(f"run id {run_id} is taken; start the run again")
    publisher = publisher_of(request)
    await publisher.emit(RunStarted(
        run_id=run_id, project=project, experiment=experiment["name"], experiment_id=body.experiment_id,
        name=body.name, user=principal_of(request).subject, code_version=body.code_version,
        code_dirty=body.code_dirty, source=body.source, tags=body.tags, host=body.host, site=body.site,
        start_time=body.start_time or datetime.now(UTC)), subject=run_id)
    if body.params:
        await publisher.emit(RunParamsLogged(run_id=run_id, project=project, params=body.params,
                                             batch=f"{run_id}-start"), subject=run_id)
    run = await applied(request, project, run_id,
                        lambda r: not body.params or set(map(str, body.params)) <= set(r["params"]))
    return Reply(t.Run.model_validate(run), status=201, headers={"Location": f"{API}/projects/{project}/runs/{run_id}"})


def content_key(raw: bytes) -> str:
    """A batch's key from its content (the request body as sent): an identical retry gets the same one."""
    return "c" + hashlib.sha256(raw).hexdigest()[:40]


async def publish_batch(request: web.Request, project: str, run_id: str, batch: str, metrics: list[MetricPoint],
                        params: dict[str, Any], tags: dict[str, str]) -> None:
    """Send what a request logs to run ``run_id`` (the caller checked it is ``project``'s) on the
    bus, the ``batch`` key deriving each event's."""
    publisher = publisher_of(request)
    if metrics:
        await publisher.emit(RunMetricsLogged(run_id=run_id, project=project, metrics=metrics, batch=f"{batch}-m"),
                             subject=run_id)
    if params:
        await publisher.emit(RunParamsLogged(run_id=run_id, project=project, params=params, batch=f"{batch}-p"),
                             subject=run_id)
    if tags:
        await publisher.emit(RunTagsSet(run_id=run_id, project=project, tags=tags), subject=run_id)


async def log_to_run(request: web.Request, params: t.RunPath, body: LogBatch) -> Reply:
    project, run_id = params.project, params.run_id
    await own_run(request, project, run_id)
    if not (body.metrics or body.params or body.tags):
        raise InvalidArgument("nothing to log: send metrics, params or tags")
    batch = body.batch or content_key(await request.read())
    received = datetime.now(UTC)
    points = [MetricPoint(key=m.key, value=m.value, step=m.step, timestamp=m.timestamp or received)
              for m in body.metrics]
    await publish_batch(request, project, run_id, batch, points, body.params, body.tags)
    return Reply(LogAccepted(batch=batch, metrics=len(body.metrics), params=len(body.params), tags=len(body.tags)),
                 status=202)


async def commit_of(request: web.Request, project: str, dataset: str, commit_id: str) -> dict[str, Any]:
    """The commit, which must be one of ``project``'s dataset ``dataset`` (asked of the catalog)."""
    status, commit = await upstream_json(request, upstreams_of(request).catalog,
                                         f"{API}/datasets/{project}/{dataset}/refs/{commit_id}",
                                         action="datasets:read", project=project)
    if status == 404:
        raise NotFound(f"project {project!r} has no dataset {dataset!r} with commit {commit_id}")
    if status != 200 or not isinstance(commit, dict):
        raise problem_of(status, commit, f"looking up commit {commit_id} of {project}/{dataset}")
    return commit


async def record_input(request: web.Request, params: t.RunPath, body: NewInput) -> Reply:
    await own_run(request, params.project, params.run_id)
    commit = await commit_of(request, params.project, body.dataset, body.commit_id)
    await publisher_of(request).emit(RunInputRecorded(
        run_id=params.run_id, project=params.project, dataset_id=commit["dataset_id"], dataset=body.dataset,
        commit_id=body.commit_id, site=body.site, volume=body.volume, cache_hit=body.cache_hit, bytes=body.bytes,
        waited_seconds=body.waited_seconds, context=body.context), subject=params.run_id)
    return Reply(Recorded(run_id=params.run_id), status=202)


async def record_output(request: web.Request, params: t.RunPath, body: NewOutput) -> Reply:
    await own_run(request, params.project, params.run_id)
    dataset_id = None
    if body.kind == "dataset":
        if body.dataset is None or body.commit_id is None:
            raise InvalidArgument("a dataset output names its dataset and commit_id")
        dataset_id = (await commit_of(request, params.project, body.dataset, body.commit_id))["dataset_id"]
    await publisher_of(request).emit(RunOutputRecorded(
        run_id=params.run_id, project=params.project, kind=body.kind, uri=body.uri,
        name=body.name or (body.dataset if body.kind == "dataset" else ""),
        dataset_id=dataset_id, commit_id=body.commit_id, sha256=body.sha256, size=body.size), subject=params.run_id)
    return Reply(Recorded(run_id=params.run_id), status=202)


async def finish_run(request: web.Request, params: t.RunPath, body: RunEnd) -> t.Run:
    await own_run(request, params.project, params.run_id)
    end = body.end_time or datetime.now(UTC)
    await publisher_of(request).emit(RunFinished(run_id=params.run_id, project=params.project, status=body.status,
                                                 end_time=end), subject=params.run_id)
    expected = end.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    run = await applied(request, params.project, params.run_id,
                        lambda r: r["status"] == body.status and _same_time(r["end_time"], expected))
    return t.Run.model_validate(run)


def _same_time(stored: str | None, expected: str) -> bool:
    if stored is None:
        return False
    return abs(datetime.fromisoformat(stored).timestamp() - datetime.fromisoformat(expected).timestamp()) < 0.002


_FILE = {"path": ".+"}  # a file's path has slashes
#: A full batch (1,000 points with 250-character keys, 100 params and tags) fits.
MAX_LOG_BODY = 1024 * 1024
#: The tracker's default ``artifact_max_bytes``: it refuses larger files itself (413).
MAX_ARTIFACT_BODY = 5 * 1024**3
_ARTIFACT_BODY = StreamedBody("application/octet-stream", {"type": "string", "format": "binary"},
                              "The file's bytes, with Content-Length.")

OPERATIONS = [
    Operation("POST", _PROJECT + "/experiments", create_experiment, "Create an experiment", WRITE,
              params=t.ProjectPath, body=t.NewExperiment, response=t.Experiment, status=201, errors=(409,), tag="runs"),
    Operation("GET", _PROJECT + "/experiments", proxy("list_experiments", to=TRACKER), "List a project's experiments",
              READ, params=t.ProjectPath, query=t.ExperimentQuery, response=t.ExperimentPage, forwarded=True,
              tag="runs"),
    Operation("GET", _PROJECT + "/experiments/{experiment_id}", proxy("show_experiment", to=TRACKER),
              "Show an experiment", READ, params=t.ExperimentPath, response=t.Experiment, errors=(404,),
              forwarded=True, tag="runs"),
    Operation("POST", _PROJECT + "/runs", start_run, "Start a run", WRITE, params=t.ProjectPath, body=NewRun,
              response=t.Run, status=201, errors=(404,), tag="runs",
              description="Answers once the tracker has recorded the run (and its first params)."),
    Operation("POST", _PROJECT + "/runs/search", proxy("search_runs", to=TRACKER),
              "Search runs with an MLflow filter string", READ, params=t.ProjectPath, body=t.RunSearch,
              response=t.RunPage, forwarded=True, tag="runs"),
    Operation("POST", _PROJECT + "/runs/compare", proxy("compare_runs", to=TRACKER), "Compare runs side by side",
              READ, params=t.ProjectPath, body=t.RunComparison, response=t.Comparison, errors=(404,), forwarded=True,
              tag="runs"),
    Operation("GET", _RUN, proxy("show_run", to=TRACKER), "Show a run: params, tags, latest metrics, inputs, outputs",
              READ, params=t.RunPath, response=t.Run, errors=(404,), forwarded=True, tag="runs"),
    Operation("POST", _RUN + "/log", log_to_run, "Log metrics, params and tags to a run", LOG, params=t.RunPath,
              body=LogBatch, max_body=MAX_LOG_BODY, response=LogAccepted, status=202, errors=(404,), tag="runs",
              description=f"At most {MAX_METRICS_PER_BATCH} metric points, {MAX_PARAMS_PER_BATCH} params and "
                          f"{MAX_TAGS_PER_BATCH} tags per request. A param keeps its first value."),
    Operation("POST", _RUN + "/inputs", record_input, "Record a dataset commit the run read", LOG, params=t.RunPath,
              body=NewInput, response=Recorded, status=202, errors=(404,), tag="runs"),
    Operation("POST", _RUN + "/outputs", record_output, "Record a model, artifact or dataset commit the run wrote",
              LOG, params=t.RunPath, body=NewOutput, response=Recorded, status=202, errors=(404,), tag="runs"),
    Operation("POST", _RUN + "/finish", finish_run, "End a run", LOG, params=t.RunPath, body=RunEnd,
              response=t.Run, errors=(404,), tag="runs",
              description="Answers once the tracker shows the run ended, and so everything logged before."),
    Operation("GET", _RUN + "/metric-history", proxy("metric_history", to=TRACKER),
              "A metric's history by step range, paged or downsampled", READ, params=t.RunPath,
              query=t.HistoryQuery, response=t.MetricHistory, errors=(404,), forwarded=True, tag="runs"),
    Operation("GET", _PROJECT + "/lineage", proxy("show_lineage", to=TRACKER),
              "Lineage of a commit, run or model: what it came from and what came of it", READ,
              params=t.ProjectPath, query=t.LineageQuery, response=t.Lineage, forwarded=True, tag="runs"),
    Operation("GET", _RUN + "/artifacts", proxy("list_artifacts", to=TRACKER), "List a run's artifacts", READ,
              params=t.RunPath, query=t.ArtifactQuery, response=t.ArtifactList, errors=(404,), forwarded=True,
              tag="runs"),
    Operation("PUT", _RUN + "/artifacts/{path}", proxy("put_artifact", to=TRACKER, stream=True),
              "Store a file among a run's artifacts", LOG,
              params=t.ArtifactPath, streamed_body=_ARTIFACT_BODY, max_body=MAX_ARTIFACT_BODY,
              response=t.ArtifactStored, status=201, errors=(404,), forwarded=True, tag="runs", patterns=_FILE),
    Operation("GET", _RUN + "/artifacts/{path}", relay("get_artifact", to=TRACKER), "Download an artifact file",
              READ, params=t.ArtifactPath, errors=(404,), media_type="application/octet-stream",
              raw_schema={"type": "string", "format": "binary"}, forwarded=True, tag="runs", patterns=_FILE),
]
