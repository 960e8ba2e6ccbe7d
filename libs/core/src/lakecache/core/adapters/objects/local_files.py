"""The files of a local lake (``local.py``): its index, its blobs, and who may read them.

A lake this store creates is private to its OS user (directories 0700, files 0600; an existing
root owned by this user is tightened to 0700, with a log line). A blob is opened by walking
``blobs/<xx>/<id>`` from the root with ``O_NOFOLLOW`` and checked on the descriptor
(``fstat``): a blob replaced by a symbolic link, or by anything but a regular file of the
indexed size, is refused, never followed. A read-only open creates nothing.

Blocking functions: call them from a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

from lakecache.core.errors import ConfigurationError

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key BLOB PRIMARY KEY, blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    sha256 TEXT NOT NULL, mtime_ns INTEGER NOT NULL
) WITHOUT ROWID
"""
COLUMNS = "key, size, etag, sha256, mtime_ns"
INDEX_FILE = "index.sqlite3"
#: A lake is private to the OS user that runs the services: these modes for what it creates.
DIR_MODE, FILE_MODE = 0o700, 0o600
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
log = logging.getLogger(__name__)


def enclosing_lake(path: Path) -> Path | None:
    """The nearest directory at or above ``path`` that holds a local lake (its index, a regular
    file: a symlinked index makes no lake)."""
    for candidate in (path, *path.parents):
        try:
            if stat.S_ISREG(os.lstat(candidate / INDEX_FILE).st_mode):
                return candidate
        except OSError:
            continue
    return None


class BlobRefused(Exception):
    """A blob is not what the index says: a link, not a regular file, or another size."""


def open_index(root: Path, *, read_only: bool) -> sqlite3.Connection:
    """The lake's index at ``root``: created (private) when missing, unless ``read_only``."""
    if read_only:
        return _open_index_read_only(root)
    try:
        created = not root.exists()
        root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if not created:
            tighten(root)
        for sub in ("blobs", "tmp"):
            (root / sub).mkdir(mode=DIR_MODE, exist_ok=True)
        # Created 0600 before SQLite opens it: its journal files copy the index's mode.
        os.close(os.open(root / INDEX_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE))
        db = sqlite3.connect(root / INDEX_FILE, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(SCHEMA)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigurationError(f"cannot open the local lake at {root}: {exc}") from exc
    return db


def _open_index_read_only(root: Path) -> sqlite3.Connection:
    index = root / INDEX_FILE
    try:
        info = os.lstat(index)
    except OSError as exc:
        raise ConfigurationError(f"{root} is not a local lake ({INDEX_FILE}: {exc.strerror}); it is opened "
                                 "read-only, so none is created there") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigurationError(f"{index} is not a regular file; refusing to open {root} as a lake")
    try:
        db = sqlite3.connect(f"file:{quote(str(index))}?mode=ro", uri=True, timeout=30, isolation_level=None,
                             check_same_thread=False)
        db.execute("PRAGMA query_only=1")
        db.execute(f"SELECT {COLUMNS} FROM objects LIMIT 0")
    except sqlite3.Error as exc:
        raise ConfigurationError(f"cannot read the local lake at {root} ({exc}); is it a LakeCache lake?") from exc
    return db


def blob_path(root: Path, blob: str) -> Path:
    return root / "blobs" / blob[:2] / blob


def open_blob(root: Path, blob: str, size: int) -> int:
    """A read descriptor of ``blob``, walked from ``root`` without following a link (the root
    itself is configuration and may be one). ``BlobRefused`` when it is not a regular file of
    ``size`` bytes, ``FileNotFoundError`` when it vanished, ``OSError``."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in ("blobs", blob[:2]):
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        blob_fd = os.open(blob, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise BlobRefused("a symbolic link or not a file where its blob should be") from None
        raise
    finally:
        os.close(fd)
    info = os.fstat(blob_fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size != size:
        os.close(blob_fd)
        raise BlobRefused("not a regular file of the size its index entry says")
    return blob_fd


def create_private(path: Path):
    """A new file only this OS user can read, opened for writing (never through a link)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    return os.fdopen(fd, "wb")


def tighten(root: Path) -> None:
    """Make an existing lake root private when this OS user owns it (a lake made before lakes
    were private); say so, or warn when it cannot be done."""
    with contextlib.suppress(OSError):
        info = os.stat(root)
        mode = stat.S_IMODE(info.st_mode)
        if not mode & 0o077:
            return
        if info.st_uid != os.getuid():
            log.warning("the local lake %s is readable by other users (mode %o) and owned by uid %d", root, mode,
                        info.st_uid)
            return
        os.chmod(root, DIR_MODE)
        log.warning("the local lake %s was readable by other users (mode %o); made it private (0700)", root, mode)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


