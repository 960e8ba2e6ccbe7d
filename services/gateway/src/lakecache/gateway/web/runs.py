"""The tracker's pages: ``/experiments`` (each project's experiments), ``/projects/{project}/runs``
(the runs table, filtered and ordered by the tracker's search) and ``/projects/{project}/compare``
(runs side by side, one metric overlaid).

Reads, per page: one experiment listing per project the person may read (``/experiments``); one
experiment listing and one search for the runs table, whatever the number of runs (the tracker
filters, orders and pages); one comparison and one downsampled history per compared run
(``MAX_COMPARED`` at most) for the compare page.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from lakecache.core.errors import InvalidArgument
from lakecache.gateway.api.common import API
from lakecache.gateway.auth import Permission
from lakecache.gateway.upstream.services import upstreams_of
from lakecache.gateway.web import backends
from lakecache.gateway.web.charts import Series, legend, line_chart, value_text
from lakecache.gateway.web.hub import visible_projects
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.render import render

READ = Permission("runs:read", project_from="match_info:project")
#: Experiments listed per project on /experiments, and read for the runs table's choice.
EXPERIMENTS_SHOWN = 100
EXPERIMENTS_READ = 1000
#: Runs per page of the table, and the param and metric columns it shows at most.
RUNS_PER_PAGE = 50
PARAM_COLUMNS, METRIC_COLUMNS = 6, 8
#: Runs a comparison shows, and the points of each run's series in its chart.
MAX_COMPARED = 20
CHART_POINTS = 300


def project_path(project: str, *parts: str) -> str:
    return f"{API}/projects/{quote(project, safe='')}" + "".join("/" + quote(p, safe="") for p in parts)


async def tracker(request: web.Request, project: str, path: str, *, query: dict[str, str] | None = None,
                  body: Any = None) -> Any:
    """The tracker's answer for ``path`` (under the project's API path), read for ``runs:read``."""
    return await backends.read(request, upstreams_of(request).tracker, project_path(project) + path,
                               action="runs:read", project=project, query=query,
                               method="GET" if body is None else "POST", json_body=body)


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


async def history(request: web.Request, project: str, run_id: str, key: str) -> tuple[list[tuple[float, Any]], int]:
    """A metric's series thinned by the tracker to at most ``CHART_POINTS`` points (it keeps
    peaks and troughs), and how many points the run logged."""
    answer = await tracker(request, project, f"/runs/{quote(run_id, safe='')}/metric-history",
                           query={"key": key, "max_points": str(CHART_POINTS)})
    points = [(p["step"], p["value"]) for p in answer["points"]]
    return points, answer.get("total", len(points))


def show(request: web.Request, template: str, **context: Any) -> web.Response:
    """``render`` with how the tracker's pages write a metric's value."""
    return render(request, template, metric_text=value_text, **context)


# /experiments

async def experiments(request: web.Request) -> web.StreamResponse:
    groups = []
    for project in await visible_projects(request):
        if not backends.allowed(request, "runs:read", project):
            continue
        page = await tracker(request, project, "/experiments", query={"limit": str(EXPERIMENTS_SHOWN)})
        groups.append({"project": project, "items": page["items"], "more": bool(page.get("next_cursor"))})
    return show(request, "experiments.html", title="Experiments", groups=groups)


# /projects/{project}/runs

def _identifier(kind: str, key: str) -> str:
    return f"{kind}.`{key}`"


def _columns(runs: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The params and metrics most runs of the page have (ties by name), at most a few of each."""
    params, metrics = Counter(), Counter()
    for run in runs:
        params.update(run["params"].keys())
        metrics.update(run["metrics"].keys())
    def top(counts: Counter, limit: int) -> list[str]:
        return sorted(sorted(counts, key=lambda k: (-counts[k], k))[:limit])
    return top(params, PARAM_COLUMNS), top(metrics, METRIC_COLUMNS)


async def runs_table(request: web.Request) -> web.StreamResponse:
    project = request.match_info["project"]
    chosen = request.query.get("experiment") or None
    filter_text = request.query.get("filter", "").strip()[:2000]
    order = request.query.get("order", "").strip()[:300]
    page_token = request.query.get("page") or None
    listed = (await tracker(request, project, "/experiments", query={"limit": str(EXPERIMENTS_READ)}))["items"]
    ids = [chosen] if chosen else [e["id"] for e in listed]
    runs: list[dict[str, Any]] = []
    next_token, problem = None, None
    if ids:
        body: dict[str, Any] = {"experiment_ids": ids, "limit": RUNS_PER_PAGE}
        if filter_text:
            body["filter"] = filter_text
        if order:
            body["order_by"] = [order]
        if page_token:
            body["page_token"] = page_token
        try:
            answer = await tracker(request, project, "/runs/search", body=body)
            runs, next_token = answer["items"], answer.get("next_page_token")
        except InvalidArgument as exc:  # a filter or order to fix: shown next to the form that holds it
            problem = str(exc)
    params, metrics = _columns(runs)
    for run in runs:
        run["duration"] = seconds_between(run.get("start_time"), run.get("end_time"))
    keep = {k: v for k, v in (("experiment", chosen), ("filter", filter_text), ("order", order)) if v}

    def link(**changes: str | None) -> str:
        query = {**keep, **changes}
        return f"/projects/{quote(project, safe='')}/runs?" + urlencode({k: v for k, v in query.items() if v})

    def sort_link(identifier: str) -> dict[str, str]:
        """The header's link: descending first, ascending when it already is."""
        descending = f"{identifier} DESC"
        current = "descending" if order == descending else "ascending" if order == f"{identifier} ASC" else ""
        return {"href": link(order=f"{identifier} ASC" if current == "descending" else descending, page=None),
                "sorted": current}

    sorts = {"name": sort_link("attributes.run_name"), "status": sort_link("attributes.status"),
             "start": sort_link("attributes.start_time"), "user": sort_link("attributes.user_id"),
             **{f"p:{k}": sort_link(_identifier("params", k)) for k in params},
             **{f"m:{k}": sort_link(_identifier("metrics", k)) for k in metrics}}
    status = 400 if problem else 200
    return show(request, "runs.html", title=f"Runs of {project}", status=status, project=project,
                  experiments=listed, chosen=chosen, filter_text=filter_text, order=order, runs=runs,
                  params=params, metrics=metrics, sorts=sorts, problem=problem,
                  next_href=link(page=next_token) if next_token else None,
                  first_href=link() if page_token else None)


# /projects/{project}/compare

async def compare(request: web.Request) -> web.StreamResponse:
    project = request.match_info["project"]
    run_ids = list(dict.fromkeys(r for r in request.query.getall("runs", []) if r))
    if len(run_ids) > MAX_COMPARED:
        raise InvalidArgument(f"compare at most {MAX_COMPARED} runs at a time; {len(run_ids)} were chosen")
    if len(run_ids) < 2:
        return show(request, "compare.html", title="Compare runs", project=project, answer=None, chart=None,
                      metric=None, rows=[])
    answer = await tracker(request, project, "/runs/compare", body={"run_ids": run_ids})
    metric_keys = sorted(answer["metrics"])
    metric = request.query.get("metric") or (metric_keys[0] if metric_keys else None)
    chart = None
    if metric in answer["metrics"]:
        having = [r for r in answer["runs"] if r["id"] in answer["metrics"][metric]]
        series = await asyncio.gather(*(history(request, project, r["id"], metric) for r in having))
        names = [r["name"] or r["id"][:12] for r in having]
        chart = {"svg": line_chart([Series(n, s) for n, (s, _) in zip(names, series, strict=True)],
                                   title=f"{metric} by step"), "legend": legend(names)}
    differing = {kind: set(keys) for kind, keys in answer["differing"].items()}
    rows = ([{"kind": "param", "key": k, "values": v, "differs": k in differing["params"]}
             for k, v in sorted(answer["params"].items())]
            + [{"kind": "metric", "key": k, "values": v, "differs": k in differing["metrics"]}
               for k, v in sorted(answer["metrics"].items())])
    return show(request, "compare.html", title="Compare runs", project=project, answer=answer, rows=rows,
                  metric=metric, metric_keys=metric_keys, chart=chart)


PAGES = [
    Page("/experiments", experiments, "Experiments", Permission("self:read")),
    Page("/projects/{project}/runs", runs_table, "Runs", READ),
    Page("/projects/{project}/compare", compare, "Compare runs", READ),
]
