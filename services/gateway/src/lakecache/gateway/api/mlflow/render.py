"""LakeCache's runs and experiments (the tracker's answers) in MLflow's words, and back.

* times: ISO 8601 ↔ epoch milliseconds;
* states: ``running``/``finished``/``failed``/``killed`` ↔ ``RUNNING``/``FINISHED``/…;
* a run's name is its ``mlflow.runName`` tag when set (MLflow renames a run by that tag), else
  the name it started with; its user is the LakeCache user (or job) that started it;
* a run's artifacts are ``mlflow-artifacts:/<experiment_id>/<run_id>/artifacts``, which the
  client resolves against the tracking URI to the gateway's artifact routes;
* a run's inputs (commits it read) are dataset inputs of source type ``lakecache`` with the
  source ``lakecache://<project>/<dataset>@<commit id>``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lakecache.core.vocabulary.runs import RunState
from lakecache.gateway.api.backends import tracker_models as t
from lakecache.gateway.api.mlflow import models as m
from lakecache.gateway.api.mlflow.ids import mlflow_name

RUN_NAME_TAG = "mlflow.runName"
CONTEXT_TAG = "mlflow.data.context"
LAKECACHE_SOURCE = "lakecache"
#: MLflow's ``Dataset.digest`` holds at most 36 characters: the commit id's head.
DIGEST_LENGTH = 36

_ENDED: dict[str, RunState] = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed"}


def millis(moment: str | None) -> int | None:
    return None if moment is None else round(datetime.fromisoformat(moment).timestamp() * 1000)


def moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def ended_state(status: str | None) -> RunState | None:
    """The LakeCache state an MLflow status ends a run in; None for RUNNING and SCHEDULED."""
    return _ENDED.get(status or "")


def pairs(values: Mapping[str, str]) -> list[m.KeyValue]:
    return [m.KeyValue(key=key, value=value) for key, value in values.items()]


def artifact_uri(experiment_id: str, run_id: str) -> str:
    return f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"


def lakecache_uri(project: str, dataset: str, commit_id: str) -> str:
    return f"lakecache://{project}/{dataset}@{commit_id}"


def experiment(doc: t.Experiment) -> m.Experiment:
    return m.Experiment(experiment_id=doc.id, name=mlflow_name(doc.project, doc.name),
                        artifact_location=f"mlflow-artifacts:/{doc.id}", creation_time=millis(doc.created_at),
                        last_update_time=millis(doc.updated_at or doc.created_at), tags=pairs(doc.tags))


def run_info(run: t.Run, *, name: str | None = None) -> m.RunInfo:
    experiment_id = run.experiment_id or ""
    user = run.user or ""
    return m.RunInfo(run_id=run.id, run_uuid=run.id, experiment_id=experiment_id,
                     run_name=name or run.tags.get(RUN_NAME_TAG) or run.name,
                     user_id=user.partition(":")[2] or user, status=(run.status or "running").upper(),
                     start_time=millis(run.start_time), end_time=millis(run.end_time),
                     artifact_uri=artifact_uri(experiment_id, run.id))


def _input(project: str, edge: t.RunInput) -> m.DatasetInput | None:
    if not (edge.dataset and edge.commit_id):
        return None
    tags = [m.KeyValue(key=CONTEXT_TAG, value=edge.context)] if edge.context else []
    return m.DatasetInput(tags=tags, dataset=m.Dataset(
        name=edge.dataset, digest=edge.commit_id[:DIGEST_LENGTH], source_type=LAKECACHE_SOURCE,
        source=lakecache_uri(project, edge.dataset, edge.commit_id)))


def run(doc: t.Run) -> m.Run:
    metrics = [m.Metric(key=key, value=point.value, timestamp=point.timestamp, step=point.step)
               for key, point in doc.metrics.items()]
    inputs = [found for edge in doc.inputs or [] if (found := _input(doc.project, edge)) is not None]
    tags = {RUN_NAME_TAG: doc.name, **doc.tags} if doc.name else doc.tags
    return m.Run(info=run_info(doc), data=m.RunData(metrics=metrics, params=pairs(doc.params), tags=pairs(tags)),
                 inputs=m.RunInputs(dataset_inputs=inputs))


def runs(answer: Any) -> list[m.Run]:
    return [run(t.Run.model_validate(item)) for item in answer["items"]]


_ADJECTIVES = ("amber", "bold", "brisk", "calm", "clever", "crisp", "eager", "gentle", "lucid", "merry", "nimble",
               "quiet", "rapid", "sharp", "sunny", "swift", "tidy", "vivid", "wise", "zesty")
_NOUNS = ("badger", "crane", "dolphin", "falcon", "fox", "heron", "ibis", "koala", "lynx", "marten", "otter",
          "owl", "panda", "quail", "raven", "seal", "swan", "tern", "whale", "wren")


def run_name() -> str:
    """A name for a run started without one, in MLflow's style (``brisk-otter-417``)."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randrange(1000)}"
