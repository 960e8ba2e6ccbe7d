"""MLflow's request and response messages (``mlflow/protos/service.proto``) as the client sends
and reads them: snake_case JSON, ids and int64 times as JSON strings and numbers, enums by name,
NaN and the infinities as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

Requests ignore fields they do not know, as MLflow's server does (newer clients send more), but
validate the ones they use: keys as LakeCache's (MLflow's rule without ``:``), batch limits
and times within range, so nothing reaches the bus or the tracker that it would refuse.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from lakecache.core.vocabulary.runs import MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, MAX_TAGS_PER_BATCH
from lakecache.gateway.api.backends import tracker_models as t
from lakecache.gateway.http.limits import NO_CONTROL

#: Epoch milliseconds up to the end of year 9999 (what a datetime holds).
Millis = Annotated[int, Field(ge=0, le=253_402_300_799_999, description="Epoch milliseconds.")]
Step = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
Ident = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f/]+$")]
Text = Annotated[str, Field(max_length=65_535)]
Status = Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]
MAX_RESULTS = 50_000


class MlflowInput(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Sparse(BaseModel):
    """An answer without its unset fields: MLflow leaves them out, and its client reads some
    (a directory's ``file_size``) as present only when they are numbers."""

    # No return annotation: pydantic then documents the fields, not the serializer's type.
    @model_serializer(mode="wrap")
    def _without_nulls(self, handler):
        return {key: value for key, value in handler(self).items() if value is not None}


class RunRef(MlflowInput):
    run_id: Ident | None = Field(None, description="The run (`run_uuid`, its deprecated alias, also works).")
    run_uuid: Ident | None = None


class KeyValueIn(MlflowInput):
    key: t.Key
    value: Text = ""


class KeyValue(BaseModel):
    key: str
    value: str


# experiments

class ExperimentByName(MlflowInput):
    experiment_name: str = Field(min_length=1, max_length=1000, pattern=NO_CONTROL)


class ExperimentRef(MlflowInput):
    experiment_id: Ident


class NewExperiment(MlflowInput):
    name: str = Field(min_length=1, max_length=1000, pattern=r"^[^\x00-\x1f\x7f]+$",
                      description="`<project>/<name>`; without a project, the caller's default project's.")
    tags: list[KeyValueIn] = Field(default_factory=list, max_length=MAX_TAGS_PER_BATCH)


class ExperimentSearch(MlflowInput):
    max_results: int = Field(1000, ge=1, le=MAX_RESULTS)
    filter: str | None = Field(None, max_length=1000, description="Empty, or a condition on the name: "
                                                                  "`name = '…'`, `name LIKE '…'`, `name ILIKE '…'`.")
    view_type: Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"] = "ACTIVE_ONLY"
    order_by: list[str] | None = Field(None, max_length=10, description="Ignored: by project, then creation.")
    page_token: str | None = Field(None, max_length=2000)


class Experiment(Sparse):
    experiment_id: str
    name: str = Field(description="`<project>/<name>`.")
    artifact_location: str
    lifecycle_stage: Literal["active"] = "active"
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: list[KeyValue] = Field(default_factory=list)


class ExperimentAnswer(BaseModel):
    experiment: Experiment


class ExperimentCreated(BaseModel):
    experiment_id: str


class ExperimentPage(BaseModel):
    experiments: list[Experiment]
    next_page_token: str = Field("", description="Empty on the last page.")


# runs

class NewRun(MlflowInput):
    experiment_id: Ident = Field(description="An experiment id; `0` is the default project's `Default`.")
    run_name: str | None = Field(None, max_length=250, pattern=NO_CONTROL)
    start_time: Millis | None = None
    tags: list[KeyValueIn] = Field(default_factory=list, max_length=MAX_TAGS_PER_BATCH)
    user_id: str | None = Field(None, max_length=1000, description="Ignored: the token says who starts it.")


class RunUpdate(RunRef):
    status: Status | None = Field(None, description="FINISHED, FAILED or KILLED end the run.")
    end_time: Millis | None = None
    run_name: str | None = Field(None, max_length=250, pattern=NO_CONTROL)


class RunSearch(MlflowInput):
    experiment_ids: list[Ident] = Field(min_length=1, max_length=100)
    filter: str | None = Field(None, max_length=10_000)
    run_view_type: Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"] = "ACTIVE_ONLY"
    max_results: int = Field(1000, ge=1, le=MAX_RESULTS)
    order_by: list[Annotated[str, Field(max_length=500)]] | None = Field(None, max_length=10)
    page_token: str | None = Field(None, max_length=1000)


class LoggedModelSearch(MlflowInput):
    experiment_ids: list[Ident] = Field(default_factory=list, max_length=100)


class HistoryQuery(RunRef):
    metric_key: t.Key
    max_results: int | None = Field(None, ge=1)
    page_token: str | None = Field(None, max_length=100)


class Metric(BaseModel):
    key: str
    value: t.Number
    timestamp: int
    step: int


class RunInfo(Sparse):
    run_id: str
    run_uuid: str
    experiment_id: str
    run_name: str
    user_id: str
    status: Status
    start_time: int | None = None
    end_time: int | None = None
    artifact_uri: str
    lifecycle_stage: Literal["active"] = "active"


class RunData(BaseModel):
    metrics: list[Metric]
    params: list[KeyValue]
    tags: list[KeyValue]


class Dataset(BaseModel):
    name: str
    digest: str
    source_type: str
    source: str


class DatasetInput(BaseModel):
    tags: list[KeyValue]
    dataset: Dataset


class RunInputs(BaseModel):
    dataset_inputs: list[DatasetInput] = Field(default_factory=list)


class Run(BaseModel):
    info: RunInfo
    data: RunData
    inputs: RunInputs


class RunAnswer(BaseModel):
    run: Run


class RunInfoAnswer(BaseModel):
    run_info: RunInfo


class RunPage(BaseModel):
    runs: list[Run]
    next_page_token: str = Field("", description="Empty on the last page.")


class MetricHistory(BaseModel):
    metrics: list[Metric]
    next_page_token: str = Field("", description="Empty on the last page.")


class LoggedModelPage(BaseModel):
    models: list[dict[str, Any]] = Field(default_factory=list, description="Always empty: LakeCache records "
                                                                           "models as run outputs.")


# logging

class MetricIn(MlflowInput):
    key: t.Key
    value: float = Field(description="A number; NaN and the infinities as \"NaN\", \"Infinity\", \"-Infinity\".")
    timestamp: Millis
    step: Step = 0


class LogMetric(RunRef, MetricIn):
    pass


class LogParam(RunRef, KeyValueIn):
    pass


class SetTag(RunRef, KeyValueIn):
    pass


class DeleteTag(RunRef):
    key: t.Key


class LogBatch(RunRef):
    metrics: list[MetricIn] = Field(default_factory=list, max_length=MAX_METRICS_PER_BATCH)
    params: list[KeyValueIn] = Field(default_factory=list, max_length=MAX_PARAMS_PER_BATCH)
    tags: list[KeyValueIn] = Field(default_factory=list, max_length=MAX_TAGS_PER_BATCH)


class DatasetIn(MlflowInput):
    name: str = Field(max_length=500)
    digest: str = Field("", max_length=36)
    source_type: str = Field("", max_length=100)
    source: Text = Field("", description="`lakecache://<project>/<dataset>@<commit id>` (or MLflow's JSON "
                                         "`{\"uri\": \"…\"}` of it) records the commit as the run's input.")


class DatasetInputIn(MlflowInput):
    tags: list[KeyValueIn] = Field(default_factory=list, max_length=MAX_TAGS_PER_BATCH)
    dataset: DatasetIn


class LogInputs(RunRef):
    datasets: list[DatasetInputIn] = Field(default_factory=list, max_length=1000)


class Empty(BaseModel):
    """MLflow's empty answer, `{}`."""


# artifacts

class ArtifactListing(MlflowInput):
    path: str = Field(min_length=1, max_length=1000, pattern=NO_CONTROL,
                      description="`<experiment_id>/<run_id>/artifacts[/<directory>]`.")


class ArtifactFile(MlflowInput):
    experiment_id: Ident
    run_id: Ident
    path: str = Field(min_length=1, max_length=400, description="The file's path in the run's artifacts.")


class FileInfo(Sparse):
    path: str = Field(description="The name, relative to the listed directory.")
    is_dir: bool
    file_size: int | None = None


class ArtifactFiles(BaseModel):
    files: list[FileInfo]
