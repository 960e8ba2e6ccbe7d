"""Import: commit what already lies under a lake prefix, without copying a byte (lakeFS-style).

Each entry keeps its bytes where they are: ``object`` is the full URL of the source key, with
its ``etag`` and ``version_id`` so readers can tell if the object was replaced later. The
sha256 comes from the server's full-object checksum when it keeps one (``head``); otherwise
the object is streamed and hashed here, which costs a full read — say so in the result.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from lakecache.core.layout import RESERVED_PREFIX, join_url
from lakecache.core.manifest import ManifestEntry, UnsafePaths
from lakecache.core.paths import check_paths, normalize
from lakecache.core.ports.objectstore import ObjectInfo
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.progress import ProgressCallback, Tracker
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.sync import NothingToCommit, open_dataset_lake


@dataclass
class ImportPlan:
    """Entries of the objects under a prefix, and how their hashes were obtained."""

    entries: list[ManifestEntry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0
    from_checksum: int = 0
    hashed: int = 0


async def _stream_sha256(store: Any, info: ObjectInfo) -> str:
    digest = hashlib.sha256()
    # Pinned to the listed etag, so the hash belongs to the version the entry names.
    async with store.get(info.key, if_match=info.etag) as reader:
        async for chunk in reader:
            await asyncio.to_thread(digest.update, chunk) if len(chunk) >= 1 << 20 else digest.update(chunk)
    return digest.hexdigest()


async def plan_import(store: Any, *, concurrency: int = 16, on_progress: ProgressCallback | None = None) -> ImportPlan:
    """List every object of ``store`` (opened at the prefix to import) and find its sha256.

    Keys under ``_lakecache/`` and directory markers (keys ending in ``/``) are skipped and
    listed. Raises ``UnsafePaths`` with every problem before any object is read.
    """
    plan = ImportPlan()
    listed = Tracker(on_progress, "list", 0, 0)
    objects: list[ObjectInfo] = []
    async for info in store.iter_objects():
        if info.key.startswith(RESERVED_PREFIX):
            plan.skipped.append((info.key, "LakeCache's own data (_lakecache/)"))
        elif info.key.endswith("/"):
            plan.skipped.append((info.key, "directory marker"))
        else:
            objects.append(info)
            listed.advance(1, info.size)
    problems = check_paths(info.key for info in objects)
    if problems:
        raise UnsafePaths(problems, len(problems))
    plan.bytes = sum(info.size for info in objects)
    tracker = Tracker(on_progress, "hash", len(objects), plan.bytes)
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
            tracker.advance(1, info.size)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(objects))):
            group.create_task(worker())
    return plan


@dataclass
class ImportResult:
    dataset: str
    source: str
    commit: dict[str, Any]
    created: bool
    unchanged: bool
    files: int
    bytes: int
    from_checksum: int
    hashed: int
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["skipped"] = [{"path": path, "reason": reason} for path, reason in self.skipped]
        return data


async def import_prefix(catalog: CatalogClient, dataset: DatasetRef, url: str, *, message: str,
                        allow_empty: bool = False, concurrency: int = 16,
                        on_progress: ProgressCallback | None = None) -> ImportResult:
    """Commit every object under ``url`` (``s3://bucket/prefix`` or ``file:///dir``) to the
    dataset, paths relative to the prefix, bytes left in place.

    Raises ``UnsafePaths`` before anything is committed, ``NothingToCommit`` for an empty
    prefix unless ``allow_empty``, ``CatalogError`` subclasses and the object store's errors.
    """
    await catalog.get_dataset(dataset.project, dataset.name)  # fail early on a wrong name
    async with open_dataset_lake(catalog, url) as store:
        plan = await plan_import(store, concurrency=concurrency, on_progress=on_progress)
    if not plan.entries and not allow_empty:
        raise NothingToCommit(
            f"no objects under {url} to import ({len(plan.skipped)} skipped); nothing was committed. "
            "Check the prefix, or pass --allow-empty to record an empty commit."
        )
    Tracker(on_progress, "commit", len(plan.entries), plan.bytes)
    answer = await catalog.commit(dataset.project, dataset.name, plan.entries, message=message,
                                  allow_empty=allow_empty)
    return ImportResult(
        dataset=f"{dataset.project}/{dataset.name}", source=url, commit=answer.get("commit") or {},
        created=bool(answer.get("created")), unchanged=bool(answer.get("unchanged")),
        files=len(plan.entries), bytes=plan.bytes, from_checksum=plan.from_checksum, hashed=plan.hashed,
        skipped=plan.skipped,
    )
