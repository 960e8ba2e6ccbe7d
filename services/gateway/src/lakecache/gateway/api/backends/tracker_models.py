"""The gateway's models of the tracker's API contract (``lakecache.tracker.api``, ``docs/tracker.md``).

Inputs accept exactly what the tracker accepts; responses list every field it sends. The tests
validate real responses of the service against them (``tests/gateway/test_backend_models.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from lakecache.core.contracts.fields import Id
from lakecache.core.vocabulary.runs import KEY_MAX, KEY_PATTERN, RunState
from lakecache.gateway.api.common import Input, ProjectName

Key = Annotated[str, Field(max_length=KEY_MAX, pattern=KEY_PATTERN,
                           description="A param, tag or metric name: letters, digits, `_ - . /` and space.")]
Number = Annotated[float | Literal["NaN", "Infinity", "-Infinity"],
                   Field(description="A number, or NaN and the infinities by name (JSON has no literal for them).")]
Time = Annotated[str | None, Field(description="ISO 8601, UTC.")]


class ProjectPath(Input):
    project: ProjectName


class ExperimentPath(Input):
    project: ProjectName
    experiment_id: Id


class RunPath(Input):
    project: ProjectName
    run_id: Id


class ArtifactPath(Input):
    project: ProjectName
    run_id: Id
    # With the other variables, percent-encoded, the request line stays under aiohttp's 8190 bytes.
    path: str = Field(min_length=1, max_length=400, description="The file's path in the run's artifacts.")


class NewExperiment(Input):
    name: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")
    tags: dict[Key, str] = Field(default_factory=dict)


class ExperimentQuery(Input):
    name: str | None = Field(None, min_length=1, max_length=500, description="Only the experiment of this name.")
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, max_length=500, description="The `next_cursor` of the previous page.")


class Experiment(BaseModel):
    id: str
    project: str
    name: str
    tags: dict[str, str]
    created_by: str | None
    created_at: Time
    updated_at: Time


class ExperimentPage(BaseModel):
    items: list[Experiment]
    next_cursor: str | None


class LatestMetric(BaseModel):
    value: Number
    step: int
    timestamp: int = Field(description="Epoch milliseconds.")


class CodeVersion(BaseModel):
    version: str | None = Field(description="The git commit the run's code was at.")
    dirty: bool | None = Field(description="Whether the working tree had uncommitted changes.")
    source: str | None = Field(description="The entry point.")


class RunInput(BaseModel):
    dataset_id: str | None
    dataset: str | None
    commit_id: str | None
    site: str | None
    volume: str | None
    cache_hit: bool | None
    bytes: int | None
    waited_seconds: float | None
    context: str | None
    recorded_at: Time


class RunOutput(BaseModel):
    kind: str | None
    uri: str | None
    name: str | None
    dataset_id: str | None
    commit_id: str | None
    sha256: str | None
    size: int | None
    recorded_at: Time


class Run(BaseModel):
    id: str
    project: str
    experiment_id: str | None
    experiment: str | None
    name: str
    user: str | None
    status: RunState | None
    start_time: Time
    end_time: Time
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, LatestMetric]
    code: CodeVersion
    host: str | None
    site: str | None
    updated_at: Time
    inputs: list[RunInput] | None = Field(None, description="What the run read (one run's view only).")
    outputs: list[RunOutput] | None = Field(None, description="What the run wrote (one run's view only).")


class RunSearch(Input):
    experiment_ids: list[Id] = Field(min_length=1, max_length=100)
    filter: str | None = Field(None, max_length=10_000, description="An MLflow filter string, e.g. "
                                                                    "`metrics.acc > 0.9 and params.lr = '0.01'`.")
    order_by: list[str] | None = Field(None, max_length=10, description="e.g. `[\"metrics.acc DESC\"]`.")
    limit: int = Field(1000, ge=1, le=50_000)
    page_token: str | None = Field(None, max_length=1000)


class RunPage(BaseModel):
    items: list[Run]
    next_page_token: str | None


class RunComparison(Input):
    run_ids: list[Id] = Field(min_length=2, max_length=100)


class ComparedRun(BaseModel):
    id: str
    name: str
    status: RunState | None
    start_time: Time
    end_time: Time


class Comparison(BaseModel):
    runs: list[ComparedRun]
    params: dict[str, dict[str, str]] = Field(description="Each param's value by run id (runs without it absent).")
    metrics: dict[str, dict[str, Number]] = Field(description="Each metric's latest value by run id.")
    differing: dict[str, list[str]] = Field(description="The params and metrics whose values differ, or that some "
                                                        "runs lack.")


class HistoryQuery(Input):
    key: Key
    min_step: int | None = None
    max_step: int | None = None
    max_points: int | None = Field(None, ge=2, description="Downsample the range to at most this many points.")
    limit: int | None = Field(None, ge=1, description="Points per page (without `max_points`).")
    page_token: str | None = Field(None, max_length=100)


class HistoryPoint(BaseModel):
    step: int
    value: Number
    timestamp: int


class MetricHistory(BaseModel):
    key: str
    points: list[HistoryPoint]
    downsampled: bool
    next_page_token: str | None
    total: int | None = Field(None, description="Points in the range (downsampled answers).")


class LineageQuery(Input):
    node: str = Field(min_length=3, max_length=2000, pattern=r"^(commit|run|model|artifact):[^\x00-\x1f\x7f]+$",
                      description="`commit:<id>`, `run:<id>`, `model:<uri>` or `artifact:<uri>`.")
    direction: Literal["up", "down", "both"] = "both"
    depth: int = Field(3, ge=0, le=20)
    max_nodes: int = Field(500, ge=1, le=500, description="At most this many nodes; the walk stops there and "
                                                          "`truncated` says so.")


class LineageNode(BaseModel):
    """A node and what is known of it: a run's name, state and params; a commit's dataset; a
    model's or artifact's uri, sha256 and size (fields of other kinds are absent)."""

    id: str
    kind: Literal["commit", "run", "model", "artifact"]
    distance: int = Field(description="Edges from the root.")
    run_id: str | None = None
    name: str | None = None
    status: RunState | None = None
    experiment_id: str | None = None
    params: dict[str, str] | None = None
    commit_id: str | None = None
    dataset: str | None = None
    dataset_id: str | None = None
    uri: str | None = None
    sha256: str | None = None
    size: int | None = None


class CacheFacts(BaseModel):
    site: str | None
    volume: str | None
    cache_hit: bool | None
    bytes: int | None
    waited_seconds: float | None


class LineageEdge(BaseModel):
    source: str
    target: str
    kind: Literal["input", "output"]
    recorded_at: str
    cache: CacheFacts | None = Field(None, description="How an input was read.")
    context: str | None = Field(None, description="What an input was for.")
    output_kind: str | None = Field(None, description="What an output is: model, artifact or dataset.")


class Lineage(BaseModel):
    root: str
    direction: str
    depth: int
    truncated: bool
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class ArtifactQuery(Input):
    path: str | None = Field(None, max_length=1024, description="A directory of the run's artifacts.")


class ArtifactEntry(BaseModel):
    path: str
    is_dir: bool
    file_size: int | None = None
    sha256: str | None = None


class ArtifactList(BaseModel):
    items: list[ArtifactEntry]


class ArtifactStored(BaseModel):
    path: str
    size: int
    sha256: str
