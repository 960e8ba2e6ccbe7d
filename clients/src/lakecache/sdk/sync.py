"""Sync: make a dataset's next commit from a local directory (like ``cnvrg data sync``).

Order matters for the user: everything that can be refused locally (missing directory,
unsafe names, nothing to commit) is refused before the gateway is contacted, so a refusal
never leaves anything behind; a file written during the sync stops it before the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakecache.core.errors import LakeCacheError
from lakecache.sdk.files import TreeRoot
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.hashing import HashCache
from lakecache.sdk.progress import ProgressCallback, Tracker
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.staging import plan_tree, stage_tree, stoppable


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
    #: Distinct contents the dataset's store already held (an interrupted sync's finished uploads).
    present: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["skipped"] = [{"path": path, "reason": reason} for path, reason in self.skipped]
        return data


def _nothing(root: Path, skipped: int) -> NothingToCommit:
    return NothingToCommit(
        f"{str(root)!r} holds no files to sync ({skipped} skipped); nothing was committed. "
        "Pass --allow-empty (allow_empty=True) to record an empty commit."
    )


async def sync_directory(gateway: GatewayClient, dataset: DatasetRef, root: Path, *, message: str,
                         allow_empty: bool = False, concurrency: int = 16, hash_workers: int | None = None,
                         use_hash_cache: bool = True, on_progress: ProgressCallback | None = None) -> SyncResult:
    """Upload ``root``'s new contents to the dataset's content store through the gateway and
    commit the tree.

    Symlinks and special files are skipped (listed in ``skipped``), never followed, also when a
    file turns into one during the sync. Raises ``UnsafePaths`` (with every problem) before
    uploading anything, ``NothingToCommit`` for a tree without files unless ``allow_empty``,
    ``FileChanged`` (nothing committed) when a file is written during the sync, ``Interrupted``
    or ``CancelledError`` when stopped, and ``GatewayError`` subclasses for refusals. Re-running
    after an interruption uploads only what is still missing.
    """
    tracker = Tracker(on_progress, "scan", 0, 0)
    tree = await stoppable(plan_tree, root)
    tracker.advance(len(tree.files), tree.bytes)
    if not tree.files and not allow_empty:
        raise _nothing(root, len(tree.skipped))
    await gateway.get_dataset(dataset.project, dataset.name)  # a wrong name fails before any file is read
    cache = HashCache(gateway.settings.cache_dir / "hashes.sqlite") if use_hash_cache else None
    try:
        with TreeRoot(root) as handle:
            staged = await stage_tree(gateway, dataset, handle, tree, cache=cache, concurrency=concurrency,
                                      hash_workers=hash_workers, on_progress=on_progress)
    finally:
        if cache is not None:
            cache.close()
    if not staged.entries and not allow_empty:
        raise _nothing(root, len(staged.skipped))
    Tracker(on_progress, "commit", len(staged.entries), staged.bytes)
    answer = await gateway.commit(dataset.project, dataset.name, staged.entries, message=message,
                                  allow_empty=allow_empty)
    return SyncResult(
        dataset=f"{dataset.project}/{dataset.name}", commit=answer.get("commit") or {},
        created=bool(answer.get("created")), unchanged=bool(answer.get("unchanged")),
        files=staged.files, bytes=staged.bytes, hashed=staged.hashed, uploaded=staged.uploaded,
        uploaded_bytes=staged.uploaded_bytes, skipped=staged.skipped, present=staged.present,
    )
