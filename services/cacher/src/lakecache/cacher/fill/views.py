"""Building a commit's view from pool hardlinks and publishing it atomically.

The view is built under ``.lakecache/staging/<commit>.<unique>`` (a fresh directory nobody
else writes to), made read-only bottom-up, and renamed to ``<project>/<dataset>/<commit>``
in one step, so readers see no view or a complete one. A publish record naming the staged
directory's inode is written first (``volume.publishing``). The ready marker is written after
the rename (temp file, fsync, rename), so "marker present" implies "view complete"; it names
the view's inode too. The fill syncs the filesystem between building and publishing (one
``syncfs`` for the pool links and every staged directory): a published view never points at
entries a crash could lose.

A directory already at the view path without a marker is adopted only when a publish record
proves a fill renamed it there (a crash between the rename and the marker); anything else is
moved to the trash, logged, and the view is built again. Markers: ``fill.markers``.

Blocking functions: run them in a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from lakecache.cacher.fill.markers import write_marker
from lakecache.cacher.volume import publishing
from lakecache.cacher.volume.layout import VolumeLayout, marker_document, marker_name
from lakecache.cacher.volume.safety import UnsafeVolumePath, fsync_dir, lexists, open_dir, remove_tree
from lakecache.core.manifest import ManifestEntry

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_BUILD_DIR = 0o700  # while being built: the cacher's alone (made ``modes.directory`` when finished)
_COPY_BLOCK = 8 << 20
log = logging.getLogger(__name__)


class _Tree:
    """The directories currently open while linking entries in ``sort_key`` order: entries of
    one directory are contiguous in that order, so each directory is finished (made
    read-only) exactly once, when the walk leaves it."""

    def __init__(self, top_fd: int, mode: int) -> None:
        self.names: list[str] = []
        self.fds: list[int] = [top_fd]
        self.mode = mode

    def enter(self, dirs: list[str]) -> int:
        common = 0
        while common < min(len(dirs), len(self.names)) and self.names[common] == dirs[common]:
            common += 1
        while len(self.names) > common:
            self._leave()
        for name in dirs[common:]:
            os.mkdir(name, _BUILD_DIR, dir_fd=self.fds[-1])
            self.fds.append(os.open(name, _DIR_FLAGS, dir_fd=self.fds[-1]))
            self.names.append(name)
        return self.fds[-1]

    def _leave(self) -> None:
        fd = self.fds.pop()
        self.names.pop()
        try:
            os.fchmod(fd, self.mode)
        finally:
            os.close(fd)

    def close(self) -> None:
        while self.names:
            self._leave()


def build_view(layout: VolumeLayout, root_fd: int, commit_id: str, entries: Iterable[ManifestEntry]) -> str:
    """Link every entry into a new staging directory; return its name (in the staging dir).

    Nothing here is synced: the caller makes the staged view durable (one ``syncfs``) before
    ``publish_view`` renames it into place."""
    staging_fd = open_dir(root_fd, layout.root, layout.staging_parts, create=True)
    name = f"{commit_id}.{os.getpid()}-{secrets.token_hex(4)}"
    buckets: dict[str, int] = {}
    try:
        os.mkdir(name, _BUILD_DIR, dir_fd=staging_fd)
        top_fd = os.open(name, _DIR_FLAGS, dir_fd=staging_fd)
        tree = _Tree(top_fd, layout.modes.directory)
        try:
            for entry in entries:
                *dirs, leaf = entry.path.split("/")
                parent_fd = tree.enter(dirs)
                bucket = entry.sha256[:2]
                if bucket not in buckets:
                    buckets[bucket] = open_dir(root_fd, layout.root, layout.pool_bucket(entry.sha256), create=True)
                _link(buckets[bucket], entry.sha256, parent_fd, leaf, layout.modes.file)
            tree.close()
        finally:
            tree.close()
            os.close(top_fd)
        return name
    except BaseException:
        with contextlib.suppress(OSError):
            remove_tree(staging_fd, name)
        raise
    finally:
        for fd in buckets.values():
            os.close(fd)
        os.close(staging_fd)


def _link(pool_fd: int, sha256: str, parent_fd: int, leaf: str, mode: int) -> None:
    try:
        os.link(sha256, leaf, src_dir_fd=pool_fd, dst_dir_fd=parent_fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno != errno.EMLINK:
            raise
        # The filesystem's per-inode link limit (65000 on ext4) is reached by content repeated
        # that often: this file gets its own copy, outside the pool's accounting.
        _copy(pool_fd, sha256, parent_fd, leaf, mode)


def _copy(pool_fd: int, sha256: str, parent_fd: int, leaf: str, mode: int) -> None:
    source = os.open(sha256, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pool_fd)
    try:
        target = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                         dir_fd=parent_fd)
        try:
            while block := os.read(source, _COPY_BLOCK):
                os.write(target, block)
            os.fsync(target)
        finally:
            os.close(target)
    finally:
        os.close(source)


def settle_view(layout: VolumeLayout, root_fd: int, project: str, dataset: str, commit_id: str) -> bool:
    """Whether a view the cacher published is at the commit's view path (to be marked, not
    built). Anything else there is moved to the trash (logged), so the path is free."""
    try:
        dataset_fd = open_dir(root_fd, layout.root, layout.dataset_parts(project, dataset), create=False)
    except FileNotFoundError:
        return False
    try:
        found = lexists(dataset_fd, commit_id)
        if found is None:
            return False
        if stat.S_ISDIR(found.st_mode) and publishing.proven(layout, root_fd, project, dataset, commit_id,
                                                             found.st_ino):
            return True
        _set_aside(layout, root_fd, dataset_fd, project, dataset, commit_id, found)
        return False
    finally:
        os.close(dataset_fd)


def _set_aside(layout: VolumeLayout, root_fd: int, dataset_fd: int, project: str, dataset: str, commit_id: str,
               found: os.stat_result) -> None:
    path = layout.view_path(project, dataset, commit_id)
    trash_fd = open_dir(root_fd, layout.root, layout.trash_parts, create=True)
    try:
        name = f"unproven-{commit_id}.{secrets.token_hex(4)}"
        try:
            if stat.S_ISDIR(found.st_mode):  # moving a directory to another parent needs write on it ('..')
                os.chmod(commit_id, 0o700, dir_fd=dataset_fd, follow_symlinks=False)
            os.rename(commit_id, name, src_dir_fd=dataset_fd, dst_dir_fd=trash_fd)
        except OSError as exc:
            raise UnsafeVolumePath(path, f"is not a view LakeCache published and cannot be moved aside "
                                         f"({exc.strerror})") from None
        fsync_dir(dataset_fd)
    finally:
        os.close(trash_fd)
    publishing.drop_records(layout, root_fd, project, dataset, commit_id)
    log.warning("%s was not published by LakeCache (no publish record names it); moved it to %s and building "
                "the view again", path, layout.root.joinpath(*layout.trash_parts, name))


def publish_view(
    layout: VolumeLayout, root_fd: int, project: str, dataset: str, commit_id: str, staging_name: str | None,
    files: int, size_bytes: int,
) -> Path:
    """Rename the staged view into place and write its ready marker; returns the view path.

    A view that appeared in place meanwhile (a concurrent fill of the same commit won) is kept
    and ours discarded if a publish record proves it; anything else is moved aside first.
    ``staging_name`` None: only mark the (proven) view in place."""
    dataset_fd = open_dir(root_fd, layout.root, layout.dataset_parts(project, dataset), create=True,
                          mode=layout.modes.parent)
    try:
        if staging_name is not None:
            _rename_into_place(layout, root_fd, dataset_fd, project, dataset, commit_id, staging_name)
        # After the rename: moving a directory needs write permission on it (its '..' entry).
        os.chmod(commit_id, layout.modes.directory, dir_fd=dataset_fd, follow_symlinks=False)
        fsync_dir(dataset_fd)
        inode = os.stat(commit_id, dir_fd=dataset_fd, follow_symlinks=False).st_ino
        document = {**marker_document(commit_id, files, size_bytes), "ready_at": time.time(), "inode": inode}
        write_marker(dataset_fd, marker_name(commit_id), json.dumps(document).encode(), layout.modes.file)
        fsync_dir(dataset_fd)
    finally:
        os.close(dataset_fd)
    return layout.view_path(project, dataset, commit_id)


def _rename_into_place(layout: VolumeLayout, root_fd: int, dataset_fd: int, project: str, dataset: str,
                       commit_id: str, staging_name: str) -> None:
    staging_fd = open_dir(root_fd, layout.root, layout.staging_parts, create=False)
    try:
        inode = os.stat(staging_name, dir_fd=staging_fd, follow_symlinks=False).st_ino
        for _ in range(2):
            record = publishing.write_record(layout, root_fd, project, dataset, commit_id, staging_name, inode)
            try:
                os.rename(staging_name, commit_id, src_dir_fd=staging_fd, dst_dir_fd=dataset_fd)
                return
            except BaseException as exc:
                # Not renamed: no record may name an inode that is about to be freed.
                publishing.drop_record(layout, root_fd, record)
                if not isinstance(exc, OSError) or exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR,
                                                                      errno.EISDIR):
                    raise
            if settle_view(layout, root_fd, project, dataset, commit_id):
                remove_tree(staging_fd, staging_name)  # a proven view won the race: keep it
                return
            # It was not a published view and is set aside now: the path is free, try once more.
        raise UnsafeVolumePath(layout.view_path(project, dataset, commit_id),
                               "keeps reappearing while the view is published")
    finally:
        os.close(staging_fd)
