"""The README's "Using it" story, run as written: every `bash` block of that section in order, in
one directory where `lakecache up` runs, with `.venv/bin` on the PATH and nothing else set but
where the gateway listens; a `python` block whose first line is `# NAME.py` is saved as NAME.py
first. Then what the story promises is checked through the gateway: the copy is ready, the runs
logged and read it, and the commit's lineage reaches them."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_lakecache_up import LAKECACHE, free_port
from tests.support.stack import gateway_call

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def story_blocks() -> list[tuple[str, str]]:
    """The fenced blocks of the README's "Using it" section: (language, text)."""
    text = README.read_text()
    start = text.index("\n## Using it\n")
    end = text.find("\n## ", start + 1)
    return BLOCK.findall(text[start:end if end > 0 else None])


def test_every_block_of_the_story_is_one_this_test_runs():
    blocks = story_blocks()
    assert [lang for lang, _ in blocks if lang not in ("bash", "python")] == []
    assert all(body.startswith("# ") and body.split("\n", 1)[0].endswith(".py")
               for lang, body in blocks if lang == "python")
    assert sum(lang == "bash" for lang, _ in blocks) >= 5


def test_the_readme_story_runs_as_written(tmp_path, up):
    gateway, work = up
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LAKECACHE_", "MLFLOW_"))}
    env.update(PATH=f"{LAKECACHE.parent}{os.pathsep}{env.get('PATH', '')}", LAKECACHE_API_URL=gateway,
               HOME=str(tmp_path / "ada-home"), XDG_CONFIG_HOME=str(tmp_path / "ada-home" / ".config"),
               XDG_CACHE_HOME=str(tmp_path / "ada-home" / ".cache"))
    outputs = []
    for lang, body in story_blocks():
        if lang == "python":
            (work / body.split("\n", 1)[0][2:].strip()).write_text(body)
            continue
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{body}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        assert "Traceback" not in done.stdout + done.stderr, body
        outputs.append(done.stdout + done.stderr)

    # ada logged in: her token is in her config file, readable by her only.
    [config] = (tmp_path / "ada-home" / ".config" / "lakecache").iterdir()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    admin = (work / ".lakecache" / "admin-token").read_text().strip()

    def api(path: str, method: str = "GET", body=None):
        return gateway_call(gateway, admin, method, "/api/v1" + path, body)

    [commit] = api("/datasets/vision/xray/commits")["items"]
    [copy] = [c for c in api("/projects/vision/copies")["items"] if c["commit_id"] == commit["id"]]
    assert copy["state"] == "ready"
    # Both jobs read that copy: the one with use() and the one `lakecache job run` ran.
    [experiment] = api("/projects/vision/experiments")["items"]
    runs = api("/projects/vision/runs/search", "POST", {"experiment_ids": [experiment["id"]]})["items"]
    assert len(runs) == 2 and {r["status"] for r in runs} == {"finished"}
    for run in runs:
        shown = api(f"/projects/vision/runs/{run['id']}")
        assert [i["commit_id"] for i in shown["inputs"]] == [commit["id"]]
        assert "loss" in shown["metrics"]
    lineage = api(f"/projects/vision/lineage?node=commit:{commit['id']}&direction=down")
    assert {r["id"] for r in runs} <= {node["run_id"] for node in lineage["nodes"] if node["kind"] == "run"}
    # What `site why` printed names the reads.
    assert any("last read" in out for out in outputs)


@pytest.fixture
def up(tmp_path):
    """`lakecache up` in its own process, in the directory the story's commands run in (its
    home is that directory's `.lakecache`, as for `./scripts/up`); the gateway's URL and the
    directory."""
    work, port = tmp_path / "work", free_port()
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    env = {key: value for key, value in os.environ.items() if not key.startswith("LAKECACHE_")}
    for service in ("catalog", "cacher", "evictor", "tracker"):
        env[f"LAKECACHE_{service.upper()}__PORT"] = "0"
    process = subprocess.Popen([str(LAKECACHE), "up", "--port", str(port), "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=work)
    try:
        announced = json.loads(process.stdout.readline() or "{}")
        assert announced.get("status") == "up", process.stderr.read()
        yield announced["services"]["gateway"], work
    finally:
        process.terminate()
        process.wait(timeout=30)
