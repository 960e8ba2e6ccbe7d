"""Server-side import: commit what already lies under an import location, without copying a byte.

The catalog lists the source with its own credentials (users need none), so it reads only
inside an import location an administrator registered for the dataset's project. Each entry
keeps its bytes where they are: ``object`` is the full URL of the source key, with its
``etag`` and ``version_id`` so readers can tell if the object was replaced later. The sha256
comes from the server's full-object checksum when it keeps one (``head``); otherwise the object
is streamed and hashed here (bounded concurrency), which costs a full read — the result says
how many. The entries are then committed through the same code path as an uploaded commit
(``ingest.create_commit``), with the same path, object and head checks.

The request stays open while objects are listed and hashed: a large import answers only when
it is committed, and the gateway's upstream timeout bounds how long it may stay silent. The
entries are held in memory until the commit (about 300 bytes each).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from lakecache.catalog import imports, ingest, locations
from lakecache.catalog.domain import Unchanged
from lakecache.catalog.storage import Catalog
from lakecache.core.errors import InvalidArgument, PermissionDenied
from lakecache.core.layout import RESERVED_PREFIX, join_url
from lakecache.core.manifest import ManifestEntry, UnsafePaths
from lakecache.core.paths import check_paths, normalize
from lakecache.core.ports.objectstore import ObjectInfo, ObjectStore

CONCURRENCY = 8
#: Skipped keys listed in the answer at most (the rest are counted only in the log).
MAX_SKIPPED_LISTED = 1000


class SourceOutside(PermissionDenied):
    """An import source lies outside the project's import locations."""


@dataclass
class ImportPlan:
    """Entries of the objects under a prefix, and how their hashes were obtained."""

    entries: list[ManifestEntry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0
    from_checksum: int = 0
    hashed: int = 0


async def _stream_sha256(store: ObjectStore, info: ObjectInfo) -> str:
    digest = hashlib.sha256()
    # Pinned to the listed etag, so the hash belongs to the version the entry names.
    async with store.get(info.key, if_match=info.etag) as reader:
        async for chunk in reader:
            await asyncio.to_thread(digest.update, chunk) if len(chunk) >= 1 << 20 else digest.update(chunk)
    return digest.hexdigest()


async def plan_import(store: ObjectStore, *, concurrency: int = CONCURRENCY) -> ImportPlan:
    """List every object of ``store`` (opened at the prefix to import) and find its sha256.

    Keys under ``_lakecache/`` and directory markers (keys ending in ``/``) are skipped and
    listed. Raises ``UnsafePaths`` with every problem before any object is read.
    """
    plan = ImportPlan()
    objects: list[ObjectInfo] = []
    async for info in store.iter_objects():
        if info.key.startswith(RESERVED_PREFIX):
            plan.skipped.append((info.key, "LakeCache's own data (_lakecache/)"))
        elif info.key.endswith("/"):
            plan.skipped.append((info.key, "directory marker"))
        else:
            objects.append(info)
    problems = check_paths(info.key for info in objects)
    if problems:
        raise UnsafePaths(problems, len(problems))
    plan.bytes = sum(info.size for info in objects)
    work = iter(objects)
    base = store.url

    async def worker() -> None:
        for info in work:
            sha = info.sha256
            if sha is None:
                # Listings rarely carry checksums; HEAD asks for the full-object one.
                info = await store.head(info.key, if_match=info.etag)
                sha = info.sha256
            if sha is None:
                sha = await _stream_sha256(store, info)
                plan.hashed += 1
            else:
                plan.from_checksum += 1
            plan.entries.append(ManifestEntry(
                path=normalize(info.key), size=info.size, sha256=sha, etag=info.etag,
                version_id=info.version_id, object=join_url(base, info.key)))

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(objects))):
            group.create_task(worker())
    return plan


def _request(body: dict[str, Any]) -> tuple[str, str, bool]:
    source, message, allow_empty = body.get("source"), body.get("message", ""), body.get("allow_empty", False)
    if not isinstance(source, str) or "://" not in source:
        raise InvalidArgument(f'send {{"source": "s3://bucket/prefix", "message": "…"}}, got source={source!r}')
    if not isinstance(message, str):
        raise InvalidArgument(f"message must be a string, got {message!r}")
    if not isinstance(allow_empty, bool):
        raise InvalidArgument(f"allow_empty must be true or false, got {allow_empty!r}")
    return source.rstrip("/"), message, allow_empty


async def _check_source(catalog: Catalog, project: str, source: str) -> None:
    registered = await imports.location_urls(catalog, project)
    if not locations.within_any(source, registered):
        where = ", ".join(registered) if registered else "none are registered; ask an installation administrator"
        raise SourceOutside(f"{source} is not inside an import location of project {project} ({where}); "
                            "the catalog imports only from those")
    await locations.check_readable(source)


async def _ndjson(header: dict[str, Any], entries: list[ManifestEntry]) -> AsyncIterator[bytes]:
    yield json.dumps(header).encode() + b"\n"
    for start in range(0, len(entries), 1000):
        yield b"".join(entry.line() for entry in entries[start:start + 1000])


async def import_source(catalog: Catalog, dataset: dict[str, Any], body: dict[str, Any],
                        author: str) -> tuple[dict[str, Any], bool]:
    """Commit every object under the body's ``source`` to ``dataset``; returns (result, created).

    ``result`` has ``commit`` (the document), ``created``, ``unchanged``, ``files``, ``bytes``,
    ``from_checksum``, ``hashed`` and ``skipped``. Raises ``SourceOutside``, ``UnsafePaths``,
    ``EmptyCommit`` and what a commit raises.
    """
    source, message, allow_empty = _request(body)
    await _check_source(catalog, dataset["project"], source)
    async with catalog.open_store(source) as store:
        plan = await plan_import(store)
    if not plan.entries and not allow_empty:
        raise ingest.EmptyCommit(
            f"no objects under {source} to import ({len(plan.skipped)} skipped); nothing was committed. "
            "Check the source, or pass allow_empty: true to record an empty commit.")
    header = {"message": message, "parents": None, "allow_empty": allow_empty}
    try:
        commit = await ingest.create_commit(catalog, dataset, _ndjson(header, plan.entries), author)
        created = True
    except Unchanged as same:
        commit, created = same.head, False
    skipped = [{"path": path, "reason": reason} for path, reason in plan.skipped[:MAX_SKIPPED_LISTED]]
    return {"commit": commit, "created": created, "unchanged": not created, "files": len(plan.entries),
            "bytes": plan.bytes, "from_checksum": plan.from_checksum, "hashed": plan.hashed,
            "skipped": skipped}, created
