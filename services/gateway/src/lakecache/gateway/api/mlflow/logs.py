"""What MLflow logs to a run: metrics, params, tags, batches and dataset inputs.

All go through the gateway's own logging (``lakecache.gateway.api.runs``): on the bus, keyed by
the run, answered ``{}`` as soon as they are sent. A batch's key is its content
(``content_key``), so the ``mlflow`` client's retries of one request are stored once. A
dataset input whose source names a LakeCache commit (``lakecache://<project>/<dataset>@<commit
id>``, possibly as MLflow's JSON ``{"uri": …}``) is recorded as the run's input after the same
catalog check as ``POST …/runs/{run_id}/inputs``, with the cache facts its tags give
(``lakecache.site``, ``lakecache.volume``, ``lakecache.cache_hit``, ``lakecache.bytes``,
``lakecache.waited_seconds``); other datasets are accepted and not kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from lakecache.core.contracts.runs import MetricPoint, RunTagsSet
from lakecache.core.errors import InvalidArgument
from lakecache.core.vocabulary.runs import PARAM_VALUE_MAX, TAG_VALUE_MAX
from lakecache.gateway.api import runs as native
from lakecache.gateway.api.backends import tracker_models as t
from lakecache.gateway.api.common import publisher_of
from lakecache.gateway.api.mlflow import models as m
from lakecache.gateway.api.mlflow.common import MLFLOW, mlflow_operation, run_of, valid
from lakecache.gateway.api.mlflow.ids import run_project_source, run_source
from lakecache.gateway.api.mlflow.render import CONTEXT_TAG, moment
from lakecache.gateway.auth import Permission

_LAKECACHE = re.compile(r"^lakecache://(?P<project>[^/@]+)/(?P<dataset>[^/@]+)@(?P<commit>[0-9a-f]{64})$")
_CONTEXT_MAX = 100
#: MLflow's limit on a batch's metrics, params and tags together.
_MAX_ENTITIES = 1000
#: How the copy was read, from the input's tags ``lakecache.<fact>`` (as ``POST …/inputs`` takes them).
_FACTS = ("site", "volume", "cache_hit", "bytes", "waited_seconds")


async def _log(request: web.Request, body: m.RunRef, *, metrics: Sequence[m.MetricIn] = (),
               params: Sequence[m.KeyValueIn] = (), tags: Sequence[m.KeyValueIn] = ()) -> m.Empty:
    project, run_id = run_of(request, body)
    await native.own_run(request, project, run_id)
    if len(metrics) + len(params) + len(tags) > _MAX_ENTITIES:
        raise InvalidArgument(f"a batch logs at most {_MAX_ENTITIES} metrics, params and tags in all; "
                              f"this one has {len(metrics) + len(params) + len(tags)}")
    keys = [p.key for p in params]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise InvalidArgument(f"params {', '.join(map(repr, repeated))} are given more than once; a param has "
                              "one value")
    if not (metrics or params or tags):
        return m.Empty()
    # The models checked keys and values; MLflow's server truncates over-long param and tag
    # values rather than refusing them.
    points = [MetricPoint(key=p.key, value=p.value, step=p.step, timestamp=moment(p.timestamp)) for p in metrics]
    await native.publish_batch(request, project, run_id, native.content_key(await request.read()), points,
                               {p.key: p.value[:PARAM_VALUE_MAX] for p in params},
                               {tag.key: tag.value[:TAG_VALUE_MAX] for tag in tags})
    return m.Empty()


async def mlflow_log_metric(request: web.Request, body: m.LogMetric) -> m.Empty:
    return await _log(request, body, metrics=[body])


async def mlflow_log_param(request: web.Request, body: m.LogParam) -> m.Empty:
    return await _log(request, body, params=[body])


async def mlflow_set_tag(request: web.Request, body: m.SetTag) -> m.Empty:
    return await _log(request, body, tags=[body])


async def mlflow_log_batch(request: web.Request, body: m.LogBatch) -> m.Empty:
    return await _log(request, body, metrics=body.metrics, params=body.params, tags=body.tags)


async def mlflow_delete_tag(request: web.Request, body: m.DeleteTag) -> m.Empty:
    project, run_id = run_of(request, body)
    await native.own_run(request, project, run_id)
    await publisher_of(request).emit(RunTagsSet(run_id=run_id, project=project, deleted=[body.key]), subject=run_id)
    return m.Empty()


def lakecache_source(source: str) -> tuple[str, str, str] | None:
    """(project, dataset, commit id) of a dataset source naming a LakeCache commit; None if it
    names something else."""
    uri: Any = source.strip()
    if uri.startswith("{"):
        try:
            uri = json.loads(uri).get("uri")
        except (ValueError, AttributeError):
            return None
    if not isinstance(uri, str) or not uri.startswith("lakecache://"):
        return None
    match = _LAKECACHE.match(uri)
    if match is None:
        raise InvalidArgument(f"dataset source {uri!r}: a LakeCache commit is "
                              "lakecache://<project>/<dataset>@<64-hex commit id>")
    return match["project"], match["dataset"], match["commit"]


async def mlflow_log_inputs(request: web.Request, body: m.LogInputs) -> m.Empty:
    project, run_id = run_of(request, body)
    await native.own_run(request, project, run_id)
    found = []
    for item in body.datasets:
        named = lakecache_source(item.dataset.source)
        if named is None:
            continue  # not LakeCache's: nothing to trace it to
        if named[0] != project:
            raise InvalidArgument(f"dataset {named[0]}/{named[1]}: run {run_id} is project {project!r}'s and may only "
                                  "read that project's datasets")
        tags = {tag.key: tag.value for tag in item.tags}
        facts = {fact: tags[f"lakecache.{fact}"] for fact in _FACTS if f"lakecache.{fact}" in tags}
        found.append(valid(native.NewInput, "body", dataset=named[1], commit_id=named[2],
                           context=tags.get(CONTEXT_TAG, "")[:_CONTEXT_MAX], **facts))
    for new in found:  # every input checked before any is recorded
        await native.record_input(request, t.RunPath(project=project, run_id=run_id), new)
    return m.Empty()


_LOG = Permission("runs:log", project_from=run_project_source, run_from=run_source)
_LOGGED = "Sent to the tracker, which applies it within moments (`runs/update` to end the run waits for it)."

OPERATIONS = [
    mlflow_operation("POST", f"{MLFLOW}/runs/log-metric", mlflow_log_metric, "MLflow: log a metric", _LOG,
                     body=m.LogMetric, response=m.Empty, errors=(404,), description=_LOGGED),
    mlflow_operation("POST", f"{MLFLOW}/runs/log-parameter", mlflow_log_param, "MLflow: log a param", _LOG,
                     body=m.LogParam, response=m.Empty, errors=(404,),
                     description=f"{_LOGGED} A param keeps its first value."),
    mlflow_operation("POST", f"{MLFLOW}/runs/set-tag", mlflow_set_tag, "MLflow: set a tag", _LOG, body=m.SetTag,
                     response=m.Empty, errors=(404,), description=_LOGGED),
    mlflow_operation("POST", f"{MLFLOW}/runs/delete-tag", mlflow_delete_tag, "MLflow: delete a tag", _LOG,
                     body=m.DeleteTag, response=m.Empty, errors=(404,), description=_LOGGED),
    mlflow_operation("POST", f"{MLFLOW}/runs/log-batch", mlflow_log_batch, "MLflow: log metrics, params and tags",
                     _LOG, body=m.LogBatch, max_body=native.MAX_LOG_BODY, response=m.Empty, errors=(404,),
                     description=f"{_LOGGED} At most 1000 metrics, 100 params and 100 tags, 1000 in all; a batch "
                                 "sent again is stored once."),
    mlflow_operation("POST", f"{MLFLOW}/runs/log-inputs", mlflow_log_inputs, "MLflow: record datasets the run read",
                     _LOG, body=m.LogInputs, max_body=native.MAX_LOG_BODY, response=m.Empty, errors=(404,),
                     description="A dataset whose source is `lakecache://<project>/<dataset>@<commit id>` (the "
                                 "run's project's) becomes the run's input in the lineage; others are not kept."),
]
