"""Small helpers shared by the client tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from lakecache.cli.main import app
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.layout import RESERVED_PREFIX

CONTENT_PREFIX = f"{RESERVED_PREFIX}objects/sha256/"


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def content_keys(lake_url: str, options: dict | None = None) -> set[str]:
    """The sha256 of every content stored under a dataset's lake location (read straight from
    the lake: what the services stored, not what they say)."""
    async with object_store_from_url(lake_url, **(options or {})) as store:
        return {info.key.rsplit("/", 1)[-1] async for info in store.iter_objects(CONTENT_PREFIX)}


def cli(*args: str):
    """``lakecache ARGS`` in this process (Typer's runner), against whatever the environment names."""
    return CliRunner().invoke(app, list(args))


def cli_json(*args: str):
    """``lakecache ARGS --json``, which must succeed; its decoded output."""
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
