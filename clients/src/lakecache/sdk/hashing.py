"""SHA-256 of local files, remembered across runs so a re-sync hashes only what changed.

The cache is a small SQLite file (``<cache_dir>/hashes.sqlite``) keyed by the absolute path
and validated by ``(size, mtime_ns, inode)``: any write, replacement (new inode) or truncation
changes one of them. Like ``git``'s index it trusts the file system's timestamps; a file
rewritten with the same size within one timestamp tick would be missed, which nanosecond
timestamps on current file systems make practically impossible.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from lakecache.sdk.tree import LocalFile

# Big reads keep the per-call overhead negligible; hashlib releases the GIL while hashing
# buffers this size, so several threads hash in parallel.
READ_SIZE = 8 << 20


def hash_file(path: str) -> str:
    """Lowercase hex SHA-256 of the file's content. Blocking: call from a worker thread."""
    digest = hashlib.sha256()
    buffer = bytearray(READ_SIZE)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
    return digest.hexdigest()


class HashCache:
    """``(path, size, mtime_ns, inode) → sha256``; safe to lose (it is only a cache)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Used from one thread at a time (the caller batches lookups and stores).
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
            " inode INTEGER, sha256 TEXT)"
        )

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
