"""The tracker's HTTP API (``/api/v1/projects/{project}/…``): experiments, runs, metric
history, lineage and artifacts. Runs change through events (``handlers.py``); here they are
read, and artifacts (bytes, not events) stored.

Every route names its project in the path and declares its action: the gateway signs each
request for that action and project, and every read also filters by the project, so an id of
another project's run or experiment is not found. See ``docs/tracker.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from lakecache.core.errors import Conflict, InvalidArgument, NotFound
from lakecache.core.runtime.access import PATH, Access, caller, route
from lakecache.core.runtime.problems import check_limit, json_object
from lakecache.core.vocabulary.runs import is_key
from lakecache.tracker import artifacts, history, lineage, search
from lakecache.tracker.repositories.lineage import run_node
from lakecache.tracker.storage import TRACKER_KEY, tracker_of
from lakecache.tracker.views import experiment_json, input_json, output_json, point_json, run_json

__all__ = ["ROUTES", "TRACKER_KEY", "WORKDIR_KEY"]

PROJECT = "/api/v1/projects/{project}"
_RUN = PROJECT + "/runs/{run_id}"
WORKDIR_KEY = web.AppKey("tracker_workdir", object)
_READ, _WRITE, _LOG = Access("runs:read", PATH), Access("runs:write", PATH), Access("runs:log", PATH)
MAX_SEARCH_RESULTS = 50_000
MAX_COMPARED = 100


def _project(request: web.Request) -> str:
    return request.match_info["project"]


async def _run(request: web.Request) -> dict[str, Any]:
    tracker, run_id = tracker_of(request), request.match_info["run_id"]
    run = await tracker.runs.get(_project(request), run_id)
    if run is None:
        raise NotFound(f"project {_project(request)!r} has no run {run_id!r}")
    return run


def _int(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgument(f"{name} must be an integer, got {raw!r}") from None


# experiments

async def create_experiment(request: web.Request) -> web.Response:
    body = await json_object(request)
    name, tags = body.get("name"), body.get("tags") or {}
    if not isinstance(name, str) or not name.strip() or len(name) > 500 or any(ord(c) < 32 for c in name):
        raise InvalidArgument("name: an experiment name of 1 to 500 printable characters")
    if not isinstance(tags, dict) or not all(is_key(k) and isinstance(v, str) for k, v in tags.items()):
        raise InvalidArgument("tags: an object of tag names (letters, digits, _ - . / and space) to strings")
    doc = await tracker_of(request).experiments.add(_project(request), name, tags, caller(request))
    if doc is None:
        raise Conflict(f"project {_project(request)!r} has an experiment named {name!r} already")
    return web.json_response(experiment_json(doc), status=201)


async def list_experiments(request: web.Request) -> web.Response:
    tracker, project, name = tracker_of(request), _project(request), request.query.get("name")
    if name is not None:
        doc = await tracker.experiments.by_name(project, name)
        return web.json_response({"items": [experiment_json(doc)] if doc else [], "next_cursor": None})
    limit = check_limit(request.query.get("limit"), default=100, maximum=1000)
    page, after = await tracker.experiments.page(project, limit=limit, after=request.query.get("cursor") or None)
    return web.json_response({"items": [experiment_json(d) for d in page], "next_cursor": after})


async def show_experiment(request: web.Request) -> web.Response:
    experiment_id = request.match_info["experiment_id"]
    doc = await tracker_of(request).experiments.get(_project(request), experiment_id)
    if doc is None:
        raise NotFound(f"project {_project(request)!r} has no experiment {experiment_id!r}")
    return web.json_response(experiment_json(doc))


# runs

async def show_run(request: web.Request) -> web.Response:
    tracker, run = tracker_of(request), await _run(request)
    node = [run_node(run["_id"])]
    answer = run_json(run)
    answer["inputs"] = [input_json(e) for e in await tracker.lineage.into(run["project"], node)]
    answer["outputs"] = [output_json(e) for e in await tracker.lineage.out_of(run["project"], node)]
    return web.json_response(answer)


async def search_runs(request: web.Request) -> web.Response:
    body = await json_object(request)
    tracker, project = tracker_of(request), _project(request)
    experiment_ids = body.get("experiment_ids")
    if not (isinstance(experiment_ids, list) and experiment_ids and all(isinstance(e, str) for e in experiment_ids)):
        raise InvalidArgument("experiment_ids: a non-empty list of experiment ids")
    filter_text, order_by = body.get("filter"), body.get("order_by")
    if filter_text is not None and not isinstance(filter_text, str):
        raise InvalidArgument("filter: a filter string such as \"metrics.acc > 0.9 and params.lr = '0.1'\"")
    if order_by is not None and (not isinstance(order_by, list) or not all(isinstance(o, str) for o in order_by)):
        raise InvalidArgument("order_by: a list such as [\"metrics.acc DESC\"]")
    limit = body.get("limit", 1000)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_RESULTS:
        raise InvalidArgument(f"limit: an integer from 1 to {MAX_SEARCH_RESULTS}")
    offset = _offset(body.get("page_token"))
    clauses, orderings = search.parse_filter(filter_text), search.parse_order(order_by)
    found = await search.find(tracker.runs, project, experiment_ids, clauses, orderings, skip=offset,
                              limit=limit + 1)  # one more: whether there is a next page
    more, page = len(found) > limit, found[:limit]
    return web.json_response({"items": [run_json(r) for r in page],
                              "next_page_token": _token(offset + limit) if more else None})


async def compare_runs(request: web.Request) -> web.Response:
    """Runs side by side: each param and latest metric by run, and which of them differ."""
    body = await json_object(request)
    run_ids = body.get("run_ids")
    if not (isinstance(run_ids, list) and 2 <= len(run_ids) <= MAX_COMPARED
            and all(isinstance(r, str) for r in run_ids)):
        raise InvalidArgument(f"run_ids: a list of 2 to {MAX_COMPARED} run ids")
    project = _project(request)
    found = {r["_id"]: r for r in await tracker_of(request).runs.many(project, run_ids)}
    missing = [r for r in run_ids if r not in found]
    if missing:
        raise NotFound(f"project {project!r} has no run {', '.join(map(repr, missing))}")
    runs = [run_json(found[r]) for r in dict.fromkeys(run_ids)]
    table: dict[str, dict[str, dict[str, Any]]] = {"params": {}, "metrics": {}}
    for run in runs:
        for key, value in run["params"].items():
            table["params"].setdefault(key, {})[run["id"]] = value
        for key, point in run["metrics"].items():
            table["metrics"].setdefault(key, {})[run["id"]] = point["value"]
    differing = {kind: sorted(key for key, by_run in values.items()
                              if len(by_run) < len(runs) or len({json.dumps(v) for v in by_run.values()}) > 1)
                 for kind, values in table.items()}
    return web.json_response({"runs": [{k: r[k] for k in ("id", "name", "status", "start_time", "end_time")}
                                       for r in runs], **table, "differing": differing})


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: Any) -> int:
    if token in (None, ""):
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(str(token).encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        offset = None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidArgument("page_token: not a token this search gave")
    return offset


async def metric_history(request: web.Request) -> web.Response:
    """``?key=`` (required), ``min_step``, ``max_step``, then either ``max_points`` (the range
    downsampled, one answer) or ``limit`` and ``page_token`` (the range in pages)."""
    tracker, run = tracker_of(request), await _run(request)
    key = request.query.get("key")
    if not is_key(key):
        raise InvalidArgument(f"key: a metric name (letters, digits, _ - . / and space), got {key!r}")
    low, high = _int(request, "min_step"), _int(request, "max_step")
    max_points = _int(request, "max_points")
    cap = tracker.section.history_max_points
    if max_points is not None:
        if not 2 <= max_points <= cap:
            raise InvalidArgument(f"max_points must be 2 to {cap}, got {max_points}")
        points = await tracker.metrics.series(run["project"], run["_id"], key, low, high)
        thinned = history.downsample(points, max_points)
        return web.json_response({"key": key, "points": [point_json(p) for p in thinned], "total": len(points),
                                  "downsampled": len(thinned) < len(points), "next_page_token": None})
    limit = check_limit(request.query.get("limit"), default=min(25_000, cap), maximum=cap)
    start, skip = _step_token(request.query.get("page_token"))
    if start is not None:
        low = start if low is None else max(low, start)
    points = await tracker.metrics.series(run["project"], run["_id"], key, low, high)
    if skip:
        points = points[skip:] if all(p.step == start for p in points[:skip]) else points
    page = points[:limit]
    token = None
    if len(points) > limit:
        last = page[-1].step
        token = f"{last}:{sum(1 for p in page if p.step == last) + (skip if start == last else 0)}"
    return web.json_response({"key": key, "points": [point_json(p) for p in page], "downsampled": False,
                              "next_page_token": token})


def _step_token(token: str | None) -> tuple[int | None, int]:
    if not token:
        return None, 0
    step, _, skip = token.partition(":")
    try:
        return int(step), int(skip)
    except ValueError:
        raise InvalidArgument("page_token: not a token this history gave") from None


async def show_lineage(request: web.Request) -> web.Response:
    node = request.query.get("node")
    if node is None:
        raise InvalidArgument("node: commit:<id>, run:<id>, model:<uri> or artifact:<uri>")
    direction = request.query.get("direction", "both")
    if direction not in ("up", "down", "both"):
        raise InvalidArgument(f"direction: up, down or both, got {direction!r}")
    depth = _int(request, "depth", 3)
    max_nodes = _int(request, "max_nodes", lineage.MAX_NODES)
    return web.json_response(await lineage.graph(tracker_of(request), _project(request), node, direction, depth,
                                                 max_nodes))


# artifacts

async def put_artifact(request: web.Request) -> web.Response:
    tracker, run = tracker_of(request), await _run(request)
    doc = await artifacts.store(tracker, request.app[WORKDIR_KEY], run["project"], run, request.match_info["path"],
                                request.content_length, request.content.iter_chunked(1 << 20))
    return web.json_response({"path": doc["path"], "size": doc["size"], "sha256": doc["sha256"]}, status=201)


async def get_artifact(request: web.Request) -> web.StreamResponse:
    tracker, run = tracker_of(request), await _run(request)
    doc, reader = await artifacts.open_file(tracker, run["project"], run["_id"], request.match_info["path"])
    digest = base64.b64encode(bytes.fromhex(doc["sha256"])).decode()
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream",
                                           "Content-Length": str(doc["size"]), "Digest": f"sha-256={digest}"})
    async with reader:
        await response.prepare(request)
        async for chunk in reader:
            await response.write(chunk)
    await response.write_eof()
    return response


async def list_artifacts(request: web.Request) -> web.Response:
    tracker, run = tracker_of(request), await _run(request)
    files = await artifacts.listing(tracker, run["project"], run["_id"], request.query.get("path"))
    return web.json_response({"items": files})


ROUTES = [
    route("POST", PROJECT + "/experiments", create_experiment, _WRITE),
    route("GET", PROJECT + "/experiments", list_experiments, _READ),
    route("GET", PROJECT + "/experiments/{experiment_id}", show_experiment, _READ),
    route("POST", PROJECT + "/runs/search", search_runs, _READ),
    route("POST", PROJECT + "/runs/compare", compare_runs, _READ),
    route("GET", _RUN, show_run, _READ),
    route("GET", _RUN + "/metric-history", metric_history, _READ),
    route("GET", PROJECT + "/lineage", show_lineage, _READ),
    route("GET", _RUN + "/artifacts", list_artifacts, _READ),
    route("PUT", _RUN + "/artifacts/{path:.+}", put_artifact, _LOG),
    route("GET", _RUN + "/artifacts/{path:.+}", get_artifact, _READ),
]

