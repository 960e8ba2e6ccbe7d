"""MLflow's run routes: create, update, get, search, metric history (``/api/2.0/mlflow/runs/…``).

Each is the gateway's own run route underneath (``lakecache.gateway.api.runs``): a run starts
through ``start_run`` (the gateway hands out and binds its id, and answers once the tracker has
it) and ends through ``finish_run`` (answered once the tracker shows it ended, so everything
logged before is applied); reads and searches are the tracker's, in MLflow's shapes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from lakecache.core.contracts.runs import RunTagsSet
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.vocabulary.runs import TAG_VALUE_MAX
from lakecache.gateway.api import runs as native
from lakecache.gateway.api.backends import tracker_models as t
from lakecache.gateway.api.common import API, publisher_of
from lakecache.gateway.api.mlflow import models as m
from lakecache.gateway.api.mlflow import render
from lakecache.gateway.api.mlflow.common import MLFLOW, mlflow_operation, project_of_request, run_of, valid
from lakecache.gateway.api.mlflow.experiments import default_experiment, find_experiment
from lakecache.gateway.api.mlflow.ids import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    experiment_project_source,
    experiments_project_source,
    project_of_experiment,
    run_project_source,
    run_source,
)
from lakecache.gateway.auth import Permission

_SOURCE_TAG, _COMMIT_TAG = "mlflow.source.name", "mlflow.source.git.commit"


async def shown_run(request: web.Request, project: str, run_id: str) -> t.Run:
    found = await native.read_run(request, project, run_id)
    if found is None:
        raise NotFound(f"Run '{run_id}' not found")
    return t.Run.model_validate(found)


async def mlflow_create_run(request: web.Request, body: m.NewRun) -> m.RunAnswer:
    project = project_of_request(request)
    experiment_id = body.experiment_id
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        experiment_id = await default_experiment(request, project)
    tags = {tag.key: tag.value[:TAG_VALUE_MAX] for tag in body.tags}  # MLflow truncates long values too
    name = body.run_name or tags.get(render.RUN_NAME_TAG) or render.run_name()
    tags[render.RUN_NAME_TAG] = name
    new = valid(native.NewRun, "body", experiment_id=experiment_id, name=name[:250], tags=tags,
                code_version=tags.get(_COMMIT_TAG, "")[:200] or None, source=tags.get(_SOURCE_TAG, "")[:1000] or None,
                start_time=None if body.start_time is None else render.moment(body.start_time))
    reply = await native.start_run(request, t.ProjectPath(project=project), new)
    assert isinstance(reply.body, t.Run)
    return m.RunAnswer(run=render.run(reply.body))


async def mlflow_update_run(request: web.Request, body: m.RunUpdate) -> m.RunInfoAnswer:
    project, run_id = run_of(request, body)
    await native.own_run(request, project, run_id)
    if body.run_name:
        await publisher_of(request).emit(RunTagsSet(run_id=run_id, project=project,
                                                    tags={render.RUN_NAME_TAG: body.run_name}), subject=run_id)
    ended = render.ended_state(body.status)
    if ended is None:  # RUNNING, SCHEDULED: a run is running until it ends; only the name changes
        return m.RunInfoAnswer(run_info=render.run_info(await shown_run(request, project, run_id),
                                                        name=body.run_name))
    end = None if body.end_time is None else render.moment(body.end_time)
    finished = await native.finish_run(request, t.RunPath(project=project, run_id=run_id),
                                       native.RunEnd(status=ended, end_time=end))
    return m.RunInfoAnswer(run_info=render.run_info(finished, name=body.run_name))


async def mlflow_get_run(request: web.Request, query: m.RunRef) -> m.RunAnswer:
    project, run_id = run_of(request, query)
    return m.RunAnswer(run=render.run(await shown_run(request, project, run_id)))


async def _experiments_of(request: web.Request, project: str, ids: list[str]) -> list[str]:
    """``ids`` as the tracker knows them (``0``: the project's ``Default``), all ``project``'s."""
    found = []
    for experiment_id in dict.fromkeys(ids):
        owner = await project_of_experiment(request, experiment_id)
        if owner is None:
            continue  # MLflow finds no runs in an experiment that does not exist
        if owner != project:
            raise InvalidArgument(f"experiment_ids: experiment {experiment_id!r} is project {owner!r}'s, the search "
                                  f"project {project!r}'s; search one project's experiments at a time")
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            default = await find_experiment(request, project, DEFAULT_EXPERIMENT_NAME)
            if default is None:
                continue
            experiment_id = default.id
        found.append(experiment_id)
    return found


async def mlflow_search_runs(request: web.Request, body: m.RunSearch) -> m.RunPage:
    project = project_of_request(request)
    experiment_ids = await _experiments_of(request, project, body.experiment_ids)
    if not experiment_ids or body.run_view_type == "DELETED_ONLY":  # runs are never deleted
        return m.RunPage(runs=[])
    search: dict[str, Any] = {"experiment_ids": experiment_ids, "filter": body.filter, "order_by": body.order_by,
                              "limit": body.max_results, "page_token": body.page_token or None}
    status, answer = await native.tracker_json(request, "POST", f"{API}/projects/{project}/runs/search",
                                               action="runs:read", project=project,
                                               body={k: v for k, v in search.items() if v is not None})
    if status != 200:
        raise native.problem_of(status, answer, "searching runs")
    return m.RunPage(runs=render.runs(answer), next_page_token=answer["next_page_token"] or "")


#: The ``mlflow`` client's page (``GET_METRIC_HISTORY_MAX_RESULTS``): from there on, the tracker's own.
_CLIENT_PAGE = 25_000


async def mlflow_metric_history(request: web.Request, query: m.HistoryQuery) -> m.MetricHistory:
    project, run_id = run_of(request, query)
    await native.own_run(request, project, run_id)
    asked: dict[str, str] = {"key": query.metric_key}
    if query.max_results is not None and query.max_results < _CLIENT_PAGE:
        asked["limit"] = str(query.max_results)
    if query.page_token:
        asked["page_token"] = query.page_token
    status, answer = await native.tracker_json(
        request, "GET", f"{API}/projects/{project}/runs/{quote(run_id, safe='')}/metric-history",
        action="runs:read", project=project, query=asked)
    if status == 404:
        raise NotFound(f"Run '{run_id}' not found")
    if status != 200:
        raise native.problem_of(status, answer, f"reading the history of {query.metric_key!r}")
    points = [m.Metric(key=query.metric_key, value=p["value"], timestamp=p["timestamp"], step=p["step"])
              for p in answer["points"]]
    return m.MetricHistory(metrics=points, next_page_token=answer["next_page_token"] or "")


async def mlflow_search_logged_models(request: web.Request, body: m.LoggedModelSearch) -> m.LoggedModelPage:
    return m.LoggedModelPage()


_RUN_READ = Permission("runs:read", project_from=run_project_source)
_SEARCH = Permission("runs:read", project_from=experiments_project_source)

OPERATIONS = [
    mlflow_operation("POST", f"{MLFLOW}/runs/create", mlflow_create_run, "MLflow: start a run",
                     Permission("runs:write", project_from=experiment_project_source), body=m.NewRun,
                     response=m.RunAnswer, errors=(404,),
                     description="In experiment `0`, the run starts in `Default` of the caller's default project "
                                 "(made on first use). Answers once the tracker has recorded the run."),
    mlflow_operation("POST", f"{MLFLOW}/runs/update", mlflow_update_run, "MLflow: end or rename a run",
                     Permission("runs:log", project_from=run_project_source, run_from=run_source),
                     body=m.RunUpdate, response=m.RunInfoAnswer, errors=(404,),
                     description="FINISHED, FAILED or KILLED end the run (answered once the tracker shows it "
                                 "ended); RUNNING and SCHEDULED change only its name (`run_name`)."),
    mlflow_operation("GET", f"{MLFLOW}/runs/get", mlflow_get_run, "MLflow: show a run", _RUN_READ,
                     query=m.RunRef, response=m.RunAnswer, errors=(404,)),
    mlflow_operation("POST", f"{MLFLOW}/runs/search", mlflow_search_runs,
                     "MLflow: search one project's runs with a filter string", _SEARCH, body=m.RunSearch,
                     response=m.RunPage, errors=(404,),
                     description="The experiments must be one project's; the filter and order are MLflow's."),
    mlflow_operation("GET", f"{MLFLOW}/metrics/get-history", mlflow_metric_history, "MLflow: a metric's history",
                     _RUN_READ, query=m.HistoryQuery, response=m.MetricHistory, errors=(404,)),
    mlflow_operation("POST", f"{MLFLOW}/logged-models/search", mlflow_search_logged_models,
                     "MLflow: logged models (none)", _SEARCH, body=m.LoggedModelSearch, response=m.LoggedModelPage,
                     errors=(404,), description="Always empty: LakeCache records models as run outputs."),
]
