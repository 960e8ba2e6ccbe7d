"""SHA-256 of local files, read from one descriptor each, remembered across runs so a re-sync
hashes only what changed.

The cache is a small SQLite file (``<cache_dir>/hashes.sqlite``) keyed by the absolute path
and validated by ``(size, mtime_ns, inode)``: any write, replacement (new inode) or truncation
changes one of them. Like ``git``'s index it trusts the file system's timestamps; a file
rewritten with the same size within one timestamp tick would be missed, which nanosecond
timestamps on current file systems make practically impossible.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from lakecache.core.errors import ConfigurationError
from lakecache.sdk.files import READ_SIZE, FileChanged, Interrupted, TreeRoot, describe_change, read_into, same_file
from lakecache.sdk.tree import LocalFile

# Small files get a small buffer: zeroing 8 MiB for each of a million small files would cost more than hashing.
_MIN_BUFFER = 64 << 10


def hash_descriptor(fd: int, file: LocalFile, *, stop: threading.Event | None = None) -> str:
    """Lowercase hex SHA-256 of what ``fd`` (opened by ``TreeRoot.open``) holds.

    Raises ``FileChanged`` when the bytes read are not ``file.size`` or the descriptor's
    ``fstat`` changed meanwhile (the file was written while it was read), ``Interrupted`` once
    ``stop`` is set (checked before each read). Blocking: call from a worker thread.
    """
    digest = hashlib.sha256()
    buffer = bytearray(min(READ_SIZE, max(file.size + 1, _MIN_BUFFER)))
    view = memoryview(buffer)
    total = 0
    while True:
        if stop is not None and stop.is_set():
            raise Interrupted(f"stopped while hashing {file.path!r}")
        count = read_into(fd, buffer)
        if not count:
            break
        digest.update(view[:count])
        total += count
        if total > file.size:
            break
    info = os.fstat(fd)
    if not same_file(info, file):
        raise FileChanged(file.path, describe_change(info, file) + " while it was read")
    if total != file.size:
        raise FileChanged(file.path, f"{total:,} bytes read of the {file.size:,} listed")
    return digest.hexdigest()


def hash_file(root: TreeRoot, file: LocalFile, *, stop: threading.Event | None = None) -> str:
    """Open ``file`` once below ``root`` and hash it from that descriptor (see ``hash_descriptor``).

    Also raises ``NotRegular`` when the path is no longer a regular file (a link, a FIFO…).
    """
    fd = root.open(file)
    try:
        return hash_descriptor(fd, file, stop=stop)
    finally:
        os.close(fd)


class HashCache:
    """``(path, size, mtime_ns, inode) → sha256``; safe to lose (it is only a cache)."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the cache at ``path``; ``ConfigurationError`` when it cannot be used."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Used from one thread at a time (the caller batches lookups and stores).
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
                " inode INTEGER, sha256 TEXT)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(
                f"cannot use the hash cache {str(path)!r} ({getattr(exc, 'strerror', None) or exc}); set "
                "LAKECACHE_CACHE_DIR to a writable directory, or sync with --no-hash-cache"
            ) from exc

    def close(self) -> None:
        self._db.close()

    def lookup(self, files: Iterable[LocalFile]) -> dict[str, str]:
        """Known hashes of the files whose size, mtime and inode are unchanged, by local path."""
        found: dict[str, str] = {}
        query = "SELECT size, mtime_ns, inode, sha256 FROM hashes WHERE path = ?"
        for file in files:
            row = self._db.execute(query, (_key(file.local),)).fetchone()
            if row is not None and tuple(row[:3]) == (file.size, file.mtime_ns, file.inode):
                found[file.local] = row[3]
        return found

    def store(self, hashed: Iterable[tuple[LocalFile, str]]) -> None:
        rows = [(_key(f.local), f.size, f.mtime_ns, f.inode, sha) for f, sha in hashed]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?)", rows)


def _key(local: str) -> str:
    # Undecodable names carry surrogates, which SQLite's UTF-8 text cannot hold.
    return str(Path(local).absolute()).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
