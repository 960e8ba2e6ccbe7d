"""What each project is charged on a volume: the distinct content its copies' views reference.

A view's files are hardlinks into the pool, so one content is one inode however many views
link it. A project's charge is the size of every distinct inode its ready copies' views hold on
the volume: each content counted once per project, and in full for *every* project whose views
hold it (ADR 0018). The pool, which the volume's capacity bounds, still counts it once per
volume (``volume.usage``).

The charges live in the cacher's memory (``VolumeCharges``), one per volume, as each project's
inodes with their sizes: a fill adds its view's, an eviction recounts its project's remaining
views, and a full count walks every ready copy's view (at start-up, when a volume is first
used, and at each periodic report of a volume with a quota). A fill admitted under a quota
*reserves* the charge it adds until its view is counted, so two fills of one project started
together cannot both take the last room.

Views are walked like the read sampling's (``volume.safety.walk_directories``): every directory
opened relative to its parent with ``O_NOFOLLOW``, at most one open per level, files looked at
without following links. Blocking
functions (``view_inodes``, ``unreferenced_bytes``): call them from a worker thread.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from lakecache.cacher.volume.layout import VolumeLayout, check_sha256
from lakecache.cacher.volume.safety import lexists, open_dir, open_root, walk_directories

#: A project's referenced content: inode number → file size.
Inodes = dict[int, int]


def view_inodes(layout: VolumeLayout, project: str, dataset: str, commit_id: str) -> Inodes:
    """The inodes (with their sizes) of the regular files in the view of ``project``'s copy of
    ``commit_id``; ``FileNotFoundError`` when the view is not there."""
    root_fd = open_root(layout.root)
    try:
        top = open_dir(root_fd, layout.root, (*layout.dataset_parts(project, dataset),
                                              check_sha256("commit id", commit_id)), create=False)
    finally:
        os.close(root_fd)
    found: Inodes = {}

    def visit(fd: int) -> list[str]:
        subdirectories = []
        with os.scandir(fd) as entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed while we looked
                    continue
                if stat.S_ISREG(info.st_mode):
                    found[info.st_ino] = info.st_size
                elif stat.S_ISDIR(info.st_mode):
                    subdirectories.append(entry.name)
        return subdirectories

    try:
        walk_directories(top, visit)
    finally:
        os.close(top)
    return found


def unreferenced_bytes(layout: VolumeLayout, contents: dict[str, int], referenced: Inodes) -> int:
    """The bytes of ``contents`` (sha256 → size) that ``referenced`` does not hold: what a commit
    adds to a project's charge. A content missing from the pool, or pooled but referenced only by
    other projects' views, counts in full."""
    root_fd = open_root(layout.root)
    try:
        try:
            pool_fd = open_dir(root_fd, layout.root, layout.pool_parts, create=False)
        except FileNotFoundError:
            return sum(contents.values())
        try:
            extra = 0
            by_bucket = sorted(contents.items())
            for bucket, items in itertools.groupby(by_bucket, key=lambda item: item[0][:2]):
                bucket_fd = _bucket(pool_fd, layout, bucket)
                try:
                    for sha256, size in items:
                        info = lexists(bucket_fd, sha256) if bucket_fd is not None else None
                        if info is None or not stat.S_ISREG(info.st_mode) or info.st_ino not in referenced:
                            extra += size
                finally:
                    if bucket_fd is not None:
                        os.close(bucket_fd)
            return extra
        finally:
            os.close(pool_fd)
    finally:
        os.close(root_fd)


def _bucket(pool_fd: int, layout: VolumeLayout, bucket: str) -> int | None:
    try:
        return open_dir(pool_fd, Path(layout.root, *layout.pool_parts), (bucket,), create=False)
    except FileNotFoundError:
        return None


@dataclass
class VolumeCharges:
    """Each project's referenced content on one volume, and what admitted fills reserved."""

    #: Project → its inodes; None until the first full count.
    projects: dict[str, Inodes] | None = None
    #: Held while a count or a fill's view changes the charges, so a count never drops a view a
    #: fill added after the count read the ready copies.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _reserved: dict[int, tuple[str, int]] = field(default_factory=dict)
    _tokens: itertools.count = field(default_factory=itertools.count)

    @property
    def counted(self) -> bool:
        return self.projects is not None

    def charged_bytes(self, project: str) -> int:
        return sum((self.projects or {}).get(project, {}).values())

    def referenced(self, project: str) -> Inodes:
        return (self.projects or {}).get(project, {})

    def shared_bytes(self, project: str) -> int:
        """The part of ``project``'s charge that other projects' views reference too."""
        own = self.referenced(project)
        others = set().union(*(inodes for name, inodes in (self.projects or {}).items() if name != project))
        return sum(size for inode, size in own.items() if inode in others)

    def reserved_bytes(self, project: str) -> int:
        return sum(nbytes for owner, nbytes in self._reserved.values() if owner == project)

    def charged_projects(self) -> list[str]:
        return sorted(name for name, inodes in (self.projects or {}).items() if inodes)

    def reserve(self, project: str, nbytes: int) -> int:
        """Hold ``nbytes`` of ``project``'s quota for an admitted fill; returns the token."""
        token = next(self._tokens)
        self._reserved[token] = (project, nbytes)
        return token

    def release(self, token: int | None) -> None:
        if token is not None:
            self._reserved.pop(token, None)

    def add(self, project: str, inodes: Inodes) -> None:
        """A copy of ``project`` became ready with these inodes (a count never taken stays so:
        the first full count includes the copy)."""
        if self.projects is not None:
            self.projects.setdefault(project, {}).update(inodes)

    def set_project(self, project: str, inodes: Inodes) -> None:
        if self.projects is not None:
            self.projects[project] = inodes

    def set_all(self, projects: dict[str, Inodes]) -> None:
        self.projects = projects
