"""``/projects/{project}/lineage``: what a commit, run or model came from and what came of it, as a
layered SVG graph (``graph.py``) and the same nodes and edges as tables for keyboard and
screen-reader users; ``/lineage``: where to start one.

Reads: one lineage answer (the tracker bounds its depth and size); the start page reads one
experiment listing and one search of the chosen project's recent runs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from lakecache.core.errors import InvalidArgument, LakeCacheError
from lakecache.gateway.auth import Permission
from lakecache.gateway.web import backends
from lakecache.gateway.web.format import short, size
from lakecache.gateway.web.graph import Edge, Node, lineage_svg
from lakecache.gateway.web.hub import visible_projects
from lakecache.gateway.web.page import Page
from lakecache.gateway.web.render import render
from lakecache.gateway.web.runs import READ, tracker

KINDS = ("commit", "run", "model", "artifact")
DIRECTIONS = ("both", "up", "down")
MAX_DEPTH = 10
RECENT_RUNS = 10
#: Nodes drawn at most: a commit hundreds of runs read makes a picture nobody can read (and a
#: page of half a megabyte); the tables and the tracker's API have them all.
DRAWN_NODES = 120


def _view(request: web.Request) -> tuple[str, int]:
    direction = request.query.get("direction", "both")
    if direction not in DIRECTIONS:
        raise InvalidArgument(f"direction: both, up or down, not {direction!r}")
    try:
        depth = int(request.query.get("depth") or 3)
    except ValueError:
        raise InvalidArgument("depth: a number of steps from 0 to 10") from None
    if not 0 <= depth <= MAX_DEPTH:
        raise InvalidArgument(f"depth: a number of steps from 0 to {MAX_DEPTH}, not {depth}")
    return direction, depth


def lineage_href(project: str, node: str, direction: str = "both", depth: int = 3) -> str:
    return f"/projects/{quote(project, safe='')}/lineage?" + urlencode(
        {"node": node, "direction": direction, "depth": str(depth)})


def _node(project: str, doc: dict[str, Any], root: str, direction: str, depth: int) -> Node:
    kind, ident = doc["kind"], doc["id"].partition(":")[2]
    base = f"/projects/{quote(project, safe='')}"
    if kind == "run":
        label, detail = doc.get("name") or ident[:12], f"run {ident}, {doc.get('status') or 'unknown'}"
        opened = f"{base}/runs/{quote(ident, safe='')}"
    elif kind == "commit":
        dataset = doc.get("dataset")
        label = f"{dataset}@{short(ident)}" if dataset else short(ident)
        detail = f"commit {ident}" + (f" of {project}/{dataset}" if dataset else "")
        opened = f"/datasets/{quote(project, safe='')}/{quote(dataset, safe='')}" if dataset else ""
    else:
        label = doc.get("name") or doc.get("uri") or ident
        detail = doc.get("uri") or ident
        if doc.get("size") is not None:
            detail += f", {size(doc['size'])}"
        opened = ""
    return Node(doc["id"], kind, label, detail, lineage_href(project, doc["id"], direction, depth), opened,
                doc["id"] == root)


def _edge(doc: dict[str, Any]) -> Edge:
    if doc["kind"] == "input":
        cache = doc.get("cache") or {}
        where = "/".join(p for p in (cache.get("site"), cache.get("volume")) if p)
        hit = {True: "cache hit", False: "cache miss"}.get(cache.get("cache_hit"), "")
        detail = ", ".join(p for p in ("read", hit, f"at {where}" if where else "",
                                       doc.get("context") or "") if p)
    else:
        detail = f"wrote {doc.get('output_kind') or 'output'}"
    return Edge(doc["source"], doc["target"], doc["kind"], detail)


async def lineage_page(request: web.Request) -> web.StreamResponse:
    project = request.match_info["project"]
    node = request.query.get("node", "").strip()
    direction, depth = _view(request)
    if not node:
        return await _start(request, project, None)
    graph = await tracker(request, project, "/lineage", query={"node": node, "direction": direction,
                                                              "depth": str(depth), "max_nodes": str(DRAWN_NODES)})
    nodes = [_node(project, doc, graph["root"], direction, depth) for doc in graph["nodes"]]
    edges = [_edge(doc) for doc in graph["edges"]]
    by_id = {n.id: n for n in nodes}
    svg = lineage_svg(nodes, edges, title=f"Lineage of {node}") if nodes else None
    return render(request, "lineage.html", title="Lineage", project=project, node=node, direction=direction,
                  depth=depth, svg=svg, nodes=nodes, edges=edges, by_id=by_id, truncated=graph.get("truncated"),
                  drawn=DRAWN_NODES,
                  directions=DIRECTIONS)


async def lineage_start(request: web.Request) -> web.StreamResponse:
    """The start form; a chosen project and node lead to that project's graph."""
    projects = [p for p in await visible_projects(request) if backends.allowed(request, "runs:read", p)]
    chosen = request.query.get("project") or None
    node = (_typed_node(request.query.get("kind", ""), request.query.get("id", "").strip())
            or request.query.get("node", "").strip())
    if chosen in projects and node:
        direction, depth = _view(request)
        return web.Response(status=303, headers={"Location": lineage_href(chosen, node, direction, depth)})
    return await _start(request, chosen if chosen in projects else (projects[0] if projects else None), projects)


def _typed_node(kind: str, ident: str) -> str:
    """``kind:id`` from the form's two fields; an id typed with its kind keeps it."""
    if not ident:
        return ""
    if ident.partition(":")[0] in KINDS:
        return ident
    return f"{kind if kind in KINDS else 'run'}:{ident}"


async def _start(request: web.Request, project: str | None, projects: list[str] | None) -> web.StreamResponse:
    recent: list[dict[str, Any]] = []
    problem = None
    if project is not None:
        try:
            listed = await tracker(request, project, "/experiments", query={"limit": "1000"})
            ids = [e["id"] for e in listed["items"]]
            if ids:
                recent = (await tracker(request, project, "/runs/search", body={
                    "experiment_ids": ids, "limit": RECENT_RUNS}))["items"]
        except LakeCacheError as exc:  # the form still works without the suggestions
            problem = str(exc)
    return render(request, "lineage_start.html", title="Lineage", project=project,
                  projects=projects if projects is not None else [project], recent=recent, problem=problem,
                  kinds=KINDS, node=request.query.get("node", ""),
                  href=lambda node: lineage_href(project or "", node))


PAGES = [
    Page("/lineage", lineage_start, "Lineage", Permission("self:read")),
    Page("/projects/{project}/lineage", lineage_page, "Lineage", READ),
]
