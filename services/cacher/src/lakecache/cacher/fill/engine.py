"""``fill_commit``: make one commit ready on a volume — plan, fetch what the pool lacks,
build and publish the view.

Idempotent and resumable: a commit whose ready marker exists returns at once; a fill that
crashed or was cancelled left only verified pool objects (reused by the next run) and temp
or staging names (discarded by the next fill that finds itself alone on the volume).
Fills hold the volume lock shared for their whole run; see ``volume.evict`` for why.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import itertools
import os
import secrets
import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from pathlib import Path

from lakecache.cacher.fill.errors import FillError
from lakecache.cacher.fill.fetcher import NO_SPACE, Fetcher, FetchOptions
from lakecache.cacher.fill.markers import read_marker
from lakecache.cacher.fill.planner import FillPlan, ObjectCheck, plan_fill
from lakecache.cacher.fill.progress import ProgressCallback, ProgressTracker
from lakecache.cacher.fill.sources import Sources, StoreOpener
from lakecache.cacher.fill.views import build_view, publish_view, settle_view
from lakecache.cacher.volume.evict import discard_leftovers
from lakecache.cacher.volume.layout import VolumeLayout, check_name, check_sha256
from lakecache.cacher.volume.lock import try_lock, volume_lock
from lakecache.cacher.volume.safety import UnsafeVolumePath, open_dir, open_root, remove_tree, sync_filesystem
from lakecache.cacher.volume.usage import VolumeUsage, pool_bytes_at
from lakecache.core.manifest import read_manifest_file


@dataclass(frozen=True)
class FillResult:
    commit_id: str
    view_path: Path
    files: int
    size_bytes: int
    bytes_fetched: int
    bytes_deduplicated: int  # commit bytes that needed no transfer (already in the pool, repeated)
    objects_fetched: int
    duration_seconds: float
    already_ready: bool = False


async def fill_commit(
    volume_root: str | os.PathLike[str],
    project: str,
    dataset: str,
    commit_id: str,
    manifest_chunks: AsyncIterable[bytes],
    open_store: StoreOpener,
    *,
    lake_url: str,
    parents: list[str] | None,
    check_object: ObjectCheck | None = None,
    on_progress: ProgressCallback | None = None,
    options: FetchOptions = FetchOptions(),
    check_space: bool = True,
    capacity_bytes: int | None = None,
    usage: VolumeUsage | None = None,
    progress_interval: float = 0.5,
    view_mode: str = "world",
) -> FillResult:
    """Materialize ``commit_id`` of ``project/dataset`` at ``<volume_root>/<project>/<dataset>/<commit_id>``.

    ``manifest_chunks`` streams the commit's gzip manifest (not consumed when the commit is
    already ready); with ``parents``, its entries and those parents must give ``commit_id``
    back (a manifest changed in the lake is refused before anything is fetched). Content is
    read from ``lake_url`` (the dataset's lake location) or, for imported entries, from their
    own URL — which ``check_object(url, path)`` may refuse — through stores made by
    ``open_store(url)``. Content the pool already holds is not fetched, but first confirmed in
    that source (``options.confirm_present``; see ``fill.confirm``).
    ``on_progress`` (sync or async) gets a ``FillProgress`` at most every
    ``progress_interval`` seconds and once at the end. With ``check_space``, a fill whose
    missing bytes exceed the volume's free space fails before fetching; ``capacity_bytes``
    (the volume's configured capacity) bounds LakeCache's own bytes on it (its pool, see
    ``volume.usage``), the filesystem's free space being a second bound. ``usage`` is the
    volume's running count, which the fill reserves its bytes in and adds what it pooled to;
    without it the pool is scanned when a capacity is given.
    ``view_mode`` (``world``, ``group``, ``owner``) says who may read the view and pool files.

    Raises ``FillError`` (nothing published; ``retryable`` tells whether to try again).
    """
    started = time.monotonic()
    try:
        layout = VolumeLayout.at(volume_root, view_mode)
        check_name("project", project), check_name("dataset", dataset), check_sha256("commit id", commit_id)
    except ValueError as exc:
        raise FillError(str(exc), retryable=False) from exc
    try:
        marker = await asyncio.to_thread(read_marker, layout, project, dataset, commit_id)
    except UnsafeVolumePath as exc:
        raise _unsafe(exc) from exc
    except OSError as exc:
        raise FillError(f"reading the ready marker of commit {commit_id} on volume {layout.root} failed: {exc}",
                        retryable=False, failed_paths=[str(layout.marker_path(project, dataset, commit_id))]) from exc
    if marker is not None:
        return FillResult(
            commit_id, layout.view_path(project, dataset, commit_id), marker["files"], marker["size_bytes"],
            0, marker["size_bytes"], 0, time.monotonic() - started, already_ready=True,
        )
    progress = ProgressTracker(on_progress, progress_interval)
    try:
        async with volume_lock(layout, exclusive=False) as lock_fd:
            return await _fill_locked(
                layout, lock_fd, project, dataset, commit_id, manifest_chunks, open_store, lake_url, progress,
                options, check_space, capacity_bytes, usage, started, parents, check_object,
            )
    except UnsafeVolumePath as exc:
        raise _unsafe(exc) from exc
    except OSError as exc:
        retryable = exc.errno in NO_SPACE
        raise FillError(
            f"filling commit {commit_id} on volume {layout.root} failed: {exc}"
            + ("; free space or evict copies, then retry" if retryable else ""),
            retryable=retryable, failed_paths=[exc.filename] if exc.filename else [],
        ) from exc


def _unsafe(exc: UnsafeVolumePath) -> FillError:
    return FillError(
        f"the cache volume has an unsafe entry: {exc}. Nothing was published",
        retryable=False, failed_paths=[str(exc.path)],
    )


async def _fill_locked(
    layout: VolumeLayout, lock_fd: int, project: str, dataset: str, commit_id: str,
    manifest_chunks: AsyncIterable[bytes], open_store: StoreOpener, lake_url: str, progress: ProgressTracker,
    options: FetchOptions, check_space: bool, capacity_bytes: int | None, usage: VolumeUsage | None, started: float,
    parents: list[str] | None, check_object: ObjectCheck | None,
) -> FillResult:
    root_fd = await asyncio.to_thread(open_root, layout.root)
    tmp_fd = -1
    reservation: int | None = None
    fetcher: Fetcher | None = None
    spool_name = f"{commit_id}.{os.getpid()}-{secrets.token_hex(4)}.manifest.gz"
    try:
        await asyncio.to_thread(_discard_leftovers_if_alone, layout, root_fd, lock_fd)
        tmp_fd = await asyncio.to_thread(open_dir, root_fd, layout.root, layout.tmp_parts, create=True)
        # Fail on a planted link before any byte is fetched, not after.
        os.close(await asyncio.to_thread(
            open_dir, root_fd, layout.root, layout.dataset_parts(project, dataset), create=True,
            mode=layout.modes.parent))
        spool_fd = os.open(spool_name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                           dir_fd=tmp_fd)
        try:
            plan = await plan_fill(layout, commit_id, manifest_chunks, spool_fd, layout.root.joinpath(
                *layout.tmp_parts, spool_name), parents=parents, check_object=check_object)
        finally:
            os.close(spool_fd)
        if check_space:
            if usage is None and capacity_bytes is not None:
                usage = VolumeUsage(await asyncio.to_thread(pool_bytes_at, layout, root_fd))
            await _check_space(layout, plan, capacity_bytes, usage)
            if usage is not None:
                reservation = usage.reserve(plan.bytes_needed)
        progress.phase, progress.files_total, progress.files_done = "fetching", plan.files, plan.files_present
        progress.objects_total, progress.bytes_total = len(plan.missing), plan.bytes_needed
        await progress.report(force=True)
        async with contextlib.AsyncExitStack() as stack:
            sources = Sources(lake_url, open_store, stack)
            fetcher = Fetcher(layout, root_fd, tmp_fd, sources.resolve, options, progress.add_bytes)
            stack.callback(fetcher.close)
            await _fetch_all(fetcher, plan, progress, options.max_concurrency, options.confirm_present)
            await fetcher.commit()
        progress.phase = "linking"
        await progress.report(force=True)
        view = await asyncio.to_thread(_build_and_publish, layout, root_fd, project, dataset, plan, options.fsync,
                                       functools.partial(_unlink_quietly, spool_name, tmp_fd))
        progress.phase = "done"
        await progress.report(force=True)
        return FillResult(
            commit_id, view, plan.files, plan.size_bytes, fetcher.bytes_fetched, plan.bytes_deduplicated,
            fetcher.objects_fetched, time.monotonic() - started,
        )
    finally:
        # Still under the volume lock: a reconciling scan never sees content this fill pooled
        # but has not counted yet.
        if usage is not None:
            usage.settle(reservation, fetcher.bytes_pooled if fetcher is not None else 0)
        if tmp_fd >= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool_name, dir_fd=tmp_fd)
            os.close(tmp_fd)
        os.close(root_fd)


async def _check_space(layout: VolumeLayout, plan: FillPlan, capacity_bytes: int | None,
                       usage: VolumeUsage | None) -> None:
    space = await asyncio.to_thread(layout.space)
    free = space.free_bytes if usage is None else usage.free_bytes(capacity_bytes, space.free_bytes)
    if plan.bytes_needed > free:
        bound = "" if capacity_bytes is None or usage is None else (
            f" within its configured capacity of {capacity_bytes} bytes (LakeCache holds {usage.held_bytes}, "
            f"running fills reserved {usage.reserved_bytes}; the filesystem has {space.free_bytes} free)")
        raise FillError(
            f"commit {plan.commit_id} needs {plan.bytes_needed} more bytes on volume {layout.root} "
            f"but only {free} are free{bound}; evict copies or enlarge the volume, then retry",
            retryable=True, bytes_needed=plan.bytes_needed,
        )


async def _fetch_all(fetcher: Fetcher, plan: FillPlan, progress: ProgressTracker, workers: int,
                     confirm: bool) -> None:
    # A fixed set of workers, not one task per object: a million missing objects must not
    # become a million tasks. Ranged GETs inside a worker share the fetcher's request slots.
    # Pool hits are confirmed first (bucket listings, else HEADs): a commit naming content its
    # source lacks fails before anything is fetched.
    present = await fetcher.confirm_listed(list(plan.present.values())) if confirm else []
    missing = sorted(plan.missing.values(), key=lambda c: -c.size)  # big first: better tail
    pending = itertools.chain(((True, c) for c in present), ((False, c) for c in missing))

    async def work() -> None:
        for confirming, content in pending:
            try:
                await (fetcher.confirm(content) if confirming else fetcher.fetch(content))
            except ValueError as exc:  # an import's URL the cacher cannot read
                raise FillError(f"content of {content.path!r}: {exc}", retryable=False,
                                failed_paths=[content.path]) from exc
            if not confirming:
                progress.objects_done += 1
                progress.files_done += content.files
                await progress.report()

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(workers, len(present) + len(missing))):
                group.create_task(work())
    except BaseExceptionGroup as group_error:
        # Report the first failure as it happened; the others are consequences or duplicates.
        fill_errors = group_error.subgroup(FillError)
        first = fill_errors.exceptions[0] if fill_errors else group_error.exceptions[0]
        # From its own cause, not ``from None``: that would erase it (an ENOSPC tells how much
        # space to ask for); only the group around it is noise.
        raise first from first.__cause__


def _build_and_publish(
    layout: VolumeLayout, root_fd: int, project: str, dataset: str, plan: FillPlan, fsync: bool,
    drop_spool: Callable[[], None],
) -> Path:
    assert plan.spool is not None
    if settle_view(layout, root_fd, project, dataset, plan.commit_id):  # a crash came before its marker
        drop_spool()
        return publish_view(layout, root_fd, project, dataset, plan.commit_id, None, plan.files, plan.size_bytes)
    staging = build_view(layout, root_fd, plan.commit_id, read_manifest_file(plan.spool))
    # Gone before the view is published: a process killed once the copy is ready leaves
    # nothing in the temp directory (a later fill reads the manifest again anyway).
    drop_spool()
    try:
        if fsync:  # the pool links and the whole staged view, durable before the rename publishes it
            sync_filesystem(root_fd)
        return publish_view(layout, root_fd, project, dataset, plan.commit_id, staging, plan.files, plan.size_bytes)
    except BaseException:
        with contextlib.suppress(OSError):
            staging_fd = open_dir(root_fd, layout.root, layout.staging_parts, create=False)
            try:
                remove_tree(staging_fd, staging)
            finally:
                os.close(staging_fd)
        raise


def _unlink_quietly(name: str, dir_fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


def _discard_leftovers_if_alone(layout: VolumeLayout, root_fd: int, lock_fd: int) -> None:
    """Remove temp, staging and trash entries left by crashed fills and evictions.

    Only when this fill can take the lock exclusively: then no other fill or eviction runs,
    so nothing in those directories is in use. The lock is then taken back shared."""
    if not try_lock(lock_fd, exclusive=True):
        # Linux drops the shared lock before it refuses the upgrade; without it, this fill would
        # run unlocked and the next fill alone on the lock would discard this one's temp files.
        # Nothing is planned yet, so a sweep slipping in before this is harmless (as below).
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
        return
    try:
        discard_leftovers(layout, root_fd)
    finally:
        # Back to shared. The conversion is not atomic: a sweep may slip in between, which is
        # harmless (nothing is planned yet); then this waits for it, in a worker thread.
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
