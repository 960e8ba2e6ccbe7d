"""``examples/chest-xray-mini`` end to end, as its README runs it: ``run.sh`` against ``lakecache up``
(the embedded default) generates the images, syncs them, caches the commit at a site, trains on the
cached copy as a tracked run and prints the lineage; then the outcome is read back through the CLI."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lakecache
from tests.e2e.test_lakecache_up import LAKECACHE, free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chest-xray-mini"
TARGET = "radiology/chest-xray-mini@v1"


@pytest.fixture
def up(tmp_path):
    """`lakecache up` in its own process: the gateway's URL and the administrator token."""
    port, home = free_port(), tmp_path / "home"
    env = {**os.environ, "LAKECACHE_HOME": str(home)}
    for service in ("catalog", "cacher", "evictor", "tracker"):
        env[f"LAKECACHE_{service.upper()}__PORT"] = "0"  # no clash with a LakeCache already running
    process = subprocess.Popen([str(LAKECACHE), "up", "--port", str(port), "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path)
    try:
        announced = json.loads(process.stdout.readline() or "{}")
        assert announced.get("status") == "up", "lakecache up did not start"
        yield announced["services"]["gateway"], (home / "admin-token").read_text().strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def cli_json(env: dict[str, str], *args: str):
    done = subprocess.run([str(LAKECACHE), *args, "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (args, done.stderr)
    return json.loads(done.stdout)


def test_the_example_trains_on_the_cached_commit_and_the_lineage_shows_it(up, tmp_path):
    gateway, token = up
    env = {**os.environ, "LAKECACHE_API_URL": gateway, "LAKECACHE_TOKEN": token, "WORK": str(tmp_path / "work"),
           "PYTHON": sys.executable, "PATH": f"{LAKECACHE.parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for name in ("LAKECACHE_HOME", "LAKECACHE_PROJECT", "LAKECACHE_CONFIG"):
        env.pop(name, None)

    started = time.monotonic()
    done = subprocess.run(["bash", str(EXAMPLE / "run.sh")], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=240)
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-4000:]
    print(f"examples/chest-xray-mini/run.sh took {seconds:.1f} s")  # shown with -s or -rA; measured, not asserted

    # The commit is cached, ready, with every generated image in its view.
    status = cli_json(env, "cache", "status", TARGET, "--site", "local")
    [volume] = status["volumes"]
    assert (status["state"], volume["state"], volume["files_done"]) == ("ready", "ready", 2400)
    view = Path(volume["path"])
    assert view.is_relative_to(tmp_path / "work" / "volume")
    assert len(lakecache.files(view, "train/*/*.png")) == 1920 and len(lakecache.files(view, "val/*/*.png")) == 480

    # The run: finished, read that commit (a cache hit: run.sh cached it first), beat chance on val/.
    result = json.loads((tmp_path / "work" / "result.json").read_text())
    run = cli_json(env, "runs", "show", result["run_id"], "--project", "radiology")
    assert run["status"] == "finished"
    [read] = run["inputs"]
    assert (read["dataset"], read["commit_id"], read["site"], read["cache_hit"]) == \
           ("chest-xray-mini", status["commit_id"], "local", True)
    assert run["params"]["classes"] == "normal,pneumonia"
    # Balanced classes: chance is 0.5; the opacity is there to be found.
    assert run["metrics"]["val_acc"]["value"] > 0.75
    history = cli_json(env, "runs", "metrics", result["run_id"], "loss", "--project", "radiology")["points"]
    assert len(history) == 60 and history[-1]["value"] < history[0]["value"]

    # The lineage links the commit to the run that read it, as run.sh printed it.
    lineage = cli_json(env, "lineage", TARGET, "--depth", "2")
    assert lineage["root"] == f"commit:{status['commit_id']}"
    assert {"source": f"commit:{status['commit_id']}", "target": f"run:{result['run_id']}", "kind": "input"} in \
           [{k: e[k] for k in ("source", "target", "kind")} for e in lineage["edges"]]
    assert f"run {result['run_id'][:8]} finished" in done.stdout


@pytest.fixture
def example(monkeypatch):
    """The example's modules, imported as its scripts import them (from their directory)."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import generate
    import tinypng

    return generate, tinypng


def filtered_png(tinypng, width: int, height: int, pixels: bytes, kinds: list[int]) -> bytes:
    """A PNG whose row ``y`` uses filter ``kinds[y % len(kinds)]``: the five filters of the PNG
    specification applied forward, to read back every one (Pillow writes only some)."""
    rows, above = b"", bytes(width)
    for y in range(height):
        row, kind = pixels[y * width:(y + 1) * width], kinds[y % len(kinds)]
        out = bytearray([kind])
        for x in range(width):
            left, up, corner = (row[x - 1] if x else 0), above[x], (above[x - 1] if x else 0)
            guess = left + up - corner
            paeth = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))[2]
            predictor = (0, left, up, (left + up) // 2, paeth)[kind]
            out.append((row[x] - predictor) & 0xFF)
        rows, above = rows + bytes(out), row
    header = tinypng.struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (tinypng.SIGNATURE + tinypng._chunk(b"IHDR", header)
            + tinypng._chunk(b"IDAT", tinypng.zlib.compress(rows)) + tinypng._chunk(b"IEND", b""))


def test_the_png_fallback_reads_every_row_filter_and_what_pillow_writes(example, tmp_path):
    from PIL import Image

    generate, tinypng = example
    pixels = generate.image(generate.body(16), 16, True, random.Random(3))
    assert tinypng.decode_gray(tinypng.encode_gray(16, 16, pixels)) == (16, 16, pixels)
    assert tinypng.decode_gray(filtered_png(tinypng, 16, 16, pixels, [0, 1, 2, 3, 4])) == (16, 16, pixels)
    Image.frombytes("L", (16, 16), pixels).save(tmp_path / "pillow.png")
    assert tinypng.decode_gray((tmp_path / "pillow.png").read_bytes()) == (16, 16, pixels)
    tinypng.write_gray(tmp_path / "tiny.png", 16, 16, pixels)
    with Image.open(tmp_path / "tiny.png") as image:  # and Pillow reads the fallback's files
        assert (image.mode, image.tobytes()) == ("L", pixels)


def test_the_images_depend_on_the_seed_alone_whichever_encoder_writes_them(example, tmp_path, monkeypatch):
    generate, tinypng = example

    def pixels(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): tinypng.decode_gray(p.read_bytes())[2] for p in lakecache.files(root)}

    counts = generate.generate(tmp_path / "pillow", 20, 16, seed=7)
    assert counts == {"train/normal": 8, "train/pneumonia": 8, "val/normal": 2, "val/pneumonia": 2}
    monkeypatch.setattr(generate, "writer", lambda: tinypng.write_gray)  # as without Pillow
    generate.generate(tmp_path / "tiny", 20, 16, seed=7)
    generate.generate(tmp_path / "other-seed", 20, 16, seed=8)
    assert pixels(tmp_path / "pillow") == pixels(tmp_path / "tiny") != pixels(tmp_path / "other-seed")
