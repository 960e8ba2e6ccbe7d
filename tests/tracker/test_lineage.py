"""Lineage from either end: raw commit → preprocessing run → derived commit → training run →
model, with the cache facts of each input."""

from __future__ import annotations

from lakecache.core.contracts.runs import RunInputRecorded, RunOutputRecorded, RunStarted
from tests.tracker.conftest import PROJECT

RAW, DERIVED = "a" * 64, "b" * 64
LINEAGE = f"/api/v1/projects/{PROJECT}/lineage"


async def pipeline(api) -> None:
    experiment = await api.experiment()
    await api.send(
        RunStarted(run_id="prep", project=PROJECT, experiment="resnet", experiment_id=experiment, name="prep",
                   user="ada"),
        RunInputRecorded(run_id="prep", project=PROJECT, dataset_id="ds-raw", dataset="raw", commit_id=RAW,
                         site="dgx", volume="nfs1", cache_hit=False, bytes=1000, waited_seconds=12.5,
                         context="source"),
        RunOutputRecorded(run_id="prep", project=PROJECT, kind="dataset", uri="lakecache://vision/clean@" + DERIVED,
                          dataset_id="ds-clean", commit_id=DERIVED),
        RunStarted(run_id="train", project=PROJECT, experiment="resnet", experiment_id=experiment, name="train",
                   user="ada"),
        RunInputRecorded(run_id="train", project=PROJECT, dataset_id="ds-clean", dataset="clean", commit_id=DERIVED,
                         site="dgx", volume="nfs1", cache_hit=True, bytes=800, waited_seconds=0.0,
                         context="training"),
        RunOutputRecorded(run_id="train", project=PROJECT, kind="model", uri="s3://models/resnet/1", name="resnet",
                          sha256="c" * 64, size=4096))


def ids(graph: dict) -> set[str]:
    return {n["id"] for n in graph["nodes"]}


async def test_downstream_of_the_raw_commit_reaches_the_model(api):
    await pipeline(api)
    graph = (await api.call("GET", LINEAGE, params={"node": f"commit:{RAW}", "direction": "down", "depth": 4})).body
    assert ids(graph) == {f"commit:{RAW}", "run:prep", f"commit:{DERIVED}", "run:train", "model:s3://models/resnet/1"}
    by_id = {n["id"]: n for n in graph["nodes"]}
    assert by_id["run:train"]["name"] == "train" and by_id["run:train"]["distance"] == 3
    assert by_id[f"commit:{DERIVED}"]["dataset"] == "clean"
    assert by_id["model:s3://models/resnet/1"]["sha256"] == "c" * 64
    edges = {(e["source"], e["target"]): e for e in graph["edges"]}
    miss = edges[(f"commit:{RAW}", "run:prep")]
    assert miss["kind"] == "input" and miss["cache"] == {"site": "dgx", "volume": "nfs1", "cache_hit": False,
                                                         "bytes": 1000, "waited_seconds": 12.5}
    assert edges[(f"commit:{DERIVED}", "run:train")]["cache"]["cache_hit"] is True
    assert edges[("run:train", "model:s3://models/resnet/1")]["output_kind"] == "model"


async def test_upstream_of_the_model_reaches_the_raw_commit_and_depth_limits_it(api):
    await pipeline(api)
    model = "model:s3://models/resnet/1"
    graph = (await api.call("GET", LINEAGE, params={"node": model, "direction": "up", "depth": 4})).body
    assert ids(graph) == {model, "run:train", f"commit:{DERIVED}", "run:prep", f"commit:{RAW}"}
    near = (await api.call("GET", LINEAGE, params={"node": model, "direction": "up", "depth": 2})).body
    assert ids(near) == {model, "run:train", f"commit:{DERIVED}"}
    both = (await api.call("GET", LINEAGE, params={"node": f"commit:{DERIVED}", "depth": 1})).body
    assert ids(both) == {f"commit:{DERIVED}", "run:prep", "run:train"} and both["truncated"] is False
    # A picture asks for fewer nodes: the walk stops there and says so; every edge kept joins kept nodes.
    few = (await api.call("GET", LINEAGE, params={"node": model, "direction": "up", "depth": 4,
                                                  "max_nodes": 3})).body
    assert ids(few) == {model, "run:train", f"commit:{DERIVED}"} and few["truncated"] is True
    assert all(e["source"] in ids(few) and e["target"] in ids(few) for e in few["edges"])


async def test_a_run_shows_its_inputs_and_outputs_and_another_project_sees_no_lineage(api):
    await pipeline(api)
    run = await api.run("train")
    assert [(i["dataset"], i["commit_id"], i["cache_hit"]) for i in run["inputs"]] == [("clean", DERIVED, True)]
    assert [(o["kind"], o["uri"]) for o in run["outputs"]] == [("model", "s3://models/resnet/1")]
    other = (await api.call("GET", "/api/v1/projects/audio/lineage", params={"node": f"commit:{RAW}"})).body
    assert ids(other) == {f"commit:{RAW}"} and other["edges"] == []


async def test_recording_an_input_twice_keeps_one_edge_and_bad_queries_are_refused(api):
    await pipeline(api)
    again = RunInputRecorded(run_id="train", project=PROJECT, dataset_id="ds-clean", dataset="clean",
                             commit_id=DERIVED, site="dgx", volume="nfs1", cache_hit=True, bytes=800,
                             waited_seconds=0.0, context="training")
    await api.send(again, again)
    graph = (await api.call("GET", LINEAGE, params={"node": "run:train", "direction": "up", "depth": 1})).body
    assert len(graph["edges"]) == 1
    for params, words in [({"node": "table:x"}, "expected commit:"), ({"node": "run:train", "depth": 99}, "depth"),
                          ({"node": "run:train", "direction": "sideways"}, "direction"),
                          ({"node": "run:train", "max_nodes": 0}, "max_nodes"),
                          ({"node": "run:train", "max_nodes": 501}, "max_nodes")]:
        reply = await api.call("GET", LINEAGE, params=params)
        assert reply.status == 400 and words in reply.body["detail"], reply.body
