"""``lakecache runs …`` and ``lakecache lineage`` against the whole stack: two runs with params,
metrics, a cached commit they read and a dataset commit one of them wrote; text and --json of
each command, the error paths and their exit codes, lineage down from a commit and up from a run."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from lakecache.cli.main import app
from lakecache.cli.runs_view import elapsed, mentioned_keys, pick_columns, sparkline
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.runs import metric_json
from lakecache.sdk.settings import ClientSettings
from tests.clients.helpers import write_tree
from tests.support.stack import STACK_SITE as SITE
from tests.support.stack import STACK_VOLUME as VOLUME

runner = CliRunner()
PROJECT = "team"
STEPS = 30


def cli(*args: str):
    return runner.invoke(app, [*args, "--project", PROJECT])


def cli_json(*args: str):
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def flat(text: str) -> str:
    """Output with the console's line wrapping (and a tree's guide lines) undone."""
    return " ".join(text.replace("│", " ").split())


@dataclass
class Tracked:
    read: str  # the commit both runs read (cached at the site)
    written: str  # the commit r1 wrote
    r1: str
    r2: str


def commit(tmp_path, name: str, files: dict[str, bytes], *, cache: bool) -> str:
    steps = [["data", "create", name], ["data", "sync", name, str(write_tree(tmp_path / name, files)), "-m", "1"]]
    if cache:
        steps.append(["cache", "request", name, "--site", SITE])
    for args in steps:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    return answer["commit_id"] if cache else answer["commit"]["id"]


async def log_runs(read: str, written: str) -> tuple[str, str]:
    async with GatewayClient(ClientSettings()) as gateway:
        resnet = await gateway.get_or_create_experiment(PROJECT, "resnet")
        vit = await gateway.get_or_create_experiment(PROJECT, "vit")
        r1 = (await gateway.start_run(PROJECT, resnet["id"], name="r1", params={"lr": 0.1, "opt": "adam"},
                                      tags={"team": "cv"}, code_version="c0ffee" * 6 + "beef", code_dirty=True,
                                      host="node-1", site=SITE))["id"]
        await gateway.log_batch(PROJECT, r1, "b1", metrics=[
            *(metric_json("loss", 1 / (step + 1), step) for step in range(STEPS)), metric_json("acc", 0.95, STEPS)])
        await gateway.record_input(PROJECT, r1, "ds", read, site=SITE, volume=VOLUME, cache_hit=True, bytes_read=9,
                                   waited_seconds=0.0, context="train")
        await gateway.record_output(PROJECT, r1, "dataset", "lakecache://team/out", dataset="out", commit_id=written)
        await gateway.record_output(PROJECT, r1, "model", "s3://models/r1.pt", name="resnet-r1", size=2048)
        await gateway.finish_run(PROJECT, r1)
        r2 = (await gateway.start_run(PROJECT, vit["id"], name="r2", params={"lr": 0.01, "opt": "adam"}))["id"]
        await gateway.log_batch(PROJECT, r2, "b1", metrics=[metric_json("loss", 2.0, 0), metric_json("acc", 0.5, 0)])
        await gateway.record_input(PROJECT, r2, "ds", read, site=SITE, volume=VOLUME, cache_hit=False, bytes_read=9,
                                   waited_seconds=1.5)
        await gateway.finish_run(PROJECT, r2, "failed")
    return r1, r2


@pytest.fixture
def tracked(stack, tmp_path) -> Tracked:
    read = commit(tmp_path, "team/ds", {"a.txt": b"alpha", "b.txt": b"beta"}, cache=True)
    written = commit(tmp_path, "team/out", {"pred.csv": b"1,2\n"}, cache=False)
    return Tracked(read, written, *asyncio.run(log_runs(read, written)))


def test_list_shows_every_experiment_and_searches_with_mlflow_filters(tracked):
    listed = cli("runs", "list")
    assert listed.exit_code == 0, listed.output
    text = flat(listed.stdout)
    for expected in (tracked.r1[:8], tracked.r2[:8], "r1", "r2", "finished", "failed", "resnet", "vit"):
        assert expected in text
    assert [r["id"] for r in cli_json("runs", "list")] == [tracked.r2, tracked.r1]  # newest first

    assert [r["id"] for r in cli_json("runs", "list", "--experiment", "resnet")] == [tracked.r1]
    found = cli_json("runs", "list", "--filter", "metrics.acc > 0.9 and params.lr = '0.1'")
    assert [(r["id"], r["params"]["lr"]) for r in found] == [(tracked.r1, "0.1")]
    assert [r["id"] for r in cli_json("runs", "list", "--order-by", "metrics.acc ASC")] == [tracked.r2, tracked.r1]
    assert len(cli_json("runs", "list", "--limit", "1")) == 1
    assert "no runs match the filter" in flat(cli("runs", "list", "-f", "params.lr = '9'").stdout)

    refused = cli("runs", "list", "--filter", "metrics.acc > 0.9 or params.lr = '0.1'")
    assert refused.exit_code == 1 and "OR is not supported" in flat(refused.stderr)
    unknown = cli("runs", "list", "--experiment", "nope", "--json")
    assert unknown.exit_code == 1 and "no experiment 'nope'" in json.loads(unknown.stderr)["error"]
    assert cli("runs", "list", "--limit", "0").exit_code == 2


def test_show_prints_params_metrics_code_inputs_and_outputs(tracked):
    shown = cli_json("runs", "show", tracked.r1)
    assert (shown["id"], shown["status"], shown["params"]) == (tracked.r1, "finished", {"lr": "0.1", "opt": "adam"})
    assert [(i["commit_id"], i["cache_hit"], i["bytes"]) for i in shown["inputs"]] == [(tracked.read, True, 9)]
    assert {(o["kind"], o["commit_id"] or o["uri"]) for o in shown["outputs"]} == {
        ("dataset", tracked.written), ("model", "s3://models/r1.pt")}

    result = cli("runs", "show", tracked.r1[:6])  # a unique prefix names the run
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    for expected in (tracked.r1, "resnet", "c0ffeec0ffee (dirty", "node-1", "lr 0.1", "team cv", "loss 0.033333 29",
                     f"team/ds@{tracked.read[:12]}", f"{SITE}/{VOLUME} hit 9 B 0s train",
                     "resnet-r1 s3://models/r1.pt 2.0 KiB", f"dataset out commit {tracked.written[:12]} lakecache://team/out"):
        assert expected in text, expected


def test_unknown_or_ambiguous_runs_exit_1_with_the_reason(tracked):
    missing = cli("runs", "show", "f" * 32)
    assert missing.exit_code == 1 and "has no run" in flat(missing.stderr) and "Traceback" not in missing.output
    free = next(p for p in ("0000", "1111", "2222") if not tracked.r1.startswith(p) and not tracked.r2.startswith(p))
    no_prefix = cli("runs", "metrics", free, "loss", "--json")
    assert no_prefix.exit_code == 1 and "no run whose id starts with" in json.loads(no_prefix.stderr)["error"]
    assert cli("lineage", "nonsense-run").exit_code == 1


def test_compare_marks_what_differs(tracked):
    compared = cli_json("runs", "compare", tracked.r1, tracked.r2)
    assert compared["params"] == {"lr": {tracked.r1: "0.1", tracked.r2: "0.01"},
                                  "opt": {tracked.r1: "adam", tracked.r2: "adam"}}
    assert compared["metrics"]["acc"] == {tracked.r1: 0.95, tracked.r2: 0.5}
    assert compared["different"] == {"params": ["lr"], "metrics": ["acc", "loss"]}

    text = flat(cli("runs", "compare", tracked.r1[:8], tracked.r2[:8]).stdout)
    assert f"{tracked.r1[:8]} (r1)" in text and "≠ lr 0.1 0.01" in text and "opt adam adam" in text
    assert "1 params and 2 metrics differ" in text
    assert cli("runs", "compare", tracked.r1).exit_code == 2
    assert cli("runs", "compare", tracked.r1, tracked.r1[:8]).exit_code == 2


def test_metrics_prints_the_series_or_its_sparkline(tracked):
    series = cli_json("runs", "metrics", tracked.r1, "loss")
    assert [p["step"] for p in series["points"]] == list(range(STEPS)) and series["downsampled"] is False
    thinned = cli_json("runs", "metrics", tracked.r1, "loss", "--max-points", "10")
    assert thinned["downsampled"] is True and len(thinned["points"]) <= 10 and thinned["total"] == STEPS
    window = cli_json("runs", "metrics", tracked.r1, "loss", "--min-step", "5", "--max-step", "9")
    assert [p["step"] for p in window["points"]] == [5, 6, 7, 8, 9]

    text = flat(cli("runs", "metrics", tracked.r1, "loss").stdout)
    assert f"loss of run {tracked.r1[:8]} (r1): 30 points, steps 0–29" in text and "█" in text
    assert "first 1 (step 0)" in text and "min 0.033333 (step 29)" in text and "max 1 (step 0)" in text
    table = flat(cli("runs", "metrics", tracked.r1, "loss", "--max-step", "2").stdout)
    assert "step value logged at" in table and "2 0.33333" in table

    unknown = cli("runs", "metrics", tracked.r1, "nope")
    assert unknown.exit_code == 1 and "no metric 'nope' (its metrics: acc, loss)" in flat(unknown.stderr)
    assert cli("runs", "metrics", tracked.r1, "loss", "--min-step", "9", "--max-step", "5").exit_code == 2
    assert cli("runs", "metrics", tracked.r1, "loss", "--max-points", "1").exit_code == 2


def test_lineage_down_from_a_commit_and_up_from_a_run(tracked):
    down = cli_json("lineage", f"team/ds@{tracked.read}", "--direction", "down")
    assert down["root"] == f"commit:{tracked.read}"
    assert {n["id"] for n in down["nodes"]} >= {f"run:{tracked.r1}", f"run:{tracked.r2}",
                                                f"commit:{tracked.written}", "model:s3://models/r1.pt"}
    reads = {e["target"]: e["cache"]["cache_hit"] for e in down["edges"] if e["kind"] == "input"}
    assert reads == {f"run:{tracked.r1}": True, f"run:{tracked.r2}": False}

    text = flat(cli("lineage", "ds@latest", "--direction", "down").stdout)
    assert f"commit team/ds@{tracked.read[:12]}" in text and "downstream" in text and "upstream" not in text
    assert f"run {tracked.r1[:8]} 'r1' finished — read at {SITE}/{VOLUME}: cache hit, 9 B, waited 0s" in text
    assert f"run {tracked.r2[:8]} 'r2' failed — read at {SITE}/{VOLUME}: cache miss, 9 B, waited 1.5s" in text
    assert f"commit team/out@{tracked.written[:12]} — wrote (dataset)" in text

    up = cli_json("lineage", tracked.r1, "--direction", "up", "--depth", "1")
    assert up["root"] == f"run:{tracked.r1}" and [n["id"] for n in up["nodes"][1:]] == [f"commit:{tracked.read}"]
    text = flat(cli("lineage", tracked.r1[:8]).stdout)
    assert f"upstream: what it came from └── commit team/ds@{tracked.read[:12]} — read at" in text
    assert "model resnet-r1 s3://models/r1.pt" in text
    model = flat(cli("lineage", "model:s3://models/r1.pt", "--direction", "up").stdout)
    assert f"run {tracked.r1[:8]} 'r1'" in model and f"commit team/ds@{tracked.read[:12]}" in model

    assert cli("lineage", "ds@nope").exit_code == 1
    assert cli("lineage", "a/b/c@x").exit_code == 2
    assert cli("lineage", tracked.r1, "--direction", "sideways").exit_code == 2


def test_every_runs_command_has_help_with_json():
    for command in (["runs", "list"], ["runs", "show"], ["runs", "compare"], ["runs", "metrics"], ["lineage"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "--json" in result.stdout, command


def test_columns_sparkline_and_durations():
    rows = [{"lr": "0.1", "opt": "adam", "seed": "1"}, {"lr": "0.01", "opt": "adam", "seed": "2"}]
    assert pick_columns(rows, "params", set(), 2) == (["lr", "seed"], 1)
    assert pick_columns(rows, "params", {("params", "opt")}, 2) == (["opt", "lr"], 1)
    assert mentioned_keys("metrics.acc > 0.9 and params.`batch size` = '3'", "metric.loss DESC") == {
        ("metrics", "acc"), ("params", "batch size"), ("metrics", "loss")}
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([1.0, float("nan"), 1.0]) == "▁ ▁" and len(sparkline(list(range(1000)))) == 60
    assert [elapsed(s) for s in (0, 0.25, 12.34, 245, 7380, 273600)] == [
        "0s", "250ms", "12.3s", "4m05s", "2h03m", "3d04h"]
