"""Where an MLflow request's project and run are: experiment names, and the ids the gateway handed out.

MLflow names experiments by a flat name and runs and experiments by id alone. LakeCache keeps
both in projects:

* an experiment name ``<project>/<name>`` is experiment ``<name>`` of project ``<project>``; a
  name without a slash, or whose first part is no project name, is an experiment of the
  caller's default project: the job token's project, else ``default`` (:func:`split_name`).
  Answers always name an experiment ``<project>/<name>`` (:func:`mlflow_name`), which reads
  back to the same experiment.
* a run or experiment id is the project's the gateway bound it to when it handed it out
  (``RunIdRepository``); an id it never handed out has no project, and the request naming it is
  denied as ``RESOURCE_DOES_NOT_EXIST`` (:func:`~lakecache.gateway.api.mlflow.errors.unknown`).
* MLflow's default experiment ``"0"`` is experiment ``Default`` of the caller's default project.

The functions named ``*_source`` are permission sources (``Permission(project_from=…)``): the
auth middleware calls them before the handler, which then reads the same ids with the same
functions and acts in the project it was authorized for (``granted_of``), never in one the
body could name differently.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from lakecache.core.vocabulary.names import SLUG
from lakecache.gateway.api.mlflow.errors import unknown
from lakecache.gateway.api.runs import run_ids_of
from lakecache.gateway.auth import JobPrincipal, principal_of
from lakecache.gateway.http.limits import read_json_body
from lakecache.gateway.http.problems import FieldError, RequestInvalid

DEFAULT_PROJECT = "default"
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
#: ``<experiment id>/<run id>/artifacts[/<path>]``: where MLflow's artifact routes name a run's files.
_ARTIFACT_PATH = re.compile(r"^(?P<experiment_id>[^/]+)/(?P<run_id>[^/]+)/artifacts(?:/(?P<path>.*))?$")


def default_project(request: web.Request) -> str:
    principal = principal_of(request)
    return principal.project if isinstance(principal, JobPrincipal) else DEFAULT_PROJECT


def split_name(request: web.Request, mlflow_name: str) -> tuple[str, str]:
    """(project, experiment name) of an MLflow experiment name."""
    project, slash, name = mlflow_name.partition("/")
    if slash and name and SLUG.match(project):
        return project, name
    return default_project(request), mlflow_name


def mlflow_name(project: str, name: str) -> str:
    return f"{project}/{name}"


def _place(request: web.Request) -> str:
    return "query" if request.method == "GET" else "body"


def invalid(request: web.Request, name: str, message: str) -> RequestInvalid:
    place = _place(request)
    return RequestInvalid(place, [FieldError(location=f"{place}.{name}", message=message)])


_FIELDS = web.RequestKey("lakecache_mlflow_fields", dict)


async def _fields(request: web.Request) -> dict[str, Any]:
    """The request's query or JSON body fields, parsed once (a route's project and run sources
    both read them)."""
    if request.method == "GET":
        return dict(request.query)
    if _FIELDS not in request:
        try:
            body = json.loads(await read_json_body(request))  # within the operation's limits
        except (ValueError, UnicodeDecodeError):
            body = {}  # the operation's binding answers the unreadable body
        request[_FIELDS] = body if isinstance(body, dict) else {}
    return request[_FIELDS]


def _text(request: web.Request, fields: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = fields.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise invalid(request, name, "required, but missing" if value is None else "a non-empty string")
    return value


def requested_run(request: web.Request, run_id: str | None, run_uuid: str | None) -> str:
    """The run a request names: ``run_id``, or its deprecated alias ``run_uuid`` (equal if both)."""
    if run_id and run_uuid and run_id != run_uuid:
        raise invalid(request, "run_uuid", f"names run {run_uuid!r}, but run_id names {run_id!r}; send one")
    found = run_id or run_uuid
    if not found:
        raise invalid(request, "run_id", "required, but missing")
    return found


async def run_source(request: web.Request) -> str:
    """The run id of the request (its ``run_id``/``run_uuid``)."""
    fields = await _fields(request)
    run_id, run_uuid = (fields.get(name) if isinstance(fields.get(name), str) else None
                        for name in ("run_id", "run_uuid"))
    return requested_run(request, run_id, run_uuid)


async def project_of_run(request: web.Request, run_id: str) -> str:
    project = await run_ids_of(request).project_of("run", run_id)
    if project is None:
        unknown(request, f"Run '{run_id}' not found")
    return project


async def run_project_source(request: web.Request) -> str:
    return await project_of_run(request, await run_source(request))


async def project_of_experiment(request: web.Request, experiment_id: str) -> str | None:
    """The project of an experiment id; None if the gateway never handed it out."""
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        return default_project(request)
    return await run_ids_of(request).project_of("experiment", experiment_id)


async def experiment_project_source(request: web.Request) -> str:
    experiment_id = _text(request, await _fields(request), "experiment_id")
    assert experiment_id is not None
    project = await project_of_experiment(request, experiment_id)
    if project is None:
        unknown(request, f"No experiment with id '{experiment_id}' exists")
    return project


async def experiments_project_source(request: web.Request) -> str:
    """The project of the first known experiment of ``experiment_ids`` (a search)."""
    ids = (await _fields(request)).get("experiment_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise invalid(request, "experiment_ids", "a non-empty list of experiment ids")
    for experiment_id in ids:
        project = await project_of_experiment(request, experiment_id)
        if project is not None:
            return project
    unknown(request, f"No experiment with id {', '.join(map(repr, ids[:5]))} exists")


async def named_experiment_source(request: web.Request) -> str:
    """The project of the experiment name in ``experiment_name`` (a query) or ``name`` (a body)."""
    name = _text(request, await _fields(request), "experiment_name" if request.method == "GET" else "name")
    assert name is not None
    return split_name(request, name)[0]


def artifact_location(path: str) -> tuple[str, str, str | None]:
    """(experiment id, run id, path under the run's artifacts or None) of an MLflow artifact path."""
    match = _ARTIFACT_PATH.match(path.strip("/"))
    if match is None:
        raise RequestInvalid("query", [FieldError(location="query.path", message=(
            "<experiment_id>/<run_id>/artifacts[/<directory>], as in a run's artifact_uri"))])
    return match["experiment_id"], match["run_id"], match["path"] or None


async def _artifact_run_project(request: web.Request, experiment_id: str, run_id: str) -> str:
    project = await project_of_run(request, run_id)
    if await project_of_experiment(request, experiment_id) != project:
        unknown(request, f"Run '{run_id}' has no artifacts under experiment '{experiment_id}'")
    return project


async def artifact_file_source(request: web.Request) -> str:
    """The project of ``…/artifacts/{experiment_id}/{run_id}/artifacts/{path}``."""
    return await _artifact_run_project(request, request.match_info["experiment_id"], request.match_info["run_id"])


async def artifact_listing_source(request: web.Request) -> str:
    """The project of ``…/artifacts?path=<experiment_id>/<run_id>/artifacts[/<dir>]``."""
    path = request.query.get("path")
    if not path:
        raise RequestInvalid("query", [FieldError(location="query.path", message="required, but missing")])
    experiment_id, run_id, _ = artifact_location(path)
    return await _artifact_run_project(request, experiment_id, run_id)
