"""Events about runs: jobs and people log through the gateway, which checks the caller's token,
binds the run's project and sends these; the tracker turns them into runs, metric series and
lineage.

All of one run's events share the key ``run_id`` (one partition, in order). Each may be
delivered more than once: a ``batch`` key, chosen by the sender and the same for every
delivery of one batch, lets the tracker store a batch once (the gateway derives it from the
batch's content when the client sends none, as the ``mlflow`` client does when it retries).
Keys of params, tags and metrics follow ``lakecache.core.vocabulary.runs``.
"""

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from lakecache.core.contracts.base import EVENTS, EventData
from lakecache.core.contracts.fields import CommitId, Id, NonNegative, Slug
from lakecache.core.vocabulary.runs import (
    KEY_MAX,
    KEY_PATTERN,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    TAG_VALUE_MAX,
)

ParamValue = str | int | float | bool | None
#: A param, tag or metric name.
Key = Annotated[str, Field(max_length=KEY_MAX, pattern=KEY_PATTERN)]
#: Identifies one batch across its deliveries.
BatchKey = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w.:\-]+$")]


@EVENTS.register
class RunStarted(EventData):
    """A run began in ``experiment`` (its name; ``experiment_id`` names it for good): who
    started it, the code it runs (``code_version``: the git commit, ``code_dirty``: uncommitted
    changes; ``source``: the entry point), where (``host``, ``site``) and its first tags."""

    event_type = "lakecache.run.started"

    run_id: Id
    project: Slug
    experiment: str
    name: str = ""
    user: str
    code_version: str | None = None
    source: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    experiment_id: Id | None = None
    start_time: datetime | None = None
    code_dirty: bool | None = None
    host: str | None = None
    site: Slug | None = None


@EVENTS.register
class RunParamsLogged(EventData):
    """Hyperparameters of the run. A param keeps its first value (as MLflow's do)."""

    event_type = "lakecache.run.params.logged"

    run_id: Id
    project: Slug
    params: dict[Key, ParamValue] = Field(max_length=MAX_PARAMS_PER_BATCH)
    batch: BatchKey | None = None


class MetricPoint(BaseModel):
    """One value of a metric series; NaN and infinities are values too (sent as strings)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: Key
    value: float
    step: int = 0
    timestamp: datetime

    @field_serializer("value", when_used="json")
    def _json_number_or_name(self, value: float) -> float | str:
        # JSON has no NaN or infinity; their names parse back as floats.
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


@EVENTS.register
class RunMetricsLogged(EventData):
    """A batch of metric points; the SDK batches so a training loop does not emit per step."""

    event_type = "lakecache.run.metrics.logged"

    run_id: Id
    project: Slug
    metrics: list[MetricPoint] = Field(min_length=1, max_length=MAX_METRICS_PER_BATCH)
    batch: BatchKey | None = None


@EVENTS.register
class RunTagsSet(EventData):
    """Tags set on the run (a tag's last value wins) and tags removed from it."""

    event_type = "lakecache.run.tags.set"

    run_id: Id
    project: Slug
    tags: dict[Key, Annotated[str, Field(max_length=TAG_VALUE_MAX)]] = Field(
        default_factory=dict, max_length=MAX_TAGS_PER_BATCH)
    deleted: list[Key] = Field(default_factory=list, max_length=MAX_TAGS_PER_BATCH)


@EVENTS.register
class RunFinished(EventData):
    """The run ended (``end_time``: when, if the sender knows better than the event's time)."""

    event_type = "lakecache.run.finished"

    run_id: Id
    project: Slug
    status: Literal["finished", "failed", "killed"]
    end_time: datetime | None = None


@EVENTS.register
class RunInputRecorded(EventData):
    """The run read ``commit_id`` of a dataset: at ``site`` from ``volume`` (a cached copy) or
    from the lake; ``cache_hit`` whether the copy was ready when asked for, ``bytes`` read, and
    how long the run waited for the copy (``waited_seconds``)."""

    event_type = "lakecache.run.input.recorded"

    run_id: Id
    project: Slug
    dataset_id: Id
    dataset: Slug
    commit_id: CommitId
    site: Slug | None = None
    cache_hit: bool | None = None
    volume: Slug | None = None
    bytes: NonNegative | None = None
    waited_seconds: float | None = Field(default=None, ge=0)
    context: str = ""


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
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    size: NonNegative | None = None
