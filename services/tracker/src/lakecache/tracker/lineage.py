"""Lineage as a graph: from a commit, run, model or artifact, up to what it came from and down
to what came of it, ``depth`` edges away at most, as nodes and edges.

The walk is breadth-first over the ``lineage`` edges, one query per level and direction (the
edges are indexed by source and by target); it stops at ``max_nodes`` (at most ``MAX_NODES``)
and says so.
"""

from __future__ import annotations

from typing import Any, Literal

from lakecache.core.errors import InvalidArgument
from lakecache.core.vocabulary.names import is_slug
from lakecache.tracker.repositories.fields import decoded
from lakecache.tracker.storage import Tracker

Direction = Literal["up", "down", "both"]
MAX_NODES = 500
MAX_DEPTH = 20
_KINDS = ("commit", "run", "model", "artifact")


def check_node(node: str) -> str:
    kind, _, ident = node.partition(":")
    if kind not in _KINDS or not ident:
        raise InvalidArgument(f"node {node!r}: expected commit:<id>, run:<id>, model:<uri> or artifact:<uri>")
    return node


async def graph(tracker: Tracker, project: str, root: str, direction: Direction, depth: int,
                max_nodes: int = MAX_NODES) -> dict[str, Any]:
    """The graph around ``root``; at most ``max_nodes`` nodes (a reader showing a picture asks
    for fewer: the walk stops there, ``truncated`` says so, and less is read)."""
    if not 0 <= depth <= MAX_DEPTH:
        raise InvalidArgument(f"depth must be 0 to {MAX_DEPTH}, got {depth}")
    if not 1 <= max_nodes <= MAX_NODES:
        raise InvalidArgument(f"max_nodes must be 1 to {MAX_NODES}, got {max_nodes}")
    if not is_slug(project):
        raise InvalidArgument(f"project {project!r} is not a project name")
    check_node(root)
    seen, edges, truncated = {root: 0}, {}, False
    for way in (("up", "down") if direction == "both" else (direction,)):
        frontier = [root]
        for level in range(1, depth + 1):
            if not frontier:
                break
            found = await (tracker.lineage.into(project, frontier) if way == "up"
                           else tracker.lineage.out_of(project, frontier))
            frontier = []
            for edge in found:
                edges[edge["_id"]] = edge
                nxt = edge["source"] if way == "up" else edge["target"]
                if nxt not in seen:
                    if len(seen) >= max_nodes:
                        truncated = True
                        continue
                    seen[nxt] = level
                    frontier.append(nxt)
    kept = [e for e in edges.values() if e["source"] in seen and e["target"] in seen]
    return {"root": root, "direction": direction, "depth": depth, "truncated": truncated,
            "nodes": await _nodes(tracker, project, seen, kept), "edges": [_edge(e) for e in kept]}


async def _nodes(tracker: Tracker, project: str, seen: dict[str, int], edges: list[dict]) -> list[dict[str, Any]]:
    run_ids = [n.partition(":")[2] for n in seen if n.startswith("run:")]
    runs = {r["_id"]: r for r in await tracker.runs.many(project, run_ids)} if run_ids else {}
    about: dict[str, dict[str, Any]] = {}
    for edge in edges:  # what the edges tell of the commits, models and artifacts at their ends
        for end in (edge["source"], edge["target"]):
            # An input names the commit's dataset; a dataset output its name (the dataset's).
            dataset = edge.get("dataset") or (edge.get("name") if edge.get("output_kind") == "dataset" else None)
            if end.startswith("commit:") and dataset:
                about.setdefault(end, {"dataset": dataset, "dataset_id": edge.get("dataset_id")})
            elif end.startswith(("model:", "artifact:")) and end == edge["target"]:
                about.setdefault(end, {"name": edge.get("name") or "", "uri": edge.get("uri"),
                                       "sha256": edge.get("sha256"), "size": edge.get("size")})
    nodes = []
    for node, distance in seen.items():
        kind, _, ident = node.partition(":")
        entry: dict[str, Any] = {"id": node, "kind": kind, "distance": distance}
        if kind == "run":
            run = runs.get(ident)
            entry.update({"run_id": ident, "name": run.get("name") if run else None,
                          "status": run.get("status") if run else None,
                          "experiment_id": run.get("experiment_id") if run else None,
                          "params": decoded(run.get("params")) if run else {}})
        elif kind == "commit":
            entry.update({"commit_id": ident, **about.get(node, {})})
        else:
            entry.update(about.get(node, {"uri": ident}))
        nodes.append(entry)
    return nodes


def _edge(edge: dict[str, Any]) -> dict[str, Any]:
    out = {"source": edge["source"], "target": edge["target"], "kind": edge["kind"],
           "recorded_at": edge["recorded_at"].isoformat()}
    if edge["kind"] == "input":
        out["cache"] = {k: edge.get(k) for k in ("site", "volume", "cache_hit", "bytes", "waited_seconds")}
        out["context"] = edge.get("context") or ""
    else:
        out["output_kind"] = edge.get("output_kind")
    return out
