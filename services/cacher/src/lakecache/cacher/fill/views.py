"""Building a commit's view from pool hardlinks and publishing it atomically.

The view is built under ``.lakecache/staging/<commit>.<unique>`` (a fresh directory nobody
else writes to), made read-only bottom-up, and renamed to ``<project>/<dataset>/<commit>``
in one step, so readers see no view or a complete one. The ready marker is written after the
rename (temp file, fsync, rename), so "marker present" implies "view complete". The fill
syncs the filesystem between building and publishing (one ``syncfs`` for the pool links and
every staged directory): a published view never points at entries a crash could lose.

Blocking functions: run them in a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from lakecache.cacher.volume.layout import VolumeLayout, marker_document, marker_name
from lakecache.cacher.volume.safety import fsync_dir, lexists, open_dir, open_root, remove_tree
from lakecache.core.manifest import ManifestEntry

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_ONLY_DIR = 0o555
_COPY_BLOCK = 8 << 20


class _Tree:
    """The directories currently open while linking entries in ``sort_key`` order: entries of
    one directory are contiguous in that order, so each directory is finished (made
    read-only) exactly once, when the walk leaves it."""

    def __init__(self, top_fd: int) -> None:
        self.names: list[str] = []
        self.fds: list[int] = [top_fd]

    def enter(self, dirs: list[str]) -> int:
        common = 0
        while common < min(len(dirs), len(self.names)) and self.names[common] == dirs[common]:
            common += 1
        while len(self.names) > common:
            self._leave()
        for name in dirs[common:]:
            os.mkdir(name, 0o755, dir_fd=self.fds[-1])
            self.fds.append(os.open(name, _DIR_FLAGS, dir_fd=self.fds[-1]))
            self.names.append(name)
        return self.fds[-1]

    def _leave(self) -> None:
        fd = self.fds.pop()
        self.names.pop()
        try:
            os.fchmod(fd, READ_ONLY_DIR)
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
        os.mkdir(name, 0o755, dir_fd=staging_fd)
        top_fd = os.open(name, _DIR_FLAGS, dir_fd=staging_fd)
        tree = _Tree(top_fd)
        try:
            for entry in entries:
                *dirs, leaf = entry.path.split("/")
                parent_fd = tree.enter(dirs)
                bucket = entry.sha256[:2]
                if bucket not in buckets:
                    buckets[bucket] = open_dir(root_fd, layout.root, layout.pool_bucket(entry.sha256), create=True)
                _link(buckets[bucket], entry.sha256, parent_fd, leaf)
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


def _link(pool_fd: int, sha256: str, parent_fd: int, leaf: str) -> None:
    try:
        os.link(sha256, leaf, src_dir_fd=pool_fd, dst_dir_fd=parent_fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno != errno.EMLINK:
            raise
        # The filesystem's per-inode link limit (65000 on ext4) is reached by content repeated
        # that often: this file gets its own copy, outside the pool's accounting.
        _copy(pool_fd, sha256, parent_fd, leaf)


def _copy(pool_fd: int, sha256: str, parent_fd: int, leaf: str) -> None:
    source = os.open(sha256, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pool_fd)
    try:
        target = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444,
                         dir_fd=parent_fd)
        try:
            while block := os.read(source, _COPY_BLOCK):
                os.write(target, block)
            os.fsync(target)
        finally:
            os.close(target)
    finally:
        os.close(source)


def view_in_place(layout: VolumeLayout, root_fd: int, project: str, dataset: str, commit_id: str) -> bool:
    """Whether the commit's view directory exists (with or without its marker).

    Views only ever appear whole (renamed from staging) and leave whole (renamed to the trash
    before they are deleted), so one in place is complete even when a crash came between the
    rename and the marker."""
    try:
        dataset_fd = open_dir(root_fd, layout.root, layout.dataset_parts(project, dataset), create=False)
    except FileNotFoundError:
        return False
    try:
        found = lexists(dataset_fd, commit_id)
    finally:
        os.close(dataset_fd)
    return found is not None and stat.S_ISDIR(found.st_mode)


def publish_view(
    layout: VolumeLayout, root_fd: int, project: str, dataset: str, commit_id: str, staging_name: str | None,
    files: int, size_bytes: int,
) -> Path:
    """Rename the staged view into place and write its ready marker; returns the view path.

    A view already in place (a concurrent fill of the same commit won, or a crash came before
    the marker) is kept and ours discarded: views are only ever renamed in complete, so the
    one there is whole. ``staging_name`` None: only mark the view in place."""
    dataset_fd = open_dir(root_fd, layout.root, layout.dataset_parts(project, dataset), create=True)
    try:
        if staging_name is not None:
            staging_fd = open_dir(root_fd, layout.root, layout.staging_parts, create=False)
            try:
                os.rename(staging_name, commit_id, src_dir_fd=staging_fd, dst_dir_fd=dataset_fd)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                remove_tree(staging_fd, staging_name)
            finally:
                os.close(staging_fd)
        # After the rename: moving a directory needs write permission on it (its '..' entry).
        os.chmod(commit_id, READ_ONLY_DIR, dir_fd=dataset_fd, follow_symlinks=False)
        fsync_dir(dataset_fd)
        document = {**marker_document(commit_id, files, size_bytes), "ready_at": time.time()}
        _write_marker(dataset_fd, marker_name(commit_id), json.dumps(document).encode())
        fsync_dir(dataset_fd)
    finally:
        os.close(dataset_fd)
    return layout.view_path(project, dataset, commit_id)


def _write_marker(dir_fd: int, name: str, data: bytes) -> None:
    temp = f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444, dir_fd=dir_fd)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        os.unlink(temp, dir_fd=dir_fd)
        raise


def read_marker(layout: VolumeLayout, project: str, dataset: str, commit_id: str) -> dict | None:
    """The ready marker's content, or ``None`` when the commit is not ready on the volume."""
    root_fd = open_root(layout.root)
    try:
        dataset_fd = open_dir(root_fd, layout.root, layout.dataset_parts(project, dataset), create=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(root_fd)
    try:
        fd = os.open(marker_name(commit_id), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dataset_fd)
    except FileNotFoundError:
        return None
    finally:
        os.close(dataset_fd)
    with os.fdopen(fd, "rb") as handle:
        document = json.loads(handle.read())
    return document if document.get("commit_id") == commit_id else None
