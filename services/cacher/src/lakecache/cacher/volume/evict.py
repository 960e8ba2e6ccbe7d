"""Evicting a commit from a volume: unpublish the view, then sweep pool objects no view uses.

Order: the ready marker goes first (the copy stops being "ready"), then the view is renamed
into ``.lakecache/trash`` (it vanishes from its public name in one step, never half-deleted)
and deleted there, then the pool is swept.

Why deleting pool files whose link count is 1 is safe
    A pool file's links are its pool name plus one per view (or staging) file that uses it;
    nothing else links into the pool. So ``st_nlink == 1`` means no published view, no view
    being built, and no crashed fill's leftover staging references it. The only window in
    which a fill relies on a pool file it has not linked yet is between planning ("the pool
    has it, skip the fetch") and linking it into staging. Fills hold the volume lock shared
    for their whole run, from before planning until the view is published, and the sweep
    runs under the exclusive lock, so no fill is inside that window during a sweep; a fill
    that starts after the sweep plans again and fetches what was swept. Leftover temp and
    staging entries are discarded before sweeping (no fill runs, so none is in use).
    A file copied into a view because the link limit was hit (see ``fill.views``) is not
    in the pool and goes away with its view.

The sweep ``lstat``s every pool file (in a worker thread): one metadata call per content on
the volume, the price of needing no reference index that a crash could leave inconsistent.
"""

from __future__ import annotations

import asyncio
import os
import secrets

from lakecache.cacher.volume import publishing
from lakecache.cacher.volume.layout import VolumeLayout, check_name, check_sha256, marker_name
from lakecache.cacher.volume.lock import volume_lock
from lakecache.cacher.volume.safety import fsync_dir, lexists, open_dir, open_root, remove_tree
from lakecache.cacher.volume.usage import VolumeUsage, pool_buckets


async def evict_commit(volume_root: str | os.PathLike[str], project: str, dataset: str, commit_id: str,
                       usage: VolumeUsage | None = None) -> int:
    """Remove commit ``commit_id``'s view from the volume and the content no other view uses.

    Returns the bytes freed. Idempotent: evicting a commit that is not there frees 0 (and still
    sweeps). Waits for running fills to finish (they hold the volume lock shared). The caller
    checks leases and pins first; jobs that still have files open keep reading them (POSIX).
    Raises ``ValueError`` for bad names, ``UnsafeVolumePath`` for a planted link, ``OSError``.
    ``usage`` (the volume's count of LakeCache's bytes) is set to what the sweep kept: no fill
    runs during a sweep, so that count is exact.
    """
    check_name("project", project), check_name("dataset", dataset), check_sha256("commit id", commit_id)
    layout = VolumeLayout.at(volume_root)
    async with volume_lock(layout, exclusive=True):
        freed, kept = await asyncio.to_thread(_evict, layout, project, dataset, commit_id)
        if usage is not None:
            usage.reconciled(kept)
        return freed


def _evict(layout: VolumeLayout, project: str, dataset: str, commit_id: str) -> tuple[int, int]:
    root_fd = open_root(layout.root)
    try:
        freed = _remove_view(layout, root_fd, project, dataset, commit_id)
        discard_leftovers(layout, root_fd)
        swept, kept = sweep_pool(layout, root_fd)
        return freed + swept, kept
    finally:
        os.close(root_fd)


def _remove_view(layout: VolumeLayout, root_fd: int, project: str, dataset: str, commit_id: str) -> int:
    try:
        dataset_fd = open_dir(root_fd, layout.root, layout.dataset_parts(project, dataset), create=False)
    except FileNotFoundError:
        return 0
    try:
        if lexists(dataset_fd, marker_name(commit_id)) is not None:
            os.unlink(marker_name(commit_id), dir_fd=dataset_fd)
            fsync_dir(dataset_fd)
        # No record may outlive its view: a directory later found at this path is not adopted.
        publishing.drop_records(layout, root_fd, project, dataset, commit_id)
        if lexists(dataset_fd, commit_id) is None:
            return 0
        trash_fd = open_dir(root_fd, layout.root, layout.trash_parts, create=True)
        try:
            trash_name = f"{commit_id}.{secrets.token_hex(4)}"
            # Moving a directory to another parent needs write permission on it ('..').
            os.chmod(commit_id, 0o700, dir_fd=dataset_fd, follow_symlinks=False)
            os.rename(commit_id, trash_name, src_dir_fd=dataset_fd, dst_dir_fd=trash_fd)
            fsync_dir(dataset_fd)
            return remove_tree(trash_fd, trash_name)
        finally:
            os.close(trash_fd)
    finally:
        os.close(dataset_fd)


def discard_leftovers(layout: VolumeLayout, root_fd: int) -> None:
    """Remove temp, staging and trash entries of crashed fills and evictions (and the publish
    records of staged views never renamed into place). Call only under the exclusive volume
    lock: then none of them is in use."""
    try:
        staging_fd = open_dir(root_fd, layout.root, layout.staging_parts, create=False)
    except FileNotFoundError:
        staged: set[str] = set()
    else:
        try:
            staged = set(os.listdir(staging_fd))
        finally:
            os.close(staging_fd)
    publishing.drop_unpublished(layout, root_fd, staged)
    for parts in (layout.tmp_parts, layout.staging_parts, layout.trash_parts):
        try:
            fd = open_dir(root_fd, layout.root, parts, create=False)
        except FileNotFoundError:
            continue
        try:
            for name in os.listdir(fd):
                remove_tree(fd, name)
        finally:
            os.close(fd)


def sweep_pool(layout: VolumeLayout, root_fd: int) -> tuple[int, int]:
    """Delete pool files no view links (link count 1); returns the bytes freed and the bytes
    the pool keeps. Call only under the exclusive volume lock (see the module's docstring)."""
    freed = kept = 0
    for bucket_fd, files in pool_buckets(layout, root_fd):
        for name, info in files:
            if info.st_nlink == 1:
                os.unlink(name, dir_fd=bucket_fd)
                freed += info.st_size
            else:
                kept += info.st_size
        fsync_dir(bucket_fd)
    return freed, kept
