"""What MLflow's routes share: their paths, how they are declared, the project they act in."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from lakecache.gateway.api.mlflow.errors import MlflowError
from lakecache.gateway.api.mlflow.ids import requested_run
from lakecache.gateway.api.mlflow.models import RunRef
from lakecache.gateway.auth.context import granted_of, require
from lakecache.gateway.auth.policy import Resource
from lakecache.gateway.http.operation import Handler, Operation
from lakecache.gateway.http.problems import FieldError, RequestInvalid

M = TypeVar("M", bound=BaseModel)

MLFLOW = "/api/2.0/mlflow"
MLFLOW_ARTIFACTS = "/api/2.0/mlflow-artifacts"


def mlflow_operation(method: str, path: str, handler: Handler, summary: str, permission: Any,
                     **declared: Any) -> Operation:
    """An operation of MLflow's API: tagged ``mlflow``, its errors in MLflow's error JSON."""
    return Operation(method, path, handler, summary, permission, tag="mlflow", error_model=MlflowError, **declared)


def project_of_request(request: web.Request) -> str:
    """The project the request was authorized in (found by its permission's lookup)."""
    project = granted_of(request)[1]
    assert project is not None, "an MLflow route's permission always names a project"
    return project


def run_of(request: web.Request, body: RunRef) -> tuple[str, str]:
    """(project, run id) of a request about one run, read as its permission's lookup read it
    (``ids.requested_run``) and checked again, so a handler only ever acts on the run the
    caller was authorized for (a job token: its own)."""
    action, project = granted_of(request)
    assert project is not None, "an MLflow route's permission always names a project"
    run_id = requested_run(request, body.run_id, body.run_uuid)
    require(request, action, Resource(project, run_id))
    return project, run_id


def valid(model: type[M], where: str, **data: Any) -> M:
    """``model`` of ``data`` (a native route's input), refused as the request's fault (400) if
    it does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestInvalid(where, [FieldError.of(where, e) for e in exc.errors()]) from None
