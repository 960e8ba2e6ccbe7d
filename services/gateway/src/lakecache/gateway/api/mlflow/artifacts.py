"""MLflow's artifact routes (``/api/2.0/mlflow-artifacts/artifacts…``) on the tracker's run artifacts.

A run's ``artifact_uri`` is ``mlflow-artifacts:/<experiment_id>/<run_id>/artifacts``; the client
resolves it against the tracking URI, so it uploads, lists and downloads here. Each route is
the tracker's route for the same run (``/api/v1/projects/{project}/runs/{run_id}/artifacts…``):
uploads and downloads stream through, never whole in the gateway's memory.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from aiohttp import web

from lakecache.core.errors import NotFound
from lakecache.gateway.api import runs as native
from lakecache.gateway.api.backends import tracker_models as t
from lakecache.gateway.api.common import API
from lakecache.gateway.api.mlflow import models as m
from lakecache.gateway.api.mlflow.common import MLFLOW_ARTIFACTS, mlflow_operation, project_of_request
from lakecache.gateway.api.mlflow.ids import artifact_file_source, artifact_listing_source, artifact_location
from lakecache.gateway.auth import Permission
from lakecache.gateway.http.operation import StreamedBody
from lakecache.gateway.http.problems import PayloadTooLarge
from lakecache.gateway.upstream import forward, upstreams_of
from lakecache.gateway.upstream.forward import relay_download


def _target(project: str, run_id: str, path: str | None = None) -> str:
    """The tracker's path of a run's artifacts (percent-encoded, as the assertion signs it)."""
    base = f"{API}/projects/{project}/runs/{quote(run_id, safe='')}/artifacts"
    return base if path is None else f"{base}/{quote(path, safe='/')}"


async def mlflow_put_artifact(request: web.Request, params: m.ArtifactFile) -> t.ArtifactStored:
    answer = await forward(request, upstreams_of(request).tracker, stream=True,
                           target=_target(project_of_request(request), params.run_id, params.path))
    try:
        stored = json.loads(answer.body or b"null")
    except ValueError:
        stored = None
    if answer.status == 201 and isinstance(stored, dict):
        return t.ArtifactStored.model_validate(stored)
    if answer.status == 413:
        raise PayloadTooLarge((stored or {}).get("detail") or "the artifact is larger than the tracker stores")
    raise native.problem_of(answer.status, stored, f"storing artifact {params.path!r}")


async def mlflow_get_artifact(request: web.Request, params: m.ArtifactFile) -> web.StreamResponse:
    return await relay_download(request, upstreams_of(request).tracker,
                                target=_target(project_of_request(request), params.run_id, params.path))


async def mlflow_list_artifacts(request: web.Request, query: m.ArtifactListing) -> m.ArtifactFiles:
    project = project_of_request(request)
    _, run_id, directory = artifact_location(query.path)
    status, answer = await native.tracker_json(request, "GET", _target(project, run_id), action="runs:read",
                                               project=project, query={"path": directory} if directory else None)
    if status == 404:
        raise NotFound(f"Run '{run_id}' not found")
    if status != 200:
        raise native.problem_of(status, answer, f"listing the artifacts of run {run_id}")
    prefix = f"{directory}/" if directory else ""
    files = [m.FileInfo(path=entry.path.removeprefix(prefix), is_dir=entry.is_dir,
                        file_size=None if entry.is_dir else entry.file_size)
             for entry in t.ArtifactList.model_validate(answer).items]
    return m.ArtifactFiles(files=files)


_BODY = StreamedBody("application/octet-stream", {"type": "string", "format": "binary"},
                     "The file's bytes (the `mlflow` client sends its Content-Length).")
_FILE = f"{MLFLOW_ARTIFACTS}/artifacts/{{experiment_id}}/{{run_id}}/artifacts/{{path}}"

OPERATIONS = [
    mlflow_operation("PUT", _FILE, mlflow_put_artifact, "MLflow: store an artifact file",
                     Permission("runs:log", project_from=artifact_file_source, run_from="match_info:run_id"),
                     params=m.ArtifactFile, streamed_body=_BODY, max_body=native.MAX_ARTIFACT_BODY,
                     response=t.ArtifactStored, errors=(404,), patterns={"path": ".+"}),
    mlflow_operation("GET", _FILE, mlflow_get_artifact, "MLflow: download an artifact file",
                     Permission("runs:read", project_from=artifact_file_source), params=m.ArtifactFile,
                     errors=(404,), media_type="application/octet-stream",
                     raw_schema={"type": "string", "format": "binary"}, patterns={"path": ".+"}),
    mlflow_operation("GET", f"{MLFLOW_ARTIFACTS}/artifacts", mlflow_list_artifacts,
                     "MLflow: list a directory of a run's artifacts",
                     Permission("runs:read", project_from=artifact_listing_source), query=m.ArtifactListing,
                     response=m.ArtifactFiles, errors=(404,),
                     description="`path` is `<experiment_id>/<run_id>/artifacts[/<directory>]`; a file's path "
                                 "lists nothing."),
]
