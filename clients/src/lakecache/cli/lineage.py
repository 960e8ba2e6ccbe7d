"""``lakecache lineage``: where a run, a dataset commit or a model came from and what came of it,
as a tree, with the cache facts of every read (site, hit or miss, bytes, time waited)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape

from lakecache.cli.common import JsonOption, console, load_settings, parse_name, print_json, run_sdk, short
from lakecache.cli.runs import find_run
from lakecache.cli.runs_view import SHORT_ID, elapsed
from lakecache.cli.units import human_size
from lakecache.sdk.gateway import GatewayClient

if TYPE_CHECKING:
    from rich.tree import Tree

_NODE_KINDS = ("commit:", "run:", "model:", "artifact:")
_WAYS = {"up": "upstream: what it came from", "down": "downstream: what came of it"}

LINEAGE_HELP = """Show the lineage of a run, a dataset commit or a model: what it came from (up) and what came of it \
(down), as a tree.

REF_OR_RUN is a run id (or a unique prefix of one); a dataset ref PROJECT/DATASET@REF or DATASET@REF (REF: a commit \
id, a tag or 'latest'; the dataset's project is the one searched); model:URI or artifact:URI; or a node as the \
tracker names it (commit:ID, run:ID). Each read of a commit shows where and how: site/volume, cache hit or miss, \
bytes, time waited. --json prints the graph: {root, nodes, edges, truncated}."""


def lineage(
    target: Annotated[str, typer.Argument(metavar="REF_OR_RUN", help="A run id, PROJECT/DATASET@REF, or model:URI.")],
    depth: Annotated[int, typer.Option(min=0, max=20, help="Follow at most this many edges from it.")] = 3,
    direction: Annotated[Literal["up", "down", "both"], typer.Option(
        help="up: what it came from; down: what came of it.")] = "both",
    project: Annotated[str | None, typer.Option(
        "--project", "-p", help="The project of a run, model or DATASET@REF without PROJECT/ (env LAKECACHE_PROJECT, "
        "default 'default').", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    settings = load_settings(project, as_json=as_json)
    ref = None
    if not target.startswith(_NODE_KINDS) and ("@" in target or "/" in target):
        ref = parse_name(target, settings, as_json=as_json)
    scope = ref.project if ref is not None else settings.project

    async def work(gateway: GatewayClient) -> dict[str, Any]:
        if ref is not None:
            commit = await gateway.get_commit(ref.project, ref.name, ref.ref_or_latest)
            node = f"commit:{commit['id']}"
        elif target.startswith(("commit:", "model:", "artifact:")):
            node = target
        else:
            node = "run:" + (await find_run(gateway, scope, target.removeprefix("run:")))["id"]
        return await gateway.lineage(scope, node, direction=direction, depth=depth)

    graph = run_sdk(settings, as_json, work)
    if as_json:
        return print_json(graph)
    console.print(lineage_tree(graph, scope, ref.name if ref is not None else None), highlight=False)
    if graph.get("truncated"):
        console.print("[yellow]the graph was cut short at the tracker's limit of nodes; lower --depth or start "
                      "from a node further along[/]", highlight=False)


def lineage_tree(graph: dict[str, Any], project: str, root_dataset: str | None = None) -> Tree:
    """The graph as a tree: the root, then a branch per direction asked, each node under the one
    it is an edge away from (a node reached twice is expanded once)."""
    from rich.tree import Tree  # only this command draws trees

    nodes = {n["id"]: n for n in graph.get("nodes") or []}
    root = graph["root"]
    if root_dataset and not nodes.get(root, {}).get("dataset"):  # a commit nobody read or wrote yet
        nodes[root] = {**nodes.get(root, {"id": root, "kind": "commit"}), "dataset": root_dataset}
    edges: dict[str, dict[str, list[dict[str, Any]]]] = {"up": defaultdict(list), "down": defaultdict(list)}
    for edge in graph.get("edges") or []:
        edges["up"][edge["target"]].append(edge)
        edges["down"][edge["source"]].append(edge)
    tree = Tree(node_text(nodes.get(root, {"id": root}), project) + f" [dim](project {escape(project)})[/]")
    depth = int(graph.get("depth", 3))
    ways = ("up", "down") if graph.get("direction", "both") == "both" else (graph["direction"],)
    for way in ways:
        branch = tree.add(f"[bold]{_WAYS[way]}[/]")
        if not _grow(branch, root, way, edges[way], nodes, project, depth, {root}, set()):
            branch.add("[dim]nothing recorded[/]")
    return tree


def _grow(branch: Tree, node: str, way: str, edges: dict[str, list[dict[str, Any]]], nodes: dict[str, Any],
          project: str, depth: int, path: set[str], expanded: set[str]) -> bool:
    """Add ``node``'s neighbours in direction ``way`` under ``branch``, ``depth`` levels; False
    when it has none."""
    neighbours: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for edge in edges.get(node, []):
        neighbours[edge["source"] if way == "up" else edge["target"]].append(edge)
    for other, between in neighbours.items():
        text = node_text(nodes.get(other, {"id": other}), project) + edge_text(between)
        further = depth > 1 and bool(edges.get(other))
        if other in path:
            branch.add(text + " [dim](cycle)[/]")
        elif other in expanded and further:
            branch.add(text + " [dim](as above)[/]")
        else:
            child = branch.add(text)
            if further:
                expanded.add(other)
                _grow(child, other, way, edges, nodes, project, depth - 1, path | {other}, expanded)
    return bool(neighbours)


def node_text(node: dict[str, Any], project: str) -> str:
    """One node: its kind and what names it (run id and name, dataset@commit, model name and URI)."""
    ident = node["id"]
    kind, _, key = ident.partition(":")
    kind = node.get("kind") or kind
    if kind == "run":
        name = f" {escape(repr(node['name']))}" if node.get("name") else ""
        status = f" {escape(node['status'])}" if node.get("status") else ""
        return f"[bold cyan]run[/] {escape(key[:SHORT_ID])}{name}{status}"
    if kind == "commit":
        dataset = f"{escape(project)}/{escape(node['dataset'])}@" if node.get("dataset") else ""
        return f"[bold green]commit[/] {dataset}{short(key)}"
    name = f"{escape(node['name'])} " if node.get("name") else ""
    size = f" ({human_size(node['size'])})" if node.get("size") is not None else ""
    return f"[bold magenta]{escape(kind)}[/] {name}{escape(node.get('uri') or key)}{size}"


def edge_text(edges: list[dict[str, Any]]) -> str:
    """How two nodes are linked: each read with its cache facts, or what was written."""
    parts = []
    for edge in edges:
        if edge.get("kind") != "input":
            parts.append(f"wrote ({escape(edge.get('output_kind') or 'output')})")
            continue
        cache = edge.get("cache") or {}
        where = "/".join(p for p in (cache.get("site"), cache.get("volume")) if p)
        facts = [{True: "cache hit", False: "cache miss"}.get(cache.get("cache_hit"))]
        if cache.get("bytes") is not None:
            facts.append(human_size(cache["bytes"]))
        if cache.get("waited_seconds") is not None:
            facts.append(f"waited {elapsed(cache['waited_seconds'])}")
        listed = ", ".join(f for f in facts if f)
        parts.append("read" + (f" at {escape(where)}" if where else "") + (f": {listed}" if listed else ""))
    return " [dim]—[/] " + "; ".join(parts) if parts else ""


#: ``lakecache lineage`` as an app of one command, for the CLI's lazy loading (``cli.main``).
lineage_app = typer.Typer()
lineage_app.command("lineage", help=LINEAGE_HELP)(lineage)
