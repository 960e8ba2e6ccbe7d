"""MLflow's experiment routes: get by name, create, get, search (``/api/2.0/mlflow/experiments/…``).

Experiments are the tracker's, created through the gateway's own ``create_experiment`` (which
binds the new id to its project); the MLflow name ``<project>/<name>`` is split and rendered by
``ids.py``. MLflow's default experiment ``0`` is ``Default`` of the caller's default project,
made on first use by a run started in it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import quote

from aiohttp import web

from lakecache.core.errors import Conflict, InvalidArgument, NotFound
from lakecache.gateway.api.backends import tracker_models as t
from lakecache.gateway.api.common import API
from lakecache.gateway.api.mlflow import models as m
from lakecache.gateway.api.mlflow import render
from lakecache.gateway.api.mlflow.common import MLFLOW, mlflow_operation, project_of_request
from lakecache.gateway.api.mlflow.ids import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    experiment_project_source,
    named_experiment_source,
    split_name,
)
from lakecache.gateway.api.runs import create_experiment, problem_of, run_ids_of, tracker_json
from lakecache.gateway.auth import Permission, Resource, authorize, principal_of
from lakecache.gateway.auth.principals import UserPrincipal

#: Experiments asked of the tracker per call (its page limit).
_TRACKER_PAGE = 1000
_NAME_FILTER = re.compile(r"^\s*(?:(?:attributes?|attr)\.)?name\s+(=|!=|LIKE|ILIKE)\s+'((?:[^']|'')*)'\s*$",
                          re.IGNORECASE)


async def find_experiment(request: web.Request, project: str, name: str) -> t.Experiment | None:
    status, answer = await tracker_json(request, "GET", f"{API}/projects/{project}/experiments",
                                        action="runs:read", project=project, query={"name": name})
    if status != 200:
        raise problem_of(status, answer, f"looking up experiment {name!r}")
    if not answer["items"]:
        return None
    found = t.Experiment.model_validate(answer["items"][0])
    if await run_ids_of(request).project_of("experiment", found.id) is None:
        await run_ids_of(request).bind("experiment", found.id, project)  # made before ids were bound
    return found


async def read_experiment(request: web.Request, project: str, experiment_id: str) -> t.Experiment | None:
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        return await find_experiment(request, project, DEFAULT_EXPERIMENT_NAME)
    status, answer = await tracker_json(request, "GET", f"{API}/projects/{project}/experiments/"
                                        f"{quote(experiment_id, safe='')}", action="runs:read", project=project)
    if status == 404:
        return None
    if status != 200:
        raise problem_of(status, answer, f"reading experiment {experiment_id}")
    return t.Experiment.model_validate(answer)


async def default_experiment(request: web.Request, project: str) -> str:
    """The id of ``Default`` in ``project``, made now if missing (for a run started in ``0``)."""
    found = await find_experiment(request, project, DEFAULT_EXPERIMENT_NAME)
    if found is not None:
        return found.id
    try:
        reply = await create_experiment(request, t.ProjectPath(project=project),
                                        t.NewExperiment(name=DEFAULT_EXPERIMENT_NAME))
    except Conflict:  # made meanwhile by another request
        found = await find_experiment(request, project, DEFAULT_EXPERIMENT_NAME)
        if found is None:
            raise
        return found.id
    assert isinstance(reply.body, t.Experiment)
    return reply.body.id


async def mlflow_get_experiment_by_name(request: web.Request, query: m.ExperimentByName) -> m.ExperimentAnswer:
    project, name = split_name(request, query.experiment_name)
    found = await find_experiment(request, project_of_request(request), name)
    if found is None:
        raise NotFound(f"Could not find experiment with name '{query.experiment_name}'")
    return m.ExperimentAnswer(experiment=render.experiment(found))


async def mlflow_create_experiment(request: web.Request, body: m.NewExperiment) -> m.ExperimentCreated:
    _, name = split_name(request, body.name)
    if not name.strip() or len(name) > 500:
        raise InvalidArgument(f"name: an experiment name of 1 to 500 printable characters, got {name!r}")
    tags = {tag.key: tag.value for tag in body.tags}
    reply = await create_experiment(request, t.ProjectPath(project=project_of_request(request)),
                                    t.NewExperiment(name=name, tags=tags))
    assert isinstance(reply.body, t.Experiment)
    return m.ExperimentCreated(experiment_id=reply.body.id)


async def mlflow_get_experiment(request: web.Request, query: m.ExperimentRef) -> m.ExperimentAnswer:
    found = await read_experiment(request, project_of_request(request), query.experiment_id)
    if found is None:
        raise NotFound(f"No experiment with id '{query.experiment_id}' exists")
    return m.ExperimentAnswer(experiment=render.experiment(found))


# search

async def readable_projects(request: web.Request) -> list[str]:
    """The projects whose runs the caller may read (an administrator: every project with an id)."""
    principal = principal_of(request)
    if isinstance(principal, UserPrincipal) and principal.global_admin:
        candidates = await run_ids_of(request).projects()
    elif isinstance(principal, UserPrincipal):
        candidates = sorted(principal.roles)
    else:
        candidates = []  # a job token reads no runs
    return [p for p in candidates if authorize(principal, "runs:read", Resource(p)).allowed]


def _name_test(text: str | None):
    if not text or not text.strip():
        return lambda name: True
    match = _NAME_FILTER.match(text)
    if match is None:
        raise InvalidArgument(f"filter {text!r}: only conditions on the name are supported: name = '…', "
                              "name != '…', name LIKE '…' or name ILIKE '…'")
    comparator, value = match[1].upper(), match[2].replace("''", "'")
    if comparator in ("=", "!="):
        return lambda name: (name == value) == (comparator == "=")
    pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value)
    compiled = re.compile(f"^{pattern}$", re.DOTALL | (re.IGNORECASE if comparator == "ILIKE" else 0))
    return lambda name: compiled.match(name) is not None


def _token(project: str, cursor: str | None) -> str:
    return base64.urlsafe_b64encode(json.dumps({"project": project, "cursor": cursor}).encode()).decode()


def _position(token: str | None) -> tuple[str, str | None]:
    if not token:
        return "", None
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
        project, cursor = position["project"], position["cursor"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        project = cursor = None
    if not isinstance(project, str) or not (cursor is None or isinstance(cursor, str)):
        raise InvalidArgument("page_token: not a token this search gave")
    return project, cursor


async def _page(request: web.Request, project: str, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
    status, answer = await tracker_json(request, "GET", f"{API}/projects/{project}/experiments", action="runs:read",
                                        project=project, query=query)
    if status != 200:
        raise problem_of(status, answer, f"listing the experiments of project {project!r}")
    return answer["items"], answer["next_cursor"]


async def mlflow_search_experiments(request: web.Request, body: m.ExperimentSearch) -> m.ExperimentPage:
    wanted = _name_test(body.filter)
    start, cursor = _position(body.page_token)
    projects = [p for p in await readable_projects(request) if p >= start]
    found: list[m.Experiment] = []
    if body.view_type == "DELETED_ONLY":  # experiments are never deleted
        projects = []
    for index, project in enumerate(projects):
        cursor = cursor if project == start else None
        while len(found) < body.max_results:
            items, cursor = await _page(request, project, min(_TRACKER_PAGE, body.max_results - len(found)), cursor)
            found += [e for e in map(render.experiment, map(t.Experiment.model_validate, items)) if wanted(e.name)]
            if cursor is None:
                break
        if len(found) >= body.max_results:
            more = cursor is not None or index + 1 < len(projects)
            following = project if cursor is not None else projects[index + 1] if more else ""
            return m.ExperimentPage(experiments=found, next_page_token=_token(following, cursor) if more else "")
    return m.ExperimentPage(experiments=found)


_READ = Permission("runs:read", project_from=experiment_project_source)

OPERATIONS = [
    mlflow_operation("GET", f"{MLFLOW}/experiments/get-by-name", mlflow_get_experiment_by_name,
              "MLflow: find an experiment by name", Permission("runs:read", project_from=named_experiment_source),
              query=m.ExperimentByName, response=m.ExperimentAnswer, errors=(404,)),
    mlflow_operation("POST", f"{MLFLOW}/experiments/create", mlflow_create_experiment, "MLflow: create an experiment",
              Permission("runs:write", project_from=named_experiment_source), body=m.NewExperiment,
              response=m.ExperimentCreated, errors=(409,),
              description="The name is `<project>/<name>`; an experiment of that name answers 409 "
                          "`RESOURCE_ALREADY_EXISTS`."),
    mlflow_operation("GET", f"{MLFLOW}/experiments/get", mlflow_get_experiment, "MLflow: show an experiment", _READ,
              query=m.ExperimentRef, response=m.ExperimentAnswer, errors=(404,)),
    mlflow_operation("POST", f"{MLFLOW}/experiments/search", mlflow_search_experiments,
              "MLflow: list the experiments one may read", Permission("self:read"), body=m.ExperimentSearch,
              response=m.ExperimentPage,
              description="Any signed-in caller: the experiments of every project where the caller may read runs "
                          "(`runs:read`), by project."),
]
