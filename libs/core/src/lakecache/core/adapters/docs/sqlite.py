"""The embedded document store: MongoDB's subset on one SQLite file, for zero-server setups.

URL: ``sqlite:///abs/path/to/file.db`` (``sqlite:////abs/…`` is read the same; the
directory must exist) or ``sqlite:///:memory:``.
Options: ``busy_timeout`` (seconds another process may hold the write lock before an
operation fails with Unavailable; default 5), ``batch_size`` (documents per fetch while
iterating ``find``; default 256).

Layout: one table per collection (``_id TEXT PRIMARY KEY, doc TEXT`` holding JSON), indexes as
SQLite expression indexes on ``json_extract(doc, …)`` (so SQLite itself enforces uniqueness),
and two bookkeeping tables: index definitions, and the paths that have held arrays (see
``sqlite_query``). WAL journal, so readers in other processes never block on a writer.

Concurrency: the connection lives on ONE dedicated thread (a single-worker executor); every
operation is a function run there, so operations serialise, the event loop never blocks, and
a read-modify-write such as ``find_one_and_update`` runs inside one ``BEGIN IMMEDIATE``
transaction — atomic against this process and against other processes on the same file.

Differences from MongoDB, all within the documented subset:

* Unique indexes: SQLite treats NULLs as distinct, so any number of documents may lack an
  indexed field (MongoDB treats a missing field as null and allows one such document;
  FerretDB v1.24 behaves like SQLite here). Because ``json_extract`` maps JSON ``true`` to 1,
  ``true`` and ``1`` collide in a unique index, and an array is indexed as a whole value
  (MongoDB indexes each element). Keep unique keys on scalar fields that are always set.
* ``insert_many``/``update_many`` hitting a Conflict: ``insert_many`` keeps the documents
  before the offending one (as MongoDB does); ``update_many`` changes nothing (MongoDB keeps
  the updates made before the failure).
* Iterating ``find`` first snapshots the ids of the matching documents, then fetches them in
  batches, re-checking the filter; MongoDB cursors behave similarly loosely under concurrent
  writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

from lakecache.core.errors import ConfigurationError, Unavailable
from lakecache.core.ports.docstore import DocumentStore

from .sqlite_collection import SqliteCollection
from .sqlite_query import quote_identifier
from .values import check_collection_name

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS _lakecache_indexes (
    collection TEXT NOT NULL, name TEXT NOT NULL, keys TEXT NOT NULL, is_unique INTEGER NOT NULL,
    PRIMARY KEY (collection, name));
CREATE TABLE IF NOT EXISTS _lakecache_array_paths (
    collection TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (collection, path));
"""


class SqliteDocumentStore(DocumentStore):
    """The document-store port on SQLite; see the module docstring for URL and options."""

    def __init__(self, path: str, *, busy_timeout: float = 5.0, batch_size: int = 256) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.batch_size = batch_size
        self._executor: ThreadPoolExecutor | None = None
        # Owned by the store thread only:
        self._conn: sqlite3.Connection | None = None
        self._tables: set[str] = set()
        self._arrays: dict[str, set[str]] = {}
        self._data_version: int | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``sqlite:///abs/path.db`` or ``sqlite:///:memory:``; options as the module says."""
        parts = urlsplit(url)
        if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/") or parts.query:
            raise ConfigurationError(
                f"invalid SQLite document store URL {url!r}: use sqlite:///absolute/path.db or "
                "sqlite:///:memory: (options are keyword arguments, not query parameters)"
            )
        # sqlite:///abs/path and SQLAlchemy's sqlite:////abs/path both name /abs/path.
        path = "/" + parts.path.lstrip("/")
        path = ":memory:" if path == "/:memory:" else path
        unknown = set(options) - {"busy_timeout", "batch_size"}
        if unknown:
            raise ConfigurationError(
                f"unknown SQLite document store option(s) {sorted(unknown)}; accepted: "
                "busy_timeout, batch_size"
            )
        batch_size = options.get("batch_size", 256)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
        return cls(path, busy_timeout=float(options.get("busy_timeout", 5.0)), batch_size=batch_size)

    async def __aenter__(self) -> Self:
        if self._executor is not None:
            raise RuntimeError("this SqliteDocumentStore is already open")
        if self.path != ":memory:" and not Path(self.path).parent.is_dir():
            raise ConfigurationError(
                f"cannot open the document store {self.path!r}: directory "
                f"{str(Path(self.path).parent)!r} does not exist; create it first"
            )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lakecache-sqlite")
        try:
            await self.call(self._open)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._executor is None:
            return
        try:
            await self.call(self._close)
        finally:
            self._executor.shutdown(wait=False)
            self._executor = None

    def collection(self, name: str) -> SqliteCollection:
        """Return the collection ``name`` (no I/O)."""
        return SqliteCollection(self, check_collection_name(name))

    async def ping(self) -> None:
        """Run a trivial query on the store thread."""
        await self.call(lambda: self.conn.execute("SELECT 1").fetchone())

    async def drop_collection(self, name: str) -> None:
        """Drop the collection's table, its indexes and its bookkeeping rows."""
        check_collection_name(name)

        def drop() -> None:
            with self.transaction():
                self.conn.execute(f"DROP TABLE IF EXISTS {quote_identifier(name)}")
                self.conn.execute("DELETE FROM _lakecache_indexes WHERE collection = ?", (name,))
                self.conn.execute("DELETE FROM _lakecache_array_paths WHERE collection = ?", (name,))
                self._tables.discard(name)
                self._arrays.pop(name, None)

        await self.call(drop)

    # -- the store thread -----------------------------------------------------------------------

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the store thread and return its result."""
        if self._executor is None:
            raise RuntimeError("the document store is not open; use `async with store:`")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._guarded, function, args)

    def _guarded(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            try:
                return function(*args)
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    raise
                # Another process dropped a table we had seen: forget what we knew, retry once.
                self._tables.clear()
                self._data_version = None
                return function(*args)
        except sqlite3.OperationalError as exc:
            message = str(exc)
            if "locked" in message or "busy" in message or "unable to open" in message:
                raise Unavailable(
                    f"the SQLite document store {self.path!r} is unavailable ({message}); another "
                    "process may hold its write lock, retry or raise busy_timeout"
                ) from exc
            raise

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the document store is not open; use `async with store:`")
        return self._conn

    def _open(self) -> None:
        if self.path != ":memory:" and not os.path.exists(self.path):
            # Created private (SQLite gives its -wal and -shm files the database's mode): the
            # embedded stores hold tokens' hashes, users and the audit log.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                                 0o600))
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE … COMMIT).
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout)
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot open the SQLite document store {self.path!r}: {exc}") from exc
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction holding SQLite's write lock from the start."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def table_exists(self, name: str) -> bool:
        if name not in self._tables:
            row = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
            if row is None:
                return False
            self._tables.add(name)
        return True

    def ensure_table(self, name: str) -> None:
        if name not in self._tables:
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {quote_identifier(name)} (_id TEXT PRIMARY KEY, doc TEXT NOT NULL)"
            )
            self._tables.add(name)

    def array_paths(self, name: str) -> set[str]:
        """Paths that have held an array in collection ``name`` (re-read when another
        connection committed since we last looked)."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._arrays = {}
            for collection, path in self.conn.execute("SELECT collection, path FROM _lakecache_array_paths"):
                self._arrays.setdefault(collection, set()).add(path)
            self._data_version = version
        return self._arrays.setdefault(name, set())

    def note_array_paths(self, name: str, paths: set[str]) -> None:
        """Record new array paths (inside the caller's write transaction)."""
        known = self.array_paths(name)
        new = paths - known
        if new:
            self.conn.executemany(
                "INSERT OR IGNORE INTO _lakecache_array_paths (collection, path) VALUES (?, ?)",
                [(name, path) for path in sorted(new)],
            )
            known |= new
