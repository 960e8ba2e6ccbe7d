"""Artifacts: stored in the lake under the run's project with their sha256, listed by
directory, read back; bad paths, other projects and oversized bodies are refused."""

from __future__ import annotations

import hashlib

from yarl import URL

from lakecache.core.contracts.runs import RunStarted
from tests.tracker.conftest import PROJECT

BASE = f"/api/v1/projects/{PROJECT}/runs/r1/artifacts"


async def started(api) -> None:
    experiment = await api.experiment()
    await api.send(RunStarted(run_id="r1", project=PROJECT, experiment="resnet", experiment_id=experiment,
                              user="ada"))


async def test_files_are_stored_listed_and_read_back(api):
    await started(api)
    model, plot = b"weights" * 1000, b"png"
    stored = await api.call("PUT", BASE + "/model/weights.bin", data=model)
    assert stored.status == 201 and stored.body == {"path": "model/weights.bin", "size": len(model),
                                                    "sha256": hashlib.sha256(model).hexdigest()}
    assert (await api.call("PUT", BASE + "/plot.png", data=plot)).status == 201
    top = await api.call("GET", BASE)
    assert top.body["items"] == [{"path": "model", "is_dir": True},
                                 {"path": "plot.png", "is_dir": False, "file_size": 3,
                                  "sha256": hashlib.sha256(plot).hexdigest()}]
    inner = await api.call("GET", BASE, params={"path": "model"})
    assert [e["path"] for e in inner.body["items"]] == ["model/weights.bin"]
    async with api.session.get(api.running.base_url + BASE + "/model/weights.bin") as answer:
        assert answer.status == 200 and await answer.read() == model
    key = f"{PROJECT}/_runs/r1/artifacts/model/weights.bin"
    assert await api.tracker.lake.read(key) == model


async def test_a_file_stored_again_replaces_it(api):
    await started(api)
    await api.call("PUT", BASE + "/notes.txt", data=b"one")
    await api.call("PUT", BASE + "/notes.txt", data=b"two!")
    listed = await api.call("GET", BASE)
    assert [(e["path"], e["file_size"]) for e in listed.body["items"]] == [("notes.txt", 4)]


async def test_bad_paths_other_projects_and_unknown_runs_are_refused(api):
    await started(api)
    for path in ["a/%2E%2E/b", "%2E/a", "a//b", "a%5Cb", "a/%2E%2E/%2E%2E/%2E%2E/etc"]:
        # Sent as written (a client would normalize the dots away before sending).
        url = URL(api.running.base_url + BASE + "/" + path, encoded=True)
        async with api.session.put(url, data=b"x") as answer:
            assert answer.status == 400, (path, answer.status, await answer.text())
    assert (await api.call("PUT", "/api/v1/projects/audio/runs/r1/artifacts/x", data=b"x")).status == 404
    assert (await api.call("PUT", f"/api/v1/projects/{PROJECT}/runs/nope/artifacts/x", data=b"x")).status == 404
    assert (await api.call("GET", BASE + "/missing.bin")).status == 404
    assert (await api.call("GET", BASE)).body["items"] == []
