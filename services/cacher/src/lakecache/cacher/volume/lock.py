"""The volume lock: fills hold it shared, the pool sweep holds it exclusively.

``flock`` on ``<root>/.lakecache/lock``. Locks belong to the open file description, so two
fills in one process are two holders, as are fills in two processes; Linux NFS clients map
``flock`` onto NFS byte-range locks, so holders on different hosts exclude each other too.
Waiting polls with ``LOCK_NB`` so a waiting task stays cancellable and never pins a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator

from lakecache.cacher.volume.layout import META_MODE, VolumeLayout
from lakecache.cacher.volume.safety import open_dir, open_root

_POLL_SECONDS = 0.05


def open_lock_file(layout: VolumeLayout) -> int:
    """The volume's lock file, opened (created with ``.lakecache`` when missing), not locked."""
    root_fd = open_root(layout.root)
    try:
        meta_fd = open_dir(root_fd, layout.root, layout.meta_parts, create=True, mode=META_MODE)
    finally:
        os.close(root_fd)
    try:
        # The volume's bookkeeping is the cacher's alone (also on a volume made before that rule);
        # jobs reach pool files through their views.
        with contextlib.suppress(OSError):
            os.fchmod(meta_fd, META_MODE)
        return os.open("lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=meta_fd)
    finally:
        os.close(meta_fd)


def try_lock(fd: int, exclusive: bool) -> bool:
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.asynccontextmanager
async def volume_lock(layout: VolumeLayout, *, exclusive: bool) -> AsyncIterator[int]:
    """Hold the volume lock (shared or exclusive) for the block; yields the lock file's fd."""
    fd = await asyncio.to_thread(open_lock_file, layout)
    try:
        while not try_lock(fd, exclusive):  # noqa: ASYNC110 - flock offers nothing to await
            await asyncio.sleep(_POLL_SECONDS)
        yield fd
    finally:
        os.close(fd)  # closing the last fd of the description releases the lock
