"""The gateway's routes about tracked runs (the tracker's, behind it): experiments, runs, what a
run logs (metrics, params, tags, the dataset commits it read, what it wrote), its artifacts,
metric histories and lineage.

A run is one project's, so every call names the project. Every method returns the decoded JSON
the API answers; failures raise ``GatewayError`` subclasses (``lakecache.sdk.errors``).
``GatewayClient`` has these methods. Training jobs rarely call them directly: the synchronous
``lakecache.start_run`` (``lakecache.sdk.tracking``) buffers and batches for them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import math
import os
import stat
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import aiohttp

from lakecache.core.vocabulary.runs import MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, MAX_TAGS_PER_BATCH
from lakecache.sdk.errors import GatewayConflict, GatewayUnavailable, problem_error
from lakecache.sdk.http import API, GatewaySession, stream_timeout

#: Bytes per read of an artifact sent or received (held in memory once per transfer).
CHUNK_SIZE = 1 << 20

# JSON has no NaN or infinities: the gateway takes them as these strings.
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}

RunStatus = Literal["finished", "failed", "killed"]


def project_path(project: str, *parts: str) -> str:
    """The route of ``project``'s ``parts`` (``experiments``, ``runs``…)."""
    return "/".join([f"{API}/projects/{quote(project, safe='')}", *(quote(part, safe="") for part in parts)])


def run_path(project: str, run_id: str, *parts: str) -> str:
    """The route of ``project``'s run ``run_id`` (and ``parts`` below it)."""
    return project_path(project, "runs", run_id, *parts)


def artifact_path(project: str, run_id: str, path: str) -> str:
    """The route of the run's artifact ``path`` (``/`` separates its directories)."""
    return f"{run_path(project, run_id, 'artifacts')}/{quote(path.strip('/'), safe='/')}"


def metric_value(value: float) -> float | str:
    """``value`` as the gateway takes it: a number, or ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
    if math.isnan(value):
        return "NaN"
    return _NON_FINITE.get(value, value)


def iso_time(moment: datetime | float) -> str:
    """ISO-8601 in UTC to the millisecond (what the tracker keeps) of a ``datetime`` (naive means
    UTC) or of milliseconds since the epoch: ``2026-12-07T06:07:07.996Z``."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment / 1000, UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def metric_json(key: str, value: float, step: int = 0, timestamp: datetime | float | None = None) -> dict[str, Any]:
    """One metric point of a ``log_batch`` body; ``timestamp`` a ``datetime`` or epoch milliseconds
    (default: now)."""
    moment = datetime.now(UTC) if timestamp is None else timestamp
    return {"key": key, "value": metric_value(float(value)), "step": int(step), "timestamp": iso_time(moment)}


def _given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


class RunCalls(GatewaySession):
    """Experiments, runs, their logs and artifacts, metric histories and lineage, through the gateway."""

    # experiments

    async def create_experiment(self, project: str, name: str, *,
                                tags: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Create an experiment: ``{id, project, name, tags, created_by, created_at, updated_at}``;
        ``GatewayConflict`` when the project has one of that name."""
        return await self.request("POST", project_path(project, "experiments"),
                                  json_body=_given(name=name, tags=dict(tags) if tags else None),
                                  what=f"create experiment {name!r} in project {project}")

    async def experiment_by_name(self, project: str, name: str) -> dict[str, Any] | None:
        """The project's experiment named ``name``, or ``None``."""
        page = await self.request("GET", project_path(project, "experiments"), params={"name": name},
                                  what=f"find experiment {name!r} in project {project}")
        items = page.get("items") if isinstance(page, dict) else None
        return next((item for item in items or [] if item.get("name") == name), None)

    async def list_experiments(self, project: str) -> list[dict[str, Any]]:
        """Every experiment of ``project``, by name (all pages)."""
        path, params, items = project_path(project, "experiments"), {"limit": 1000}, []
        while True:
            page = await self.request("GET", path, params=params, what=f"list the experiments of project {project}")
            items.extend(page.get("items") or [])
            if not page.get("next_cursor"):
                return items
            params["cursor"] = page["next_cursor"]

    async def get_experiment(self, project: str, experiment_id: str) -> dict[str, Any]:
        """The experiment; ``GatewayNotFound`` when the project has none with that id."""
        return await self.request("GET", project_path(project, "experiments", experiment_id),
                                  what=f"show experiment {experiment_id} of project {project}")

    async def get_or_create_experiment(self, project: str, name: str, *,
                                       tags: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The project's experiment ``name``, created (with ``tags``) when missing. Two jobs
        creating it at once both get the one that won."""
        found = await self.experiment_by_name(project, name)
        if found is not None:
            return found
        try:
            return await self.create_experiment(project, name, tags=tags)
        except GatewayConflict:
            # Another job created it between our read and our create: it is the one to use.
            found = await self.experiment_by_name(project, name)
            if found is None:
                raise
            return found

    # runs

    async def start_run(self, project: str, experiment_id: str, *, name: str | None = None,
                        tags: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None,
                        code_version: str | None = None, code_dirty: bool | None = None, source: str | None = None,
                        host: str | None = None, site: str | None = None,
                        start_time: datetime | float | None = None) -> dict[str, Any]:
        """Start a run in the experiment (at most 100 ``tags`` and 100 ``params``; log more with
        ``log_batch``); answered with the run once the tracker recorded it, status ``running``."""
        body = _given(experiment_id=experiment_id, name=name, tags=dict(tags) if tags else None,
                      params=dict(params) if params else None, code_version=code_version, code_dirty=code_dirty,
                      source=source, host=host, site=site,
                      start_time=None if start_time is None else iso_time(start_time))
        return await self.request("POST", project_path(project, "runs"), json_body=body,
                                  what=f"start a run in experiment {experiment_id} of project {project}")

    async def log_batch(self, project: str, run_id: str, batch: str, *,
                        metrics: Sequence[Mapping[str, Any]] = (), params: Mapping[str, Any] | None = None,
                        tags: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Log metric points (``metric_json``), params and tags in one request (at most 1,000
        points, 100 params, 100 tags). ``batch`` (``^[\\w.:-]{1,128}$``) names the batch: send
        the same for every retry of it, and the tracker stores it once. Answered ``{batch}`` once
        the batch is on its way to the tracker."""
        if len(metrics) > MAX_METRICS_PER_BATCH or len(params or {}) > MAX_PARAMS_PER_BATCH \
                or len(tags or {}) > MAX_TAGS_PER_BATCH:
            raise ValueError(f"log batch {batch}: at most {MAX_METRICS_PER_BATCH} metric points, "
                             f"{MAX_PARAMS_PER_BATCH} params and {MAX_TAGS_PER_BATCH} tags per request, got "
                             f"{len(metrics)}, {len(params or {})} and {len(tags or {})}; split it")
        body = _given(batch=batch, metrics=list(metrics) or None, params=dict(params) if params else None,
                      tags=dict(tags) if tags else None)
        return await self.request("POST", run_path(project, run_id, "log"), json_body=body,
                                  what=f"log batch {batch} to run {run_id} of project {project}")

    async def record_input(self, project: str, run_id: str, dataset: str, commit_id: str, *,
                           site: str | None = None, volume: str | None = None, cache_hit: bool | None = None,
                           bytes_read: int | None = None, waited_seconds: float | None = None,
                           context: str | None = None) -> dict[str, Any]:
        """Record that the run read commit ``commit_id`` of the project's dataset ``dataset``
        (where, whether the copy was ready, how much it read and waited, what for)."""
        body = _given(dataset=dataset, commit_id=commit_id, site=site, volume=volume, cache_hit=cache_hit,
                      bytes=bytes_read, waited_seconds=waited_seconds, context=context)
        return await self.request("POST", run_path(project, run_id, "inputs"), json_body=body,
                                  what=f"record input {dataset}@{commit_id} of run {run_id}")

    async def record_output(self, project: str, run_id: str, kind: Literal["model", "artifact", "dataset"],
                            uri: str, *, name: str | None = None, dataset: str | None = None,
                            commit_id: str | None = None, sha256: str | None = None,
                            size: int | None = None) -> dict[str, Any]:
        """Record what the run wrote: a model or artifact at ``uri``, or a dataset commit
        (``dataset`` and ``commit_id``)."""
        body = _given(kind=kind, uri=uri, name=name, dataset=dataset, commit_id=commit_id, sha256=sha256, size=size)
        return await self.request("POST", run_path(project, run_id, "outputs"), json_body=body,
                                  what=f"record {kind} output {uri!r} of run {run_id}")

    async def finish_run(self, project: str, run_id: str, status: RunStatus = "finished", *,
                         end_time: datetime | float | None = None) -> dict[str, Any]:
        """End the run with ``status``; answered with the run once the tracker applied it and
        everything logged before."""
        body = _given(status=status, end_time=None if end_time is None else iso_time(end_time))
        return await self.request("POST", run_path(project, run_id, "finish"), json_body=body,
                                  what=f"finish run {run_id} of project {project} as {status}")

    async def issue_job_token(self, project: str, run_id: str, expires_at: datetime) -> dict[str, Any]:
        """A job token for run ``run_id``: it reads and leases the project's data and logs to this
        run only, until ``expires_at``. The answer's ``token`` is the secret (shown once), ``id``
        what revokes it."""
        return await self.request("POST", run_path(project, run_id, "job-tokens"),
                                  json_body={"expires_at": iso_time(expires_at)},
                                  what=f"issue a job token for run {run_id} of project {project}")

    async def get_run(self, project: str, run_id: str) -> dict[str, Any]:
        """The run: status, params, tags, latest metric values, code, inputs and outputs."""
        return await self.request("GET", run_path(project, run_id), what=f"show run {run_id} of project {project}")

    async def search_runs(self, project: str, experiment_ids: Sequence[str], *, filter: str | None = None,
                          order_by: Sequence[str] | None = None,
                          limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield the runs of the experiments that match ``filter`` (MLflow's syntax:
        ``"metrics.acc > 0.9 and params.lr = '0.1'"``) in ``order_by`` order (``["metrics.acc
        DESC"]``), following pages (at most ``limit``)."""
        body = _given(experiment_ids=list(experiment_ids), filter=filter,
                      order_by=list(order_by) if order_by else None, limit=limit)
        what, yielded = f"search runs of project {project}", 0
        while True:
            page = await self.request("POST", project_path(project, "runs", "search"), json_body=body, what=what)
            for item in page.get("items", []):
                yield item
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
            if not page.get("next_page_token"):
                return
            body["page_token"] = page["next_page_token"]

    async def metric_history(self, project: str, run_id: str, key: str, *, min_step: int | None = None,
                             max_step: int | None = None, max_points: int | None = None) -> dict[str, Any]:
        """The metric's points in the step range, in step order: ``{key, points: [{step, value,
        timestamp}], downsampled, total?}``, every page read. With ``max_points`` the tracker
        thins the range to about that many points (one answer, ``downsampled`` says whether)."""
        params = _given(key=key, min_step=min_step, max_step=max_step, max_points=max_points)
        what = f"read the history of metric {key!r} of run {run_id}"
        points: list[dict[str, Any]] = []
        while True:
            page = await self.request("GET", run_path(project, run_id, "metric-history"), params=params, what=what)
            points.extend(page.get("points", []))
            if not page.get("next_page_token"):
                return {**page, "points": points, "next_page_token": None}
            params["page_token"] = page["next_page_token"]

    async def lineage(self, project: str, node: str, *, direction: Literal["up", "down", "both"] = "both",
                      depth: int | None = None) -> dict[str, Any]:
        """The lineage graph around ``node`` (``commit:<id>``, ``run:<id>``, ``model:<uri>``):
        ``{root, nodes, edges, truncated}``, ``depth`` hops ``up`` (what it came from), ``down``
        (what came of it) or both."""
        return await self.request("GET", project_path(project, "lineage"),
                                  params=_given(node=node, direction=direction, depth=depth),
                                  what=f"show the lineage of {node} in project {project}")

    # artifacts

    async def put_artifact(self, project: str, run_id: str, path: str, file: str | os.PathLike[str]
                           ) -> dict[str, Any]:
        """Store the local ``file`` as the run's artifact ``path``, streamed from disk (never whole
        in memory): ``{path, size, sha256}``. The answer must match the bytes sent, else
        ``GatewayUnavailable``; a file that changes size while sent fails the upload."""
        what = f"store {os.fspath(file)!r} as artifact {path!r} of run {run_id}"
        fd = await asyncio.to_thread(os.open, file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            info = await asyncio.to_thread(os.fstat, fd)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{what}: not a regular file; store each file of a directory on its own")
            size = info.st_size
            digest = hashlib.sha256()
            answer = await self.request(
                "PUT", artifact_path(project, run_id, path), what=what, data=_file_chunks(fd, size, digest, what),
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})
        finally:
            os.close(fd)
        if not isinstance(answer, dict) or (answer.get("size"), answer.get("sha256")) != (size, digest.hexdigest()):
            raise GatewayUnavailable(f"{what}: the gateway stored other bytes than were sent ({answer!r}); store "
                                     "it again")
        return answer

    async def list_artifacts(self, project: str, run_id: str, path: str | None = None) -> list[dict[str, Any]]:
        """The run's artifacts directly under ``path`` (else at the top): ``[{path, is_dir,
        file_size?, sha256?}]``."""
        page = await self.request("GET", run_path(project, run_id, "artifacts"), params=_given(path=path),
                                  what=f"list the artifacts of run {run_id}" + (f" under {path!r}" if path else ""))
        return list(page.get("items", []))

    async def download_artifact(self, project: str, run_id: str, path: str,
                                destination: str | os.PathLike[str]) -> Path:
        """Write the run's artifact ``path`` to the file ``destination``, streamed; the file
        appears whole or not at all (a partial download is removed). Returns its path."""
        what = f"download artifact {path!r} of run {run_id}"
        target = Path(destination)
        partial = target.with_name(f".{target.name}.partial")
        digest = hashlib.sha256()
        try:
            async with self.session.get(self.url(artifact_path(project, run_id, path)),
                                        timeout=stream_timeout(self.settings)) as response:
                if response.status >= 400:
                    text = await response.text()
                    raise problem_error(what, response.status, _json_or_text(text),
                                        token_sent="Authorization" in self.session.headers)
                expected = _sha256_of_digest(response.headers.get("Digest"))
                out = await asyncio.to_thread(partial.open, "wb")
                try:
                    async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                        digest.update(chunk)
                        await asyncio.to_thread(out.write, chunk)
                finally:
                    await asyncio.to_thread(out.close)
        except (aiohttp.ClientError, TimeoutError) as exc:
            await _remove(partial)
            raise GatewayUnavailable(f"{what}: the download from {self.base_url} broke off "
                                     f"({exc or type(exc).__name__}); download it again") from exc
        except BaseException:
            await _remove(partial)
            raise
        try:
            if expected is not None and digest.hexdigest() != expected:
                raise GatewayUnavailable(f"{what}: the bytes received do not match the artifact's sha256; "
                                         "download it again")
            await asyncio.to_thread(partial.replace, target)
        except BaseException:
            await _remove(partial)
            raise
        return target


async def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        await asyncio.to_thread(path.unlink)


async def _file_chunks(fd: int, size: int, digest: Any, what: str) -> AsyncIterator[bytes]:
    """Exactly ``size`` bytes of ``fd`` (the ``Content-Length`` sent), hashed as they go."""
    remaining = size
    while remaining:
        chunk = await asyncio.to_thread(os.read, fd, min(CHUNK_SIZE, remaining))
        if not chunk:
            raise GatewayUnavailable(f"{what}: the file shrank while it was sent; store it again once nothing "
                                     "writes to it")
        digest.update(chunk)
        remaining -= len(chunk)
        yield chunk


def _sha256_of_digest(header: str | None) -> str | None:
    """The hex sha256 of a ``Digest: sha-256=<base64>`` header, if there is one."""
    for part in (header or "").split(","):
        algorithm, _, value = part.strip().partition("=")
        if algorithm.lower() == "sha-256" and value:
            with contextlib.suppress(ValueError):
                return base64.b64decode(value).hex()
    return None


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text
