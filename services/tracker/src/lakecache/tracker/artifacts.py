"""Run artifacts: files stored in the lake under the run's project,
``<project>/_runs/<run id>/artifacts/<path>`` (no dataset can be named ``_runs``), recorded
with their size and sha256.

A body is spooled to a private temporary file and hashed on the way, then stored with that
sha256 checked by the store, so a half-received file is never published. Paths are relative,
``/``-separated, without ``.``/``..`` segments or control characters, at most 400 characters.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any

from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.ports.objectstore import ObjectReader
from lakecache.tracker.storage import Tracker


class ArtifactTooLarge(InvalidArgument):
    """The body is larger than ``tracker.artifact_max_bytes``."""


def check_path(path: str) -> str:
    parts = path.split("/")
    if (not path or len(path) > 400 or any(p in ("", ".", "..") for p in parts)
            or any(ord(c) < 32 or c == "\x7f" or c == "\\" for c in path)):
        raise InvalidArgument(f"artifact path {path!r}: a relative path of names separated by '/', without "
                              "'.', '..', empty names, backslashes or control characters, at most 400 characters")
    return path


def lake_key(project: str, run_id: str, path: str) -> str:
    return f"{project}/_runs/{run_id}/artifacts/{path}"


async def store(tracker: Tracker, workdir: Path, project: str, run: dict[str, Any], path: str,
                length: int | None, chunks: AsyncIterable[bytes]) -> dict[str, Any]:
    check_path(path)
    limit = tracker.section.artifact_max_bytes
    if length is not None and length > limit:
        raise ArtifactTooLarge(f"the artifact has {length} bytes; the tracker stores at most {limit} per file "
                               "(tracker.artifact_max_bytes)")
    fd, name = await asyncio.to_thread(tempfile.mkstemp, prefix="artifact-", dir=workdir)  # 0600, O_EXCL
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ArtifactTooLarge(f"the artifact is larger than {limit} bytes (tracker.artifact_max_bytes)")
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
        if length is not None and size != length:
            raise InvalidArgument(f"the body ended after {size} of {length} bytes; nothing was stored")
        sha256 = digest.hexdigest()
        await tracker.lake.put(lake_key(project, run["_id"], path), Path(name), sha256=sha256)
    finally:
        await asyncio.to_thread(Path(name).unlink, missing_ok=True)
    return await tracker.artifacts.record(project, run["_id"], path, size, sha256)


async def open_file(tracker: Tracker, project: str, run_id: str, path: str) -> tuple[dict[str, Any], ObjectReader]:
    check_path(path)
    doc = await tracker.artifacts.get(project, run_id, path)
    if doc is None:
        raise NotFound(f"run {run_id} has no artifact {path!r}")
    return doc, tracker.lake.get(lake_key(project, run_id, path))


async def listing(tracker: Tracker, project: str, run_id: str, directory: str | None) -> list[dict[str, Any]]:
    """The files and directories directly under ``directory`` (None: the top), as MLflow lists
    them: ``{path, is_dir, file_size}``."""
    prefix = "" if not directory else check_path(directory.strip("/")) + "/"
    entries: dict[str, dict[str, Any]] = {}
    for doc in await tracker.artifacts.of_run(project, run_id):
        if not doc["path"].startswith(prefix):
            continue
        head, slash, _ = doc["path"][len(prefix):].partition("/")
        if slash:
            entries.setdefault(prefix + head, {"path": prefix + head, "is_dir": True})
        else:
            entries[doc["path"]] = {"path": doc["path"], "is_dir": False, "file_size": doc["size"],
                                    "sha256": doc["sha256"]}
    return [entries[k] for k in sorted(entries)]
