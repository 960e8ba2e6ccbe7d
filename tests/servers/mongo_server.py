"""FerretDB v1.24.2 on SQLite (MongoDB wire protocol), built from the Go module in ferretdb/."""

from __future__ import annotations

import os
from pathlib import Path

from .proc import HERE, ManagedServer, ServerError, cache_dir, fingerprint, free_port, run_build, stamp_matches

VERSION = "v1.24.2"
SOURCE = HERE / "ferretdb"
SOURCE_FILES = [SOURCE / "go.mod", SOURCE / "go.sum", SOURCE / "main.go"]


def binary() -> Path:
    """The server binary; LAKECACHE_FERRETDB overrides it (e.g. a locally built one)."""
    override = os.environ.get("LAKECACHE_FERRETDB")
    return Path(override) if override else cache_dir() / "bin" / "ferretdb-lakecache"


def prepare() -> str:
    if os.environ.get("LAKECACHE_FERRETDB"):
        if not binary().is_file():
            raise ServerError(f"mongo: LAKECACHE_FERRETDB points to {binary()}, "
                              "which does not exist")
        return f"mongo: using {binary()} (LAKECACHE_FERRETDB)"
    stamp = cache_dir() / "bin" / ".ferretdb-lakecache.stamp"
    expected = fingerprint(VERSION, *SOURCE_FILES)
    if stamp_matches(stamp, expected, binary()):
        return f"mongo: ferretdb {VERSION} cached at {binary()}"
    binary().parent.mkdir(parents=True, exist_ok=True)
    # -mod=readonly: the committed go.sum is the pin; a build never rewrites it.
    env = {**os.environ, "CGO_ENABLED": "0"}
    run_build(["go", "build", "-mod=readonly", "-trimpath", "-o", str(binary()), "."],
              what="mongo: building ferretdb-lakecache", cwd=SOURCE, env=env)
    stamp.write_text(expected + "\n")
    return f"mongo: built ferretdb {VERSION} into {binary()}"


class MongoServer(ManagedServer):
    name = "ferretdb"
    ready_timeout = 30.0

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.port = free_port()
        self.url = f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
        self.data = run_dir / "data"

    def command(self) -> tuple[list[str], dict[str, str]]:
        return ([str(binary()), "-listen", f"127.0.0.1:{self.port}", "-data", str(self.data)],
                {})

    def ready(self) -> bool:
        from pymongo import MongoClient

        with MongoClient(self.url, serverSelectionTimeoutMS=2000,
                         connectTimeoutMS=2000) as client:
            return client.admin.command("ping").get("ok") == 1.0
