"""Creating and opening things under a volume root without ever following a symlink.

Every path below the root is walked one segment at a time with ``openat`` (``dir_fd``) and
``O_NOFOLLOW | O_DIRECTORY``: a symlink anywhere on the way fails with ``ELOOP``, a file where
a directory should be with ``ENOTDIR``, so a planted link cannot redirect a write outside the
volume, and no ``..`` or absolute segment can appear (names are checked before they get
here, and a segment with ``/`` is refused again below). Every directory walked must belong to
the cacher's user and be writable by no one else (``fstat`` of the opened descriptor): a
directory another user made or may write could hold a view they planted, or let them rename a
published view away and put their own files at its path. The root itself is opened normally:
it is configuration, registered canonical (no symlink on its way; ``volume.rules``), but it
too must be writable by no one but its owner.

Sync functions: call them from a worker thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeVolumePath(Exception):
    """A path on the volume is a symlink, not a directory where a directory must be, or a
    directory another user owns or may write."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}; remove it (on a volume LakeCache uses only directories it made, "
                         "never through links)")


def open_root(root: Path) -> int:
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileNotFoundError(f"cache volume {root} does not exist; create or mount it first") from None
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & 0o022:
        os.close(fd)
        raise UnsafeVolumePath(root, f"may be written by other users (mode {mode:o}); only the cacher may write a "
                                     "cache volume: chmod go-w it")
    return fd


def _check_owned(fd: int, root: Path, parts: Sequence[str], index: int) -> None:
    """Refuse a directory on the volume that another user owns or may write."""
    info = os.fstat(fd)
    if info.st_uid != os.geteuid():
        raise UnsafeVolumePath(root.joinpath(*parts[: index + 1]),
                               f"belongs to uid {info.st_uid}, not the cacher's (uid {os.geteuid()})")
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise UnsafeVolumePath(root.joinpath(*parts[: index + 1]), "may be written by other users")


def _check_segment(root: Path, parts: Sequence[str], index: int) -> str:
    part = parts[index]
    if not part or part in (".", "..") or "/" in part or "\x00" in part:
        raise UnsafeVolumePath(root.joinpath(*parts[: index + 1]), "not a plain name")
    return part


def open_dir(root_fd: int, root: Path, parts: Sequence[str], *, create: bool, mode: int = 0o755) -> int:
    """An fd of directory ``root/parts…``, created (when ``create``) without following links."""
    fd = os.dup(root_fd)
    try:
        for index in range(len(parts)):
            part = _check_segment(root, parts, index)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):  # a concurrent fill made it
                    os.mkdir(part, mode, dir_fd=fd)
                child = _open_child(fd, root, parts, index)
            except OSError as exc:
                raise _unsafe(root, parts, index, exc) from None
            os.close(fd)
            fd = child
            _check_owned(fd, root, parts, index)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _open_child(fd: int, root: Path, parts: Sequence[str], index: int) -> int:
    try:
        return os.open(parts[index], _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        raise _unsafe(root, parts, index, exc) from None


def _unsafe(root: Path, parts: Sequence[str], index: int, exc: OSError) -> Exception:
    where = root.joinpath(*parts[: index + 1])
    # O_DIRECTORY may win over O_NOFOLLOW (ENOTDIR for a link): lstat only to say which.
    with contextlib.suppress(OSError):
        if stat.S_ISLNK(os.lstat(where).st_mode):
            return UnsafeVolumePath(where, "is a symbolic link")
    if exc.errno == errno.ELOOP:
        return UnsafeVolumePath(where, "is a symbolic link")
    if exc.errno == errno.ENOTDIR:
        return UnsafeVolumePath(where, "is not a directory")
    return exc


def lexists(dir_fd: int, name: str) -> os.stat_result | None:
    """``lstat`` of ``name`` in ``dir_fd``, or ``None`` when it does not exist."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def walk_directories(top_fd: int, visit: Callable[[int], list[str]]) -> None:
    """Depth first below ``top_fd`` (left open for the caller): ``visit(fd)`` looks at one
    directory and returns the names of the subdirectories to enter. Each is opened relative to
    its parent with ``O_NOFOLLOW | O_DIRECTORY``; one replaced by a link, or gone, is skipped.
    An explicit stack keeps at most one descriptor per level open (a wide directory does not
    open all its children at once) and needs no recursion."""
    stack: list[tuple[int, list[str]]] = [(top_fd, visit(top_fd))]
    try:
        while stack:
            fd, children = stack[-1]
            if not children:
                stack.pop()
                if fd != top_fd:
                    os.close(fd)
                continue
            name = children.pop()
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue
            try:
                below = visit(child)
            except BaseException:
                os.close(child)
                raise
            stack.append((child, below))
    finally:
        for fd, _ in stack:
            if fd != top_fd:
                os.close(fd)


def fsync_dir(fd: int) -> None:
    # Some filesystems refuse fsync on a directory (EINVAL); their entries are durable anyway.
    with contextlib.suppress(OSError):
        os.fsync(fd)


def remove_tree(parent_fd: int, name: str) -> int:
    """Remove ``name`` in ``parent_fd`` and everything below, not following links; returns the
    bytes of regular files whose last link went away. Read-only directories are made writable
    first (views are published read-only)."""
    info = lexists(parent_fd, name)
    if info is None:
        return 0
    if not stat.S_ISDIR(info.st_mode):
        freed = info.st_size if info.st_nlink == 1 and stat.S_ISREG(info.st_mode) else 0
        os.unlink(name, dir_fd=parent_fd)
        return freed
    os.chmod(name, 0o700, dir_fd=parent_fd, follow_symlinks=False)
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    freed = 0
    try:
        for child in os.listdir(fd):
            freed += remove_tree(fd, child)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)
    return freed


@functools.cache
def _syncfs() -> ctypes._CFuncPtr | None:
    return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)


@functools.cache
def _sync_file_range() -> ctypes._CFuncPtr | None:
    function = getattr(ctypes.CDLL(None, use_errno=True), "sync_file_range", None)
    if function is not None:
        function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    return function


_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing ``length`` bytes at ``offset`` of ``fd`` to disk now,
    without waiting for them (``sync_file_range(2)``, ``SYNC_FILE_RANGE_WRITE``).

    A hint, not durability: the ``syncfs`` that follows still decides. Started while a large
    object still downloads, the writeback overlaps the transfer, and the ``syncfs`` before the
    pool has little left to wait for. Without ``sync_file_range`` (not Linux) this does nothing."""
    function = _sync_file_range()
    if function is not None and function(fd, offset, length, _SYNC_FILE_RANGE_WRITE) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ESPIPE, errno.ENOSYS, errno.EOPNOTSUPP):  # not supported here
            raise OSError(code, os.strerror(code))


def sync_filesystem(fd: int) -> None:
    """Make everything written to the filesystem holding ``fd`` durable (``syncfs(2)``).

    One call flushes a whole batch of files and directory entries, where an ``fsync`` per
    file would block a worker thread for a journal commit each (and, on NFS, a COMMIT round
    trip each). Without ``syncfs`` (not Linux) every filesystem is synced."""
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    if syncfs(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
