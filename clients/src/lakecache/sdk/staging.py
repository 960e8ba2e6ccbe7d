"""Stage a local directory for a commit: list it, hash each file from one descriptor, upload
what the dataset's content store lacks.

Contents are addressed by sha256: the gateway says which ones the store already has, so only
missing ones are sent, with bounded concurrency, each verified by the store
(``lakecache.sdk.uploads``). Puts are atomic, so an interrupted run leaves whole contents only
and the next run finds them present: resuming needs no state of its own.

Every file is opened once per read, relative to the tree's root, never through a link, and
must still be the file the scan listed (``lakecache.sdk.files``): a file that turned into a
link, FIFO or device is skipped and listed; a file written during the sync stops it, named.

Ctrl-C: ``asyncio.run`` turns SIGINT into a cancellation; the blocking steps run in threads
that check a stop flag before every read, so they end within one read instead of finishing a
large file, and the sync stops promptly.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lakecache.core.manifest import ManifestEntry, UnsafePaths
from lakecache.core.paths import check_paths, normalize
from lakecache.sdk import hashing
from lakecache.sdk.files import NotRegular, TreeRoot
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.hashing import HashCache
from lakecache.sdk.progress import ProgressCallback, Tracker
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.tree import LocalFile, Tree, scan_tree
from lakecache.sdk.uploads import Uploader, missing_contents

# Hash results are saved in batches so an interrupted run keeps most of its work.
_CACHE_BATCH = 500
T = TypeVar("T")


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


async def stoppable(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, stop=event, **kwargs)`` in a thread; a cancellation (Ctrl-C) sets the
    event, so the thread stops at its next check instead of running on unseen."""
    stop = threading.Event()
    try:
        return await asyncio.to_thread(function, *args, stop=stop, **kwargs)
    finally:
        stop.set()


def plan_tree(root: Any, *, stop: threading.Event | None = None) -> Tree:
    """Scan ``root`` and refuse it, with every problem listed, if any path is unsafe.

    Blocking (run it in a thread). Raises ``InvalidArgument`` for a missing directory and
    ``UnsafePaths`` (an ``InvalidArgument``) before anything is hashed or uploaded.
    """
    tree = scan_tree(root, stop=stop)
    problems = check_paths(f.path for f in tree.files)
    if problems:
        raise UnsafePaths(problems, len(problems))
    return tree


def _hash(root: TreeRoot, file: LocalFile, stop: threading.Event) -> str | NotRegular:
    try:
        return hashing.hash_file(root, file, stop=stop)  # looked up at call time so it can be measured
    except NotRegular as exc:
        return exc


async def hash_files(root: TreeRoot, files: list[LocalFile], *, cache: HashCache | None = None,
                     workers: int | None = None, on_progress: ProgressCallback | None = None
                     ) -> tuple[dict[str, str], list[tuple[str, str]], int]:
    """SHA-256 of every file (by local path), from the cache where the scan's size, mtime and
    inode still match, else read from one descriptor in ``workers`` threads.

    Returns the hashes, the files skipped because they are no longer regular files (with the
    reason), and how many files were read. Raises ``FileChanged`` for a file written meanwhile.
    """
    known = await asyncio.to_thread(cache.lookup, files) if cache is not None else {}
    todo = [f for f in files if f.local not in known]
    tracker = Tracker(on_progress, "hash", len(files), sum(f.size for f in files))
    tracker.advance(len(files) - len(todo), sum(f.size for f in files if f.local in known))
    skipped: list[tuple[str, str]] = []
    if not todo:
        return known, skipped, 0
    loop = asyncio.get_running_loop()
    workers = workers or min(8, os.cpu_count() or 2)
    pending: list[tuple[LocalFile, str]] = []
    stop = threading.Event()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="lakecache-hash")
    # Files are submitted in windows so a million-file tree does not create a million futures.
    window = workers * 4
    queue = iter(todo)
    running: dict[asyncio.Future[str | NotRegular], LocalFile] = {}

    def submit() -> None:
        for file in queue:
            running[loop.run_in_executor(pool, _hash, root, file, stop)] = file
            if len(running) >= window:
                return

    try:
        submit()
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                file = running.pop(future)
                result = future.result()
                if isinstance(result, NotRegular):
                    skipped.append((file.path, result.reason))
                else:
                    known[file.local] = result
                    pending.append((file, result))
                tracker.advance(1, file.size)
            if cache is not None and len(pending) >= _CACHE_BATCH:
                await asyncio.to_thread(cache.store, pending)
                pending = []
            submit()
    finally:
        stop.set()  # the threads still reading stop before their next read
        for future in running:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if cache is not None and pending:
            cache.store(pending)
    return known, skipped, len(todo) - len(skipped)


async def stage_tree(gateway: GatewayClient, dataset: DatasetRef, root: TreeRoot, tree: Tree, *,
                     cache: HashCache | None = None, concurrency: int = 16, hash_workers: int | None = None,
                     on_progress: ProgressCallback | None = None) -> Staged:
    """Hash ``tree``'s files (below ``root``), upload the contents the dataset lacks, return the
    commit entries."""
    hashes, skipped, hashed = await hash_files(root, tree.files, cache=cache, workers=hash_workers,
                                               on_progress=on_progress)
    files = [f for f in tree.files if f.local in hashes]
    staged = Staged(skipped=[*tree.skipped, *skipped], files=len(files), bytes=sum(f.size for f in files),
                    hashed=hashed)
    by_content: dict[str, LocalFile] = {}
    for file in files:
        sha = hashes[file.local]
        staged.entries.append(ManifestEntry(path=normalize(file.path), size=file.size, sha256=sha))
        by_content.setdefault(sha, file)
    tickets = await missing_contents(gateway, dataset, {sha: f.size for sha, f in by_content.items()}) \
        if by_content else {}
    staged.present = len(by_content) - len(tickets)
    uploader = Uploader(gateway, dataset, root, concurrency=concurrency)
    staged.uploaded, staged.uploaded_bytes = await uploader.upload(
        {sha: (by_content[sha], ticket) for sha, ticket in tickets.items()}, on_progress=on_progress)
    return staged

