"""LakeCache's own bytes on a volume: what a volume's configured capacity bounds.

A volume is often a directory of a shared filesystem, so the filesystem's usage says nothing
about the cache: what counts against ``capacity_bytes`` is the content pool
(``.lakecache/pool``), where every byte LakeCache keeps lives once (views are hardlinks to it,
so a content shared by several commits or projects counts once per volume). Sizes are file
sizes, the unit of the manifests, ``bytes_fetched`` and ``bytes_freed``, not allocated blocks.

The count (``VolumeUsage``) lives in the cacher's memory, one per volume: fills add what they
linked into the pool and evictions set what their sweep kept, both while they hold the volume
lock, so a scan under the exclusive lock (``reconcile``) sees a settled pool. A scan at start-up
and before every periodic report corrects what a crash or an operator's deletion changed.
A running fill *reserves* what it still has to fetch, so two fills started together cannot
both take the last room under the capacity.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lakecache.cacher.volume.layout import VolumeLayout
from lakecache.cacher.volume.lock import open_lock_file, try_lock
from lakecache.cacher.volume.safety import lexists, open_dir, open_root


def pool_bytes(layout: VolumeLayout) -> int:
    """Total size of the pool's files (blocking: one ``lstat`` per content, as the sweep does)."""
    root_fd = open_root(layout.root)
    try:
        return pool_bytes_at(layout, root_fd)
    finally:
        os.close(root_fd)


def pool_buckets(layout: VolumeLayout, root_fd: int) -> Iterator[tuple[int, list[tuple[str, os.stat_result]]]]:
    """Each bucket of the pool as ``(its directory fd, its regular files with their lstat)``,
    opened without following links; the fd is closed when the caller moves on (the sweep
    unlinks and fsyncs through it). Nothing when the volume has no pool yet."""
    try:
        pool_fd = open_dir(root_fd, layout.root, layout.pool_parts, create=False)
    except FileNotFoundError:
        return
    try:
        for bucket in os.listdir(pool_fd):
            bucket_fd = open_dir(pool_fd, Path(layout.root, *layout.pool_parts), (bucket,), create=False)
            try:
                files = [(name, info) for name in os.listdir(bucket_fd)
                         if (info := lexists(bucket_fd, name)) is not None and stat.S_ISREG(info.st_mode)]
                yield bucket_fd, files
            finally:
                os.close(bucket_fd)
    finally:
        os.close(pool_fd)


def pool_bytes_at(layout: VolumeLayout, root_fd: int) -> int:
    return sum(info.st_size for _, files in pool_buckets(layout, root_fd) for _, info in files)


@dataclass
class VolumeUsage:
    """The bytes LakeCache holds on one volume, and those running fills have reserved."""

    #: Bytes in the pool; None until the first scan.
    pool_bytes: int | None = None
    _reserved: dict[int, int] = field(default_factory=dict)
    _tokens: itertools.count = field(default_factory=itertools.count)

    @property
    def held_bytes(self) -> int:
        return self.pool_bytes or 0

    @property
    def reserved_bytes(self) -> int:
        return sum(self._reserved.values())

    def free_bytes(self, capacity_bytes: int | None, filesystem_free: int) -> int:
        """What a new fill may write: the filesystem's free space, and with a capacity, also what
        the capacity leaves after LakeCache's bytes and the running fills' reservations."""
        if capacity_bytes is None:
            return filesystem_free
        return max(0, min(filesystem_free, capacity_bytes - self.held_bytes - self.reserved_bytes))

    def reserve(self, nbytes: int) -> int:
        """Hold ``nbytes`` for a fill until ``settle``; returns the reservation's token."""
        token = next(self._tokens)
        self._reserved[token] = nbytes
        return token

    def settle(self, token: int | None, pooled: int) -> None:
        """A fill ends (under the volume lock): its reservation goes, what it pooled counts."""
        if token is not None:
            self._reserved.pop(token, None)
        if self.pool_bytes is not None:
            self.pool_bytes += pooled

    def reconciled(self, total: int) -> None:
        self.pool_bytes = total


async def reconcile(layout: VolumeLayout, usage: VolumeUsage) -> None:
    """Count the pool again when no fill or eviction runs on the volume (the exclusive lock is
    free). While one runs, they keep the count, so a busy volume is scanned at its next quiet
    moment (or its next eviction, whose sweep counts the pool). A count never taken is scanned
    even then: roughly right beats unknown, and the next quiet scan corrects it."""
    fd = await asyncio.to_thread(open_lock_file, layout)
    try:
        alone = try_lock(fd, exclusive=True)
        if alone or usage.pool_bytes is None:
            usage.reconciled(await asyncio.to_thread(pool_bytes, layout))
    finally:
        os.close(fd)  # releases the lock
