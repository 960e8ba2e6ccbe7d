"""Opening the files of a synced tree: once per read, never through a link, never blocking.

A scan lists what a directory held; by the time a file is read it may have been replaced.
Reading by path would then follow a symbolic link put in its place (publishing the link's
target), block forever on a FIFO, or read other bytes than were hashed. So each read opens
the file relative to the tree's root descriptor, one path component at a time, every
component with ``O_NOFOLLOW`` (a directory swapped for a link fails too), the file with
``O_NONBLOCK`` (a FIFO opens at once), then ``fstat``\\ s the descriptor: it must be a regular
file with the inode, size and modification time the scan saw. Everything is read from that
descriptor, and the ``fstat`` is repeated after the last byte.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Self

from lakecache.core.errors import InvalidArgument, LakeCacheError

if TYPE_CHECKING:
    from lakecache.sdk.tree import LocalFile

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
#: Reads of this size keep the per-call overhead negligible; hashlib releases the GIL while
#: hashing buffers this large, so several threads hash in parallel.
READ_SIZE = 8 << 20


class Interrupted(LakeCacheError):
    """The work was stopped (Ctrl-C) before it finished; nothing was committed."""


class FileChanged(LakeCacheError):
    """A file changed (or vanished) while it was being synced; the sync refuses to commit it."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(
            f"{path!r} changed during the sync ({detail}); nothing was committed. Run the sync again once "
            "nothing writes to it (contents already uploaded are not sent again)."
        )
        self.path = path


class NotRegular(Exception):  # noqa: N818 - a verdict about a file, not a failure of the sync
    """The path is no longer a regular file (a link, a FIFO, a device…); it is skipped, with ``reason``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path, self.reason = path, reason


def same_file(info: os.stat_result, file: LocalFile) -> bool:
    """Whether ``info`` is the file the scan listed, unchanged (the hash cache's key, too)."""
    return (info.st_ino, info.st_size, info.st_mtime_ns) == (file.inode, file.size, file.mtime_ns)


def describe_change(info: os.stat_result, file: LocalFile) -> str:
    """What differs between the listed file and ``info``, in words."""
    if info.st_ino != file.inode:
        return "it was replaced by another file"
    if info.st_size != file.size:
        return f"its size went from {file.size:,} to {info.st_size:,} bytes"
    return "it was modified"


class TreeRoot:
    """The synced directory, opened once; its files are opened relative to it (see the module)."""

    def __init__(self, root: Path) -> None:
        try:
            self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise InvalidArgument(f"cannot open directory {str(root)!r}: {exc.strerror}; pass the directory "
                                  "to sync") from exc

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self, file: LocalFile) -> int:
        """A read-only descriptor of ``file``, checked to be the regular file the scan listed.

        Raises ``NotRegular`` (skip it), ``FileChanged`` (refuse the sync) or ``InvalidArgument``
        (unreadable: permissions). The caller closes the descriptor.
        """
        *directories, name = file.path.split("/")
        parent, opened = self.fd, []
        try:
            for part in directories:
                parent = _open(file.path, part, _DIRECTORY, parent, in_parent=True)
                opened.append(parent)
            fd = _open(file.path, name, _FILE, parent, in_parent=False)
        finally:
            for descriptor in opened:
                os.close(descriptor)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise NotRegular(file.path, "not a regular file any more (socket, FIFO or device)")
            if not same_file(info, file):
                raise FileChanged(file.path, describe_change(info, file))
        except BaseException:
            os.close(fd)
            raise
        return fd


def _open(path: str, name: str, flags: int, parent: int, *, in_parent: bool) -> int:
    try:
        return os.open(name, flags, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and in_parent:
            raise NotRegular(path, f"its directory {name!r} is now a symbolic link or not a directory "
                             "(not followed)") from exc
        if exc.errno == errno.ELOOP:
            raise NotRegular(path, "symbolic link (not followed)") from exc
        if exc.errno == errno.ENXIO:  # a socket
            raise NotRegular(path, "not a regular file any more (socket, FIFO or device)") from exc
        if exc.errno == errno.ENOENT:
            raise FileChanged(path, "it was removed") from exc
        raise InvalidArgument(f"cannot read {path!r}: {exc.strerror}; fix its permissions or move it out of the "
                              "directory, and run the sync again") from exc


def read_into(fd: int, buffer: bytearray) -> int:
    """Read the next bytes of ``fd`` into ``buffer``; their count (0 at the end)."""
    return os.readv(fd, [buffer])
