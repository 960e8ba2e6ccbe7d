"""Events training jobs emit about runs: the tracker turns them into runs, metrics and lineage."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lakecache.core.contracts.base import EVENTS, EventData
from lakecache.core.contracts.fields import CommitId, Id, Slug

ParamValue = str | int | float | bool | None


@EVENTS.register
class RunStarted(EventData):
    event_type = "lakecache.run.started"

    run_id: Id
    project: Slug
    experiment: str
    name: str = ""
    user: str
    code_version: str | None = None
    source: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


@EVENTS.register
class RunParamsLogged(EventData):
    event_type = "lakecache.run.params.logged"

    run_id: Id
    project: Slug
    params: dict[str, ParamValue]


class MetricPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str = Field(min_length=1, max_length=250)
    value: float
    step: int = 0
    timestamp: datetime


@EVENTS.register
class RunMetricsLogged(EventData):
    """A batch of metric points; the SDK batches so a training loop does not emit per step."""

    event_type = "lakecache.run.metrics.logged"

    run_id: Id
    project: Slug
    metrics: list[MetricPoint] = Field(min_length=1)


@EVENTS.register
class RunFinished(EventData):
    event_type = "lakecache.run.finished"

    run_id: Id
    project: Slug
    status: Literal["finished", "failed", "killed"]


@EVENTS.register
class RunInputRecorded(EventData):
    """The run read ``commit_id`` of a dataset (and whether the site had it cached)."""

    event_type = "lakecache.run.input.recorded"

    run_id: Id
    project: Slug
    dataset_id: Id
    dataset: Slug
    commit_id: CommitId
    site: Slug | None = None
    cache_hit: bool | None = None


@EVENTS.register
class RunOutputRecorded(EventData):
    """The run produced something: a model, an artifact, or a new dataset commit."""

    event_type = "lakecache.run.output.recorded"

    run_id: Id
    project: Slug
    kind: Literal["model", "artifact", "dataset"]
    uri: str
    name: str = ""
    dataset_id: Id | None = None
    commit_id: CommitId | None = None
