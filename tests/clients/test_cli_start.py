"""``lakecache`` starts fast: a command loads only what it runs (``LazyGroup``)."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from lakecache.cli.main import app

HEAVY = ("lakecache.core.runtime", "lakecache.sdk", "aiohttp", "pydantic_settings", "lakecache.cli.data",
         "lakecache.cli.site", "lakecache.cli.cache", "lakecache.cli.runs")


def loaded_after(*args: str) -> set[str]:
    """The heavy modules a fresh interpreter has loaded after running ``lakecache *args``."""
    code = ("import sys; from lakecache.cli.main import app\n"
            f"try:\n    app({list(args)!r})\nexcept SystemExit:\n    pass\n"
            f"print(__import__('json').dumps(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_version_loads_no_client_no_runtime_and_no_command_group():
    assert loaded_after("version") == set()
    assert loaded_after("services", "--help") == set()  # (the top-level --help lists every group's commands)


def test_a_group_is_loaded_when_used_and_only_it():
    loaded = loaded_after("site", "--help")
    assert "lakecache.cli.site" in loaded and "lakecache.cli.data" not in loaded
    assert "lakecache.core.runtime" not in loaded


def test_the_help_lists_every_group_with_its_line():
    text = CliRunner().invoke(app, ["--help"]).stdout
    for name in ("data", "site", "cache", "import-location", "runs", "lineage", "up", "run", "version"):
        assert name in text, name
    assert "Tracked runs" in text
