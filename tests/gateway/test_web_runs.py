"""The tracker's pages — experiments, the runs table, compare, a run, lineage — against the whole
stack served over HTTP (``served_stack``), with runs made through the gateway's run routes as a
job's SDK makes them: params, 1,000 points of a metric, a cached input, a model, an artifact."""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from lakecache.gateway.web import runs as web_runs
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.support.stack import STACK_SITE, STACK_VOLUME, Stack, create_user, gateway_call, served_stack

PROJECT, OTHER = "vision", "speech"
HOSTILE = '<script>alert("lr")</script>'
STEPS = 1000
NS = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class World:
    stack: Stack
    tokens: dict[str, str]
    experiment: str
    fast: str  # run ids
    slow: str
    commit: str


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    location: str | None = None


def get(world: World, who: str, path: str, query: dict | list | None = None) -> Page:
    url = world.stack.base_url + path + (("?" + urlencode(query, doseq=True)) if query else "")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {world.tokens[who]}",
                                                   "Accept": "text/html"})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # the test looks at the redirect itself
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as answer:
            return Page(answer.status, answer.read().decode())
    except urllib.error.HTTPError as error:
        return Page(error.code, error.read().decode(), error.headers.get("Location"))


def call(world: World, method: str, path: str, body=None, who: str = "ada"):
    return gateway_call(world.stack.base_url, world.tokens[who], method, path, body)


def rows_of(html: str, table_id: str) -> list[str]:
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert match, f"no table {table_id}"
    return re.findall(r"<tr[^>]*>.*?</tr>", match.group(0), re.S)[1:]


def svgs(html: str, cls: str) -> list[ET.Element]:
    found = re.findall(rf'<svg class="{cls}".*?</svg>', html, re.S)
    return [ET.fromstring(s.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)) for s in found]


async def make_commit(stack: Stack, token: str, tmp: Path) -> str:
    data = tmp / "data"
    data.mkdir()
    (data / "a.bin").write_bytes(b"images")
    settings = ClientSettings(api_url=stack.base_url, token=token, cache_dir=tmp / "client", home=tmp / "no-home")
    async with CatalogClient(settings) as catalog:
        await catalog.create_dataset(PROJECT, "cats")
        return (await sync_directory(catalog, DatasetRef(PROJECT, "cats"), data, message="first")).commit["id"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("runs-pages")
    with served_stack(root / "home", root / STACK_VOLUME) as stack:
        admin = stack.token
        tokens = {"ada": create_user(stack.base_url, admin, "ada", {PROJECT: "editor"}),
                  "vic": create_user(stack.base_url, admin, "vic", {PROJECT: "viewer"}),
                  "olga": create_user(stack.base_url, admin, "olga", {OTHER: "admin"})}
        commit = asyncio.run(make_commit(stack, tokens["ada"], root))
        runs = f"/api/v1/projects/{PROJECT}"
        experiment = gateway_call(stack.base_url, tokens["ada"], "POST", runs + "/experiments",
                                  {"name": "resnet"})["id"]

        def run(name: str, params: dict, loss: list[float], accuracy: float) -> str:
            made = gateway_call(stack.base_url, tokens["ada"], "POST", runs + "/runs", {
                "experiment_id": experiment, "name": name, "params": params, "code_version": "abc1234",
                "code_dirty": True, "host": "node-7", "site": STACK_SITE})["id"]
            path = f"{runs}/runs/{made}"
            points = [{"key": "loss", "value": v, "step": i} for i, v in enumerate(loss)]
            points.append({"key": "accuracy", "value": accuracy, "step": len(loss)})
            for at in range(0, len(points), 500):  # a batch holds at most 1,000 points
                gateway_call(stack.base_url, tokens["ada"], "POST", path + "/log", {"metrics": points[at:at + 500]})
            gateway_call(stack.base_url, tokens["ada"], "POST", path + "/inputs", {
                "dataset": "cats", "commit_id": commit, "site": STACK_SITE, "volume": STACK_VOLUME,
                "cache_hit": name == "fast", "bytes": 6, "waited_seconds": 0.0 if name == "fast" else 42.0,
                "context": "training"})
            gateway_call(stack.base_url, tokens["ada"], "POST", path + "/outputs",
                         {"kind": "model", "uri": f"s3://models/{name}", "name": f"model-{name}"})
            gateway_call(stack.base_url, tokens["ada"], "POST", path + "/finish", {"status": "finished"})
            return made

        fast = run("fast", {"lr": "0.1", "batch": 32}, [1 / (i + 1) for i in range(STEPS)], 0.93)
        slow = run("slow", {"lr": HOSTILE, "batch": 32}, [1.0 - i / 20 for i in range(10)], 0.71)
        upload = urllib.request.Request(f"{stack.base_url}{runs}/runs/{fast}/artifacts/model/weights.bin",
                                        data=b"weights", method="PUT", headers={
                                            "Authorization": f"Bearer {tokens['ada']}",
                                            "Content-Type": "application/octet-stream"})
        urllib.request.urlopen(upload, timeout=30).close()
        yield World(stack, tokens, experiment, fast, slow, commit)


def test_experiments_lists_the_persons_projects_and_links_to_the_runs(world):
    page = get(world, "vic", "/experiments")
    assert page.status == 200
    assert f'href="/projects/{PROJECT}/runs?experiment={world.experiment}">resnet</a>' in page.html
    other = get(world, "olga", "/experiments")
    assert other.status == 200 and "resnet" not in other.html and f"Project {OTHER}" in other.html


def test_the_runs_table_shows_runs_with_param_and_metric_columns(world):
    page = get(world, "vic", f"/projects/{PROJECT}/runs", {"experiment": world.experiment})
    assert page.status == 200
    header = re.search(r"<thead>.*?</thead>", page.html, re.S).group(0)
    for column in ("Run", "Status", "Started", "Duration", "User", "batch", "lr", "accuracy", "loss"):
        assert f">{column}</" in header
    rows = rows_of(page.html, "runs")
    assert len(rows) == 2
    fast = next(r for r in rows if f'data-run="{world.fast}"' in r)
    assert ">fast</a>" in fast and "0.93" in fast and "0.001" in fast  # accuracy, and the last loss 1/1000
    assert f'name="runs" value="{world.fast}"' in fast  # a checkbox of the compare form


def test_the_filter_narrows_the_table_and_a_bad_one_is_explained(world):
    narrowed = get(world, "vic", f"/projects/{PROJECT}/runs", {"filter": "metrics.accuracy > 0.9"})
    rows = rows_of(narrowed.html, "runs")
    assert len(rows) == 1 and world.fast in rows[0]
    assert 'value="metrics.accuracy &gt; 0.9"' in narrowed.html  # the box keeps what was typed

    bad = get(world, "vic", f"/projects/{PROJECT}/runs", {"filter": "metrics.accuracy >>> 1"})
    assert bad.status == 400 and 'role="alert"' in bad.html and "filter" in bad.html
    assert 'id="filter"' in bad.html


def test_ordering_by_a_metric_column(world):
    ascending = get(world, "vic", f"/projects/{PROJECT}/runs", {"order": "metrics.`accuracy` ASC"})
    ids = re.findall(r'<tr data-run="([0-9a-f]+)"', ascending.html)
    assert ids == [world.slow, world.fast]
    assert 'aria-sort="ascending"' in ascending.html
    descending = get(world, "vic", f"/projects/{PROJECT}/runs", {"order": "metrics.`accuracy` DESC"})
    assert re.findall(r'<tr data-run="([0-9a-f]+)"', descending.html) == [world.fast, world.slow]


def test_the_table_pages_with_a_more_link(world, monkeypatch):
    monkeypatch.setattr(web_runs, "RUNS_PER_PAGE", 1)  # the stack serves from this process
    first = get(world, "vic", f"/projects/{PROJECT}/runs", {"experiment": world.experiment})
    assert re.findall(r'<tr data-run="([0-9a-f]+)"', first.html) == [world.slow]  # newest first
    more = re.search(r'<a href="([^"]+)" rel="next">More runs</a>', first.html).group(1).replace("&amp;", "&")
    second = get(world, "vic", more)
    assert re.findall(r'<tr data-run="([0-9a-f]+)"', second.html) == [world.fast]
    assert 'rel="next"' not in second.html and "First page" in second.html


def test_compare_shows_both_runs_marks_the_differing_param_and_overlays_a_metric(world):
    page = get(world, "vic", f"/projects/{PROJECT}/compare", [("runs", world.fast), ("runs", world.slow),
                                                              ("metric", "loss")])
    assert page.status == 200
    assert ">fast</a>" in page.html and ">slow</a>" in page.html
    lr = re.search(r'<tr class="([^"]*)" data-key="param:lr">', page.html).group(1)
    batch = re.search(r'<tr class="([^"]*)" data-key="param:batch">', page.html).group(1)
    assert "differs" in lr and "differs" not in batch
    [chart] = svgs(page.html, "chart")
    lines = list(chart.iter(f"{NS}polyline"))
    assert len(lines) == 2
    assert [len(line.get("points").split()) for line in lines] == [300, 10]


def test_compare_without_two_runs_asks_for_them(world):
    page = get(world, "vic", f"/projects/{PROJECT}/compare", {"runs": world.fast})
    assert page.status == 200 and "Choose two or more runs" in page.html


def test_the_run_page_shows_params_a_downsampled_chart_and_the_cached_input(world):
    page = get(world, "vic", f"/projects/{PROJECT}/runs/{world.fast}")
    assert page.status == 200
    params = rows_of(page.html, "params")
    assert any(">lr</th><td>0.1</td>" in r for r in params) and any(">batch</th><td>32</td>" in r for r in params)
    assert "abc1234" in page.html and ">dirty</span>" in page.html and "node-7" in page.html

    loss = re.search(r'<figure class="chart"[^>]*data-metric="loss">.*?</figure>', page.html, re.S).group(0)
    [chart] = svgs(loss, "chart")
    [line] = chart.iter(f"{NS}polyline")
    assert len(line.get("points").split()) == 300  # the tracker's largest-triangle-three-buckets thinning
    assert "300 of 1000 points drawn" in loss

    [row] = rows_of(page.html, "inputs")
    assert f'href="/datasets/{PROJECT}/cats">cats</a>' in row and world.commit[:12] in row
    assert '<span class="badge cache-hit">hit</span>' in row and STACK_SITE in row and STACK_VOLUME in row
    [output] = rows_of(page.html, "outputs")
    assert "s3://models/fast" in output
    [folder] = rows_of(page.html, "artifacts")
    assert f'href="/projects/{PROJECT}/runs/{world.fast}?path=model">model/</a>' in folder
    inside = get(world, "vic", f"/projects/{PROJECT}/runs/{world.fast}", {"path": "model"})
    [artifact] = rows_of(inside.html, "artifacts")
    href = f"/api/v1/projects/{PROJECT}/runs/{world.fast}/artifacts/model/weights.bin"
    assert f'href="{href}" download>' in artifact and "7 B" in artifact
    download = urllib.request.Request(world.stack.base_url + href,
                                      headers={"Authorization": f"Bearer {world.tokens['vic']}"})
    with urllib.request.urlopen(download, timeout=30) as answer:
        assert answer.read() == b"weights"
    assert f'/projects/{PROJECT}/lineage?node=run%3A{world.fast}' in page.html


def test_the_slow_runs_input_was_a_miss(world):
    page = get(world, "vic", f"/projects/{PROJECT}/runs/{world.slow}")
    [row] = rows_of(page.html, "inputs")
    assert "cache-miss" in row and "42 s" in row


def graph_of(html: str) -> tuple[ET.Element, dict[str, ET.Element]]:
    [graph] = svgs(html, "lineage")
    return graph, {g.get("data-node"): g for g in graph.iter(f"{NS}g") if g.get("data-node")}


def test_the_lineage_of_a_run_goes_from_its_commit_to_its_model(world):
    page = get(world, "vic", f"/projects/{PROJECT}/lineage", {"node": f"run:{world.fast}"})
    assert page.status == 200
    graph, nodes = graph_of(page.html)
    assert {k: g.get("class") for k, g in nodes.items()} == {
        f"run:{world.fast}": "node run root", f"commit:{world.commit}": "node commit",
        "model:s3://models/fast": "node model"}
    x = {k: float(g.find(f"{NS}a/{NS}rect").get("x")) for k, g in nodes.items()}
    assert x[f"commit:{world.commit}"] < x[f"run:{world.fast}"] < x["model:s3://models/fast"]  # layered left to right
    links = {a.get("href") for a in graph.iter(f"{NS}a")}
    assert f"/projects/{PROJECT}/lineage?" + urlencode({"node": f"commit:{world.commit}", "direction": "both",
                                                        "depth": "3"}) in links  # re-centres on the commit
    assert f"/datasets/{PROJECT}/cats" in links and f"/projects/{PROJECT}/runs/{world.fast}" in links
    edges = [p for p in graph.iter(f"{NS}path") if "edge" in (p.get("class") or "")]
    assert sorted(p.get("class") for p in edges) == ["edge input", "edge output"]


def test_the_lineage_of_a_commit_shows_every_run_that_read_it_and_the_tables_say_the_same(world):
    page = get(world, "vic", f"/projects/{PROJECT}/lineage", {"node": f"commit:{world.commit}"})
    graph, nodes = graph_of(page.html)
    assert set(nodes) == {f"commit:{world.commit}", f"run:{world.fast}", f"run:{world.slow}",
                          "model:s3://models/fast", "model:s3://models/slow"}
    assert len([p for p in graph.iter(f"{NS}path") if "edge" in (p.get("class") or "")]) == 4
    rows = rows_of(page.html, "lineage-nodes")
    assert len(rows) == 5
    assert any(f'href="/projects/{PROJECT}/runs/{world.slow}">open run</a>' in r for r in rows)
    edges = rows_of(page.html, "lineage-edges")
    assert any("cache hit" in r and ">fast<" in r for r in edges)
    assert any("cache miss" in r and ">slow<" in r for r in edges)


def test_the_lineage_start_page_offers_recent_runs_and_goes_to_the_graph(world):
    page = get(world, "vic", "/lineage")
    assert page.status == 200
    assert f'href="/projects/{PROJECT}/lineage?node=run%3A{world.fast}' in page.html
    chosen = get(world, "vic", "/lineage", {"project": PROJECT, "kind": "commit", "id": world.commit})
    assert chosen.status == 303
    assert chosen.location == f"/projects/{PROJECT}/lineage?node=commit%3A{world.commit}&direction=both&depth=3"
    elsewhere = get(world, "vic", "/lineage", {"project": OTHER, "kind": "run", "id": world.fast})
    assert elsewhere.status == 200  # not a project of vic's: the form again, no redirect


@pytest.mark.parametrize("path", ["/projects/{p}/runs", "/projects/{p}/runs/{run}", "/projects/{p}/compare",
                                  "/projects/{p}/lineage"])
def test_a_viewer_of_another_project_is_refused(world, path):
    page = get(world, "olga", path.format(p=PROJECT, run=world.fast),
                {"runs": [world.fast, world.slow], "node": f"run:{world.fast}"})
    assert page.status == 403 and "fast" not in page.html and "resnet" not in page.html


def test_another_projects_run_is_not_found_in_ones_own(world):
    page = get(world, "olga", f"/projects/{OTHER}/runs/{world.fast}")
    assert page.status == 404


def test_hostile_param_values_are_escaped_everywhere(world):
    pages = [get(world, "vic", f"/projects/{PROJECT}/runs"),
             get(world, "vic", f"/projects/{PROJECT}/runs/{world.slow}"),
             get(world, "vic", f"/projects/{PROJECT}/compare", [("runs", world.fast), ("runs", world.slow)])]
    for page in pages:
        assert page.status == 200
        assert HOSTILE not in page.html and "&lt;script&gt;alert(&#34;lr&#34;)&lt;/script&gt;" in page.html


def test_a_path_segment_is_quoted_in_links(world):
    page = get(world, "vic", f"/projects/{PROJECT}/lineage", {"node": "model:s3://models/<x>"})
    assert page.status == 200 and "<x>" not in page.html.replace("&lt;x&gt;", "")
    assert quote("model:s3://models/<x>", safe="") in page.html
