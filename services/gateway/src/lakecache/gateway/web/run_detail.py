"""``/projects/{project}/runs/{run_id}``: one run — its params, tags, code and place, a chart per
metric, the commits it read (with what the cache did for it), what it wrote, its artifacts.

Reads: the run (with its inputs and outputs), its artifact listing, and one downsampled history
per charted metric (``CHARTED`` at most, asked at the same time); a run's other metrics are
listed with their latest value.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlencode

from aiohttp import web

from lakecache.gateway.web.charts import Series, line_chart
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.runs import READ, history, project_path, seconds_between, show, tracker

#: Metrics drawn as charts (the rest are listed), and artifact files listed.
CHARTED = 12
ARTIFACTS_SHOWN = 200


async def run_detail(request: web.Request) -> web.StreamResponse:
    project, run_id = request.match_info["project"], request.match_info["run_id"]
    folder = request.query.get("path", "").strip("/")[:1000]
    run_path = f"/runs/{quote(run_id, safe='')}"
    run, listing = await asyncio.gather(
        tracker(request, project, run_path),
        tracker(request, project, run_path + "/artifacts", query={"path": folder} if folder else None))
    keys = sorted(run["metrics"])
    charted = keys[:CHARTED]
    series = await asyncio.gather(*(history(request, project, run_id, key) for key in charted))
    charts = [{"key": key, "svg": line_chart([Series(key, points)], title=f"{key} by step"),
               "shown": len(points), "total": total} for key, (points, total) in zip(charted, series, strict=True)]
    files = listing.get("items", [])
    artifacts = [{**item, "href": _artifact_href(project, run_id, item["path"]) if not item.get("is_dir") else
                  f"/projects/{quote(project, safe='')}/runs/{quote(run_id, safe='')}?"
                  + urlencode({"path": item["path"]})} for item in files[:ARTIFACTS_SHOWN]]
    return show(request, "run.html", title=f"Run {run['name'] or run_id}", project=project, run=run,
                  duration=seconds_between(run.get("start_time"), run.get("end_time")), charts=charts,
                  uncharted=keys[CHARTED:], artifacts=artifacts, more_artifacts=len(files) > ARTIFACTS_SHOWN,
                  folder=folder, lineage_href=f"/projects/{quote(project, safe='')}/lineage?"
                  + urlencode({"node": f"run:{run_id}", "direction": "both", "depth": "3"}))


def _artifact_href(project: str, run_id: str, path: str) -> str:
    """The API's download route, which the browser's session may read."""
    return project_path(project, "runs", run_id, "artifacts") + "/" + quote(path, safe="/")


PAGES = [Page("/projects/{project}/runs/{run_id}", run_detail, "Run", READ)]
