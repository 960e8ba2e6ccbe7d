"""Sync: make a dataset's next commit from a local directory (like ``cnvrg data sync``).

Order matters for the user: everything that can be refused locally (missing directory,
unsafe names, nothing to commit) is refused before the catalog or the lake is contacted,
so a refusal never leaves anything behind.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.errors import LakeCacheError
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.hashing import HashCache
from lakecache.sdk.progress import ProgressCallback, Tracker
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.staging import plan_tree, stage_tree


class NothingToCommit(LakeCacheError):
    """The directory holds no regular files and no empty commit was asked for."""


@dataclass
class SyncResult:
    """What a sync did. ``created`` is False (and ``unchanged`` True) when the tree equals the head."""

    dataset: str
    commit: dict[str, Any]
    created: bool
    unchanged: bool
    files: int
    bytes: int
    hashed: int
    uploaded: int
    uploaded_bytes: int
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["skipped"] = [{"path": path, "reason": reason} for path, reason in self.skipped]
        return data


def open_dataset_lake(catalog: CatalogClient, lake_url: str) -> Any:
    """An unopened object store for a dataset's ``lake_url`` with the client's S3 options.

    A ``file://`` URL inside the catalog's local lake opens that lake's store under the
    dataset's prefix, as an ``s3://bucket/prefix`` URL does (see ``LocalObjectStore.from_url``).
    """
    return object_store_from_url(lake_url, **catalog.settings.lake_options(lake_url))


async def sync_directory(catalog: CatalogClient, dataset: DatasetRef, root: Path, *, message: str,
                         allow_empty: bool = False, concurrency: int = 16, hash_workers: int | None = None,
                         use_hash_cache: bool = True, on_progress: ProgressCallback | None = None) -> SyncResult:
    """Upload ``root``'s new contents to the dataset's lake location and commit the tree.

    Symlinks and special files are skipped (listed in ``skipped``), never followed. Raises
    ``UnsafePaths`` (with every problem) before uploading anything, ``NothingToCommit`` for a
    tree without files unless ``allow_empty``, ``CatalogError`` subclasses from the catalog and
    the object store's errors from the lake. Re-running after an interruption uploads only
    what is still missing.
    """
    tracker = Tracker(on_progress, "scan", 0, 0)
    tree = await asyncio.to_thread(plan_tree, root)
    tracker.advance(len(tree.files), tree.bytes)
    if not tree.files and not allow_empty:
        raise NothingToCommit(
            f"{str(root)!r} holds no files to sync ({len(tree.skipped)} skipped); nothing was uploaded or "
            "committed. Pass --allow-empty (allow_empty=True) to record an empty commit."
        )
    info = await catalog.get_dataset(dataset.project, dataset.name)
    cache = HashCache(catalog.settings.cache_dir / "hashes.sqlite") if use_hash_cache else None
    try:
        async with open_dataset_lake(catalog, info["lake_url"]) as store:
            staged = await stage_tree(store, tree, cache=cache, concurrency=concurrency,
                                      hash_workers=hash_workers, on_progress=on_progress)
    finally:
        if cache is not None:
            cache.close()
    Tracker(on_progress, "commit", len(staged.entries), staged.bytes)
    answer = await catalog.commit(dataset.project, dataset.name, staged.entries, message=message,
                                  allow_empty=allow_empty)
    return SyncResult(
        dataset=f"{dataset.project}/{dataset.name}", commit=answer.get("commit") or {},
        created=bool(answer.get("created")), unchanged=bool(answer.get("unchanged")),
        files=staged.files, bytes=staged.bytes, hashed=staged.hashed, uploaded=staged.uploaded,
        uploaded_bytes=staged.uploaded_bytes, skipped=staged.skipped,
    )
