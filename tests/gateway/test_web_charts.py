"""The dashboard's SVG: line charts (web/charts.py) and the lineage graph's layout and markup
(web/graph.py), as pure functions from data to markup."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from lakecache.gateway.web.charts import Series, legend, line_chart, nice_ticks, number, value_text
from lakecache.gateway.web.graph import Edge, Node, layers_of, layout, lineage_svg

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    """The markup as XML (an SVG inside HTML must be well formed to be parsed so here)."""
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def polyline_points(markup: str) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, pair.split(","))) for pair in line.get("points").split()]
            for line in parsed(markup).iter(f"{SVG}polyline")]


def test_ticks_are_round_numbers_covering_the_range():
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(3, 97) == [0, 20, 40, 60, 80, 100]
    ticks = nice_ticks(-0.013, 0.0041)
    assert ticks[0] <= -0.013 and ticks[-1] >= 0.0041 and len(ticks) <= 7
    flat = nice_ticks(5, 5)  # one value: a range around it, not a division by zero
    assert flat[0] < 5 < flat[-1]


def test_a_chart_draws_one_polyline_per_series_with_every_finite_point_in_order():
    chart = line_chart([Series("loss", [(0, 1.0), (1, 0.5), (2, "NaN"), (3, 0.25)]),
                        Series("acc", [(0, 0.1), (3, 0.9)])], title="by step")
    loss, acc = polyline_points(chart)
    assert len(loss) == 3 and len(acc) == 2  # the NaN is left out
    xs = [x for x, _ in loss]
    assert xs == sorted(xs)
    assert loss[0][1] < loss[1][1] < loss[2][1]  # a falling loss goes down the chart: SVG's y grows downwards
    root = parsed(chart)
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == "by step"
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert any(t.startswith("loss: 3 points, min 0.25, max 1, last 0.25 at step 3") for t in titles)
    assert "style=" not in str(chart)  # the Content-Security-Policy forbids inline styles


def test_larger_values_are_drawn_higher():
    [line] = polyline_points(line_chart([Series("up", [(0, 0), (10, 100)])], title="t"))
    (_, y_low), (_, y_high) = line
    assert y_high < y_low


def test_a_chart_is_the_same_bytes_for_the_same_data():
    series = [Series("loss", [(i, 1 / (i + 1)) for i in range(300)])]
    assert line_chart(series, title="x") == line_chart(series, title="x")


def test_a_chart_without_finite_values_says_so():
    chart = line_chart([Series("loss", [(0, "NaN"), (1, "Infinity")])], title="loss")
    assert "no values" in chart and "<polyline" not in chart


def test_names_in_charts_and_legends_are_escaped():
    hostile = '<script>alert(1)</script>"'
    chart = line_chart([Series(hostile, [(0, 1), (1, 2)])], title=hostile)
    key = legend([hostile])
    for markup in (chart, key):
        assert "<script>" not in markup and "&lt;script&gt;" in markup
    parsed(chart)  # still well formed


@pytest.mark.parametrize(("value", "text"), [(0, "0"), (3.0, "3"), (0.12345, "0.1235"), (1e7, "1e+07"),
                                             (-2.5e-5, "-2.5e-05")])
def test_numbers_are_short(value, text):
    assert number(value) == text


def test_table_values_keep_six_digits_and_the_trackers_words():
    assert value_text(0.912345678) == "0.912346" and value_text("NaN") == "NaN" and value_text(None) == "–"


def chain_graph() -> tuple[list[str], list[Edge]]:
    """Two commits read by a run that wrote a model; a second run reads the first commit."""
    nodes = ["run:r1", "commit:c1", "commit:c2", "model:m", "run:r2"]
    edges = [Edge("commit:c1", "run:r1", "input"), Edge("commit:c2", "run:r1", "input"),
             Edge("run:r1", "model:m", "output"), Edge("commit:c1", "run:r2", "input")]
    return nodes, edges


def test_layers_put_commits_before_runs_before_models():
    nodes, edges = chain_graph()
    layers = layers_of(nodes, edges)
    assert [sorted(layer) for layer in layers] == [["commit:c1", "commit:c2"], ["run:r1", "run:r2"], ["model:m"]]


def test_the_longest_path_decides_a_nodes_layer():
    edges = [Edge("a", "b", "input"), Edge("b", "c", "output"), Edge("a", "c", "input")]
    assert layers_of(["c", "a", "b"], edges) == [["a"], ["b"], ["c"]]


def test_barycenter_ordering_uncrosses_edges():
    # c1 → r2 and c2 → r1: with the layer ordered as given the edges cross; ordered they do not.
    edges = [Edge("commit:c1", "run:r2", "input"), Edge("commit:c2", "run:r1", "input")]
    layers = layers_of(["commit:c1", "commit:c2", "run:r1", "run:r2"], edges)
    assert layers == [["commit:c1", "commit:c2"], ["run:r2", "run:r1"]]


def test_a_cycle_does_not_hang_the_layout_and_a_long_chain_does_not_recurse():
    assert sum(map(len, layers_of(["a", "b"], [Edge("a", "b", "input"), Edge("b", "a", "output")]))) == 2
    chain = [f"n{i}" for i in range(2000)]
    layers = layers_of(chain, [Edge(a, b, "input") for a, b in zip(chain, chain[1:], strict=False)])
    assert len(layers) == 2000


def test_nodes_do_not_overlap():
    nodes, edges = chain_graph()
    placed = layout(nodes, edges)
    boxes = sorted(placed.position.values())
    assert len(set(boxes)) == len(nodes)
    for (x1, y1), (x2, y2) in zip(boxes, boxes[1:], strict=False):
        assert x1 != x2 or abs(y1 - y2) >= 44


def test_the_graph_links_every_node_and_draws_every_edge():
    ids, edges = chain_graph()
    nodes = [Node(i, i.partition(":")[0], i, href=f"/center?node={i}", open_href=f"/open/{i}" if "run" in i else "",
                  root=i == "run:r1") for i in ids]
    markup = lineage_svg(nodes, edges, title="Lineage")
    root = parsed(markup)
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert {f"/center?node={i}" for i in ids} <= set(links)
    assert {"/open/run:r1", "/open/run:r2"} <= set(links)
    assert len([p for p in root.iter(f"{SVG}path") if "edge" in (p.get("class") or "")]) == len(edges)
    assert re.search(r'class="node run root"', markup)
    assert 'class="edge output"' in markup and "style=" not in markup
    assert lineage_svg(nodes, edges, title="Lineage") == markup


def test_hostile_labels_in_the_graph_are_escaped():
    node = Node("model:<x>", "model", '<img src=x onerror="alert(1)">', href="/c?node=%3Cx%3E")
    markup = lineage_svg([node], [], title="<b>")
    assert "<img" not in markup and "&lt;img" in markup and "<b>" not in markup
    parsed(markup)
