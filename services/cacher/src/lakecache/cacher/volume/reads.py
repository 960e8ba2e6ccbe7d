"""Reads of a published view, seen in access times (ADR 0014).

What can tell that a copy was read, and by nobody else's read:

* the view's **directories** — each copy has its own (``<root>/<project>/<dataset>/<commit>/…``),
  and listing one (``readdir``) updates its access time;
* the view's **files whose inode only this copy holds**: link count 2 (the pool name and this
  view) or 1 (a file of its own, for content repeated past the filesystem's link limit). A file
  whose content other copies share is one inode linked into every view, so its access time cannot
  say which copy was read: it is ignored.

Linux mounts are usually ``relatime``: a read updates the access time only when it is not
later than the modification or change time (or is a day old). So every look *arms* what it saw:
an access time later than the modification time is set back to it (``utimensat``, the times the
owner — the cacher — may set), and the next read updates it again. A read is an entry whose
access time is past its modification time; the time reported is that access time.

A view's directories are listed here too, which updates their access times: each one's times
are taken before it is listed and it is armed after, so the cacher's own listing never counts.
A read in the instant between the two is lost (it is the same evidence as the listing).

Every directory is opened relative to its parent with ``O_NOFOLLOW | O_DIRECTORY`` and every
file is looked at with ``fstatat``/``utimensat`` without following links (``volume.safety``);
anything that is neither a directory nor a regular file is skipped.

Blocking: call ``look`` from a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from dataclasses import dataclass

from lakecache.cacher.volume.layout import VolumeLayout, check_sha256
from lakecache.cacher.volume.safety import open_dir, open_root, walk_directories

#: Link counts of a view file no other copy shares: its own file (1), or the pool name and this view (2).
_OWN_LINKS = (1, 2)


@dataclass(frozen=True)
class Look:
    """What one look at a view found."""

    #: The view directory's inode: a copy evicted and filled again between two looks is a new view.
    view_inode: int
    #: The latest access time past its arming, in ns since the epoch (never after the look); None: not read.
    read_at_ns: int | None
    directories_read: int
    files_read: int
    directories: int
    #: Files only this copy holds (the only files whose access time can say it was read).
    own_files: int


def look(layout: VolumeLayout, project: str, dataset: str, commit_id: str, *, baseline: bool) -> Look:
    """Look at the view of ``project``'s copy of ``commit_id`` and arm what can show a read.

    ``baseline``: the first look at this view — arm everything, report no read (what happened
    before includes the fill's own work). ``FileNotFoundError`` when the view is not there;
    ``UnsafeVolumePath`` when a directory on its way is a link or not the cacher's."""
    root_fd = open_root(layout.root)
    try:
        view_fd = open_dir(root_fd, layout.root,
                           (*layout.dataset_parts(project, dataset), check_sha256("commit id", commit_id)),
                           create=False)
    finally:
        os.close(root_fd)
    walk = _Walk(baseline)
    try:
        walk_directories(view_fd, walk.directory)
        view_inode = os.fstat(view_fd).st_ino
    finally:
        os.close(view_fd)
    now_ns = time.time_ns()
    read_at = None if walk.read_at_ns is None else min(walk.read_at_ns, now_ns)
    return Look(view_inode, read_at, walk.directories_read, walk.files_read, walk.directories, walk.own_files)


class _Walk:
    def __init__(self, baseline: bool) -> None:
        self.baseline = baseline
        self.read_at_ns: int | None = None
        self.directories_read = self.files_read = self.directories = self.own_files = 0

    def directory(self, fd: int) -> list[str]:
        """Note whether the directory was read, list it, look at its files, arm it; its subdirectories."""
        before = os.fstat(fd)  # before our own listing moves its access time
        self.directories += 1
        if self._was_read(before):
            self.directories_read += 1
        subdirectories: list[str] = []
        with os.scandir(fd) as entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        subdirectories.append(entry.name)
                    elif entry.is_file(follow_symlinks=False):
                        self._file(fd, entry.name)
                except FileNotFoundError:  # removed while we looked
                    continue
        # Our listing moved the access time of an armed directory: taken again, and armed.
        self._arm(os.fstat(fd), lambda times: os.utime(fd, ns=times))
        return subdirectories

    def _file(self, dir_fd: int, name: str) -> None:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink not in _OWN_LINKS:
            return  # shared content: its access time cannot say which copy was read
        self.own_files += 1
        if self._was_read(info):
            self.files_read += 1
        self._arm(info, lambda times: os.utime(name, ns=times, dir_fd=dir_fd, follow_symlinks=False))

    def _was_read(self, info: os.stat_result) -> bool:
        if self.baseline or info.st_atime_ns <= info.st_mtime_ns:
            return False
        self.read_at_ns = max(self.read_at_ns or 0, info.st_atime_ns)
        return True

    @staticmethod
    def _arm(info: os.stat_result, set_times) -> None:
        # Access time back to the modification time (kept as it was): under relatime the next read
        # updates it again. Already armed entries are left alone, so a look writes only what was read.
        if info.st_atime_ns > info.st_mtime_ns:
            with contextlib.suppress(FileNotFoundError, PermissionError):  # gone, or not ours to arm
                set_times((info.st_mtime_ns, info.st_mtime_ns))
