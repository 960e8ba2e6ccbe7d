"""Put a local directory's contents in a dataset's lake location, each content once.

Content is stored at ``content_key(sha256)``, so what the lake already has is known from one
listing of ``_lakecache/objects/sha256/`` (a page per 1000 objects, not a HEAD per file).
Only missing contents are uploaded, with bounded concurrency; the store verifies each
upload's sha256. Puts are atomic, so an interrupted run leaves whole objects only, and the
next run lists them as present and uploads the rest: resuming needs no state of its own.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakecache.core.errors import Conflict, InvalidArgument, PreconditionFailed
from lakecache.core.layout import RESERVED_PREFIX, content_key
from lakecache.core.manifest import ManifestEntry, UnsafePaths
from lakecache.core.paths import check_paths, normalize
from lakecache.sdk import hashing
from lakecache.sdk.hashing import HashCache
from lakecache.sdk.progress import ProgressCallback, Tracker
from lakecache.sdk.tree import LocalFile, Tree, scan_tree

CONTENT_PREFIX = f"{RESERVED_PREFIX}objects/sha256/"
# Hash results are saved in batches so an interrupted run keeps most of its work.
_CACHE_BATCH = 500


@dataclass
class Staged:
    """What staging found and did. ``entries`` are ready to commit, in no particular order."""

    entries: list[ManifestEntry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    hashed: int = 0
    present: int = 0
    uploaded: int = 0
    uploaded_bytes: int = 0


def plan_tree(root: Path) -> Tree:
    """Scan ``root`` and refuse it, with every problem listed, if any path is unsafe.

    Blocking (run it in a thread). Raises ``InvalidArgument`` for a missing directory and
    ``UnsafePaths`` (an ``InvalidArgument``) before anything is hashed or uploaded.
    """
    tree = scan_tree(root)
    problems = check_paths(f.path for f in tree.files)
    if problems:
        raise UnsafePaths(problems, len(problems))
    return tree


async def hash_files(files: list[LocalFile], *, cache: HashCache | None = None, workers: int | None = None,
                     on_progress: ProgressCallback | None = None) -> tuple[dict[str, str], int]:
    """SHA-256 of every file by local path, from the cache where valid, else hashed in
    ``workers`` threads. Returns the hashes and how many files were actually read."""
    known = await asyncio.to_thread(cache.lookup, files) if cache is not None else {}
    todo = [f for f in files if f.local not in known]
    tracker = Tracker(on_progress, "hash", len(files), sum(f.size for f in files))
    tracker.advance(len(files) - len(todo), sum(f.size for f in files if f.local in known))
    if not todo:
        return known, 0
    loop = asyncio.get_running_loop()
    workers = workers or min(8, os.cpu_count() or 2)
    pending: list[tuple[LocalFile, str]] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="lakecache-hash") as pool:
        # Files are submitted in windows so a million-file tree does not create a million futures.
        window = workers * 4
        queue = iter(todo)
        running: dict[asyncio.Future[str], LocalFile] = {}

        def submit() -> None:
            for file in queue:
                running[loop.run_in_executor(pool, _hash, file)] = file
                if len(running) >= window:
                    return

        submit()
        try:
            while running:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    file = running.pop(future)
                    known[file.local] = future.result()
                    pending.append((file, known[file.local]))
                    tracker.advance(1, file.size)
                if cache is not None and len(pending) >= _CACHE_BATCH:
                    await asyncio.to_thread(cache.store, pending)
                    pending = []
                submit()
        finally:
            for future in running:
                future.cancel()
            if cache is not None and pending:
                await asyncio.to_thread(cache.store, pending)
    return known, len(todo)


def _hash(file: LocalFile) -> str:
    try:
        return hashing.hash_file(file.local)  # looked up at call time so it can be measured
    except OSError as exc:
        raise InvalidArgument(f"cannot read {file.local!r}: {exc.strerror}; fix or exclude it and run again") from exc


async def present_contents(store: Any) -> dict[str, int]:
    """Size of every content already in the lake, by sha256 (one paginated listing)."""
    found: dict[str, int] = {}
    async for info in store.iter_objects(CONTENT_PREFIX):
        found[info.key.rsplit("/", 1)[-1]] = info.size
    return found


async def upload_missing(store: Any, contents: dict[str, LocalFile], *, concurrency: int = 16,
                         replace: frozenset[str] = frozenset(),
                         on_progress: ProgressCallback | None = None) -> tuple[int, int]:
    """Upload each ``sha256 → file`` to ``content_key(sha256)``, ``concurrency`` at a time.

    Returns ``(files, bytes)`` uploaded. The first failure stops the others (finished uploads
    stay, so a re-run resumes). A file changed since it was hashed fails the store's sha256
    check and raises ``InvalidArgument`` naming the file. Contents in ``replace`` (present
    with a wrong size: damaged) are overwritten; others are written only if still absent.
    """
    if concurrency < 1:
        raise InvalidArgument(f"concurrency must be at least 1, got {concurrency}")
    work = iter(sorted(contents.items()))
    tracker = Tracker(on_progress, "upload", len(contents), sum(f.size for f in contents.values()))

    async def worker() -> None:
        for sha, file in work:
            try:
                await store.put(content_key(sha), Path(file.local), sha256=sha,
                                if_none_match=sha not in replace)
            except (PreconditionFailed, Conflict):
                pass  # another sync stored the same content meanwhile: it is there, as wanted
            except InvalidArgument as exc:
                raise InvalidArgument(
                    f"uploading {file.path!r} failed: {exc}. If the file changed during the sync, run it again."
                ) from exc
            tracker.advance(1, file.size)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(contents))):
            group.create_task(worker())
    return tracker.state.files_done, tracker.state.bytes_done


async def stage_tree(store: Any, tree: Tree, *, cache: HashCache | None = None, concurrency: int = 16,
                     hash_workers: int | None = None, on_progress: ProgressCallback | None = None) -> Staged:
    """Hash ``tree``'s files, upload the contents ``store`` lacks, return the commit entries."""
    staged = Staged(skipped=list(tree.skipped), files=len(tree.files), bytes=tree.bytes)
    hashes, staged.hashed = await hash_files(tree.files, cache=cache, workers=hash_workers, on_progress=on_progress)
    present = await present_contents(store) if tree.files else {}
    missing: dict[str, LocalFile] = {}
    for file in tree.files:
        sha = hashes[file.local]
        staged.entries.append(ManifestEntry(path=normalize(file.path), size=file.size, sha256=sha))
        if present.get(sha) != file.size:
            missing.setdefault(sha, file)
    damaged = frozenset(sha for sha in missing if sha in present)
    staged.present = len({hashes[f.local] for f in tree.files}) - len(missing)
    staged.uploaded, staged.uploaded_bytes = await upload_missing(
        store, missing, concurrency=concurrency, replace=damaged, on_progress=on_progress)
    return staged


async def stage_directory(store: Any, root: Path, **options: Any) -> Staged:
    """``plan_tree`` then ``stage_tree``: refuse unsafe trees, then hash and upload."""
    tree = await asyncio.to_thread(plan_tree, root)
    return await stage_tree(store, tree, **options)
