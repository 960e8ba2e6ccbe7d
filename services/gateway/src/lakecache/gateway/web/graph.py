"""The lineage graph as SVG markup: a layered layout, rendered on the server (ADR 0015).

The tracker bounds the graph (depth ≤ 20, ≤ 500 nodes), so a simple Sugiyama-style layout is
enough: longest-path layering (each node one layer right of its furthest predecessor, so
commits come before the runs that read them and runs before what they wrote), then a few
barycenter sweeps that order each layer by the mean position of its neighbours in the layer
before, which keeps most edges from crossing. Pure functions: the same graph gives the same bytes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

NODE_W, NODE_H = 200, 44
GAP_X, GAP_Y, MARGIN = 70, 18, 12
#: Characters of a node's label shown in its box (the full label is its tooltip).
LABEL_CHARS = 26
_SWEEPS = 4


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # commit, run, model, artifact
    label: str
    detail: str = ""
    href: str = ""  # re-centres the graph on this node
    open_href: str = ""  # the run's or dataset's page, if it has one
    root: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # input, output
    detail: str = ""


@dataclass
class Layout:
    layers: list[list[str]]
    position: dict[str, tuple[float, float]] = field(default_factory=dict)
    width: float = 0
    height: float = 0


def layers_of(node_ids: Sequence[str], edges: Sequence[Edge]) -> list[list[str]]:
    """Longest-path layering, then barycenter ordering within layers.

    An edge that would close a cycle (lineage has none, but the data is not ours to trust) is
    ignored for layering."""
    known = set(node_ids)
    into: dict[str, list[str]] = defaultdict(list)
    out_of: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        if edge.source in known and edge.target in known and edge.source != edge.target:
            into[edge.target].append(edge.source)
            out_of[edge.source].append(edge.target)
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(node: str) -> int:  # iterative: a 500-node chain must not hit the recursion limit
        stack = [(node, iter(into[node]))]
        visiting.add(node)
        best = {node: 0}
        while stack:
            current, parents = stack[-1]
            parent = next(parents, None)
            if parent is None:
                stack.pop()
                visiting.discard(current)
                layer[current] = best[current]
                if stack:
                    below = stack[-1][0]
                    best[below] = max(best[below], layer[current] + 1)
                continue
            if parent in layer:
                best[current] = max(best[current], layer[parent] + 1)
            elif parent not in visiting:
                visiting.add(parent)
                best[parent] = 0
                stack.append((parent, iter(into[parent])))
        return layer[node]

    for node in node_ids:
        if node not in layer:
            depth(node)
    count = max(layer.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(count)]
    for node in node_ids:  # the tracker's order (by distance from the root) as the start
        layers[layer[node]].append(node)
    for sweep in range(_SWEEPS):
        downward = sweep % 2 == 0
        order = range(1, count) if downward else range(count - 2, -1, -1)
        for index in order:
            neighbours = into if downward else out_of
            fixed = {n: i for i, n in enumerate(layers[index - 1 if downward else index + 1])}
            current = {n: i for i, n in enumerate(layers[index])}

            def barycenter(node: str, fixed: dict[str, int] = fixed, current: dict[str, int] = current,
                           neighbours: dict[str, list[str]] = neighbours) -> float:
                around = [fixed[n] for n in neighbours[node] if n in fixed]
                return sum(around) / len(around) if around else float(current[node])

            layers[index].sort(key=lambda n, b=barycenter, c=current: (b(n), c[n]))
    return layers


def layout(node_ids: Sequence[str], edges: Sequence[Edge]) -> Layout:
    """Layers as columns left to right, each layer's nodes centred vertically."""
    layers = layers_of(node_ids, edges)
    tallest = max((len(layer) for layer in layers), default=0)
    height = 2 * MARGIN + tallest * NODE_H + max(0, tallest - 1) * GAP_Y
    width = 2 * MARGIN + len(layers) * NODE_W + max(0, len(layers) - 1) * GAP_X
    result = Layout(layers, width=width, height=height)
    for column, layer in enumerate(layers):
        used = len(layer) * NODE_H + max(0, len(layer) - 1) * GAP_Y
        top = (height - used) / 2
        for row, node in enumerate(layer):
            result.position[node] = (MARGIN + column * (NODE_W + GAP_X), top + row * (NODE_H + GAP_Y))
    return result


def _clip(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _n(value: float) -> str:
    return f"{value:.1f}"


def lineage_svg(nodes: Sequence[Node], edges: Sequence[Edge], *, title: str) -> Markup:
    """The graph: a box per node (an ``<a>`` that re-centres on it, with a smaller link to its
    page), a path per edge, classes by kind for the stylesheet.

    Each text is escaped once and the elements are plain f-strings: ``Markup.format`` costs a
    formatter pass per field, which at the tracker's 500 nodes was most of the page's time."""
    placed = layout([n.id for n in nodes], edges)
    w, h, t = _n(placed.width), _n(placed.height), escape(title)
    parts = [f'<svg class="lineage" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
             f'aria-label="{t}"><title>{t}</title>',
             '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
             'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z"></path></marker></defs>']
    for edge in edges:
        if edge.source not in placed.position or edge.target not in placed.position:
            continue
        (sx, sy), (tx, ty) = placed.position[edge.source], placed.position[edge.target]
        x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H / 2, tx, ty + NODE_H / 2
        bend = max(GAP_X / 2, abs(x2 - x1) / 2)
        path = f"M{_n(x1)},{_n(y1)} C{_n(x1 + bend)},{_n(y1)} {_n(x2 - bend)},{_n(y2)} {_n(x2)},{_n(y2)}"
        tooltip = f"{edge.source} → {edge.target}" + (f" ({edge.detail})" if edge.detail else "")
        parts.append(f'<path class="edge {escape(edge.kind)}" d="{path}" marker-end="url(#arrow)">'
                     f'<title>{escape(tooltip)}</title></path>')
    for node in nodes:
        x, y = placed.position[node.id]
        classes = f"node {node.kind}" + (" root" if node.root else "")
        tooltip = node.label + (f" — {node.detail}" if node.detail else "")
        tx = _n(x + 8)
        parts.append(f'<g class="{escape(classes)}" data-node="{escape(node.id)}"><a href="{escape(node.href)}">'
                     f'<title>{escape(tooltip)}</title>'
                     f'<rect x="{_n(x)}" y="{_n(y)}" width="{NODE_W}" height="{NODE_H}" rx="6"></rect>'
                     f'<text class="kind" x="{tx}" y="{_n(y + 15)}">{escape(node.kind)}</text>'
                     f'<text class="name" x="{tx}" y="{_n(y + 33)}">{escape(_clip(node.label))}</text></a>')
        if node.open_href:
            parts.append(f'<a class="open" href="{escape(node.open_href)}"><title>open {escape(node.label)}</title>'
                         f'<text x="{_n(x + NODE_W - 8)}" y="{_n(y + 15)}" text-anchor="end">open ↗</text></a>')
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # every text in it was escaped above


__all__ = ["Edge", "Layout", "Node", "layers_of", "layout", "lineage_svg"]
