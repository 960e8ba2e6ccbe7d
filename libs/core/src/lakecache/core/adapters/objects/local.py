"""``LocalObjectStore``: the lake in a local directory (``file:///abs/dir``), for the embedded
mode and tests. Production code: it passes the same conformance suite as the S3 adapter.

On-disk layout (why not one file per key: S3 lets ``a`` and ``a/b`` both exist, which a
directory tree cannot hold, and percent-escaped names overflow the 255-byte file-name limit for
long Unicode keys)::

    <root>/index.sqlite3     key (UTF-8 BLOB, so SQLite's memcmp order is S3's order)
                             -> blob id, size, etag, sha256, mtime
    <root>/blobs/ab/<id>     content, written once and never modified; <id> is random hex
    <root>/tmp/<id>          writes in progress

A put streams into ``tmp/`` (in a thread, hashing MD5 and SHA-256 as it goes), fsyncs, renames
into ``blobs/`` and fsyncs that directory, then swaps the index row in one SQLite transaction;
the old blob is unlinked after the commit. The commit is the atomic step: readers see the old
row or the new one, and a reader that already opened the old blob keeps reading it (POSIX
keeps unlinked files alive). Conditions are checked inside that ``BEGIN IMMEDIATE``
transaction, so conditional operations are race-safe across threads *and* processes sharing
the directory on a local filesystem (SQLite locking is not reliable on NFS: do not put an
embedded lake on NFS). A crash can leave files in ``tmp/`` or unreferenced blobs; they are
garbage, never visible as objects.

Privacy and links (``local_files``): a lake this store creates is private to its OS user
(directories 0700, files 0600), and a blob is opened without following a link and checked on
its descriptor, so a blob replaced by a symlink is refused (``ConfigurationError``), never
followed.

Read-only: ``from_url(url, read_only=True)`` opens an *existing* lake (the URL is its root or
a directory inside it) without creating anything: no ``blobs/``, ``tmp/`` or index, no missing
parents; the index is opened ``mode=ro`` (SQLite may add its ``-wal``/``-shm`` coordination
files next to an index in WAL mode, as any reader does). A URL in no lake raises
``ConfigurationError``; ``put`` and ``delete`` raise ``ConfigurationError``. Services that
only read a lake they do not own (the cacher reading sources) open it this way.

Keys must be relative POSIX paths on top of the port's rules: no leading ``/``, no empty, ``.``
or ``..`` segment, no backslash. Nothing here ever builds a path from a key, so no key could
escape the root anyway; the rule keeps every key a valid relative path, so a lake can be
exported as a plain directory tree or moved to a server that maps keys onto files.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from lakecache.core.adapters.objects.local_files import (
    COLUMNS,
    DIR_MODE,
    INDEX_FILE,
    BlobRefused,
    blob_path,
    create_private,
    enclosing_lake,
    fsync_dir,
    open_blob,
    open_index,
)
from lakecache.core.adapters.objects.prefixed import PrefixedObjectStore
from lakecache.core.ports.objectstore import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_LIST_LIMIT,
    MIN_CHUNK_SIZE,
    ByteRange,
    ChunkSink,
    ConfigurationError,
    InvalidArgument,
    ListPage,
    NotFound,
    ObjectInfo,
    ObjectReader,
    ObjectStore,
    PreconditionFailed,
    PutData,
    Unavailable,
    etags_equal,
    iter_data_chunks,
    validate_key,
    validate_list_limit,
    validate_range,
)


def _local_key(key: object) -> bytes:
    encoded = validate_key(key)
    assert isinstance(key, str)
    if "\\" in key:
        raise InvalidArgument(f"object key {key!r} contains a backslash; use '/' to separate")
    if key.startswith("/"):
        raise InvalidArgument(f"object key {key!r} is absolute; keys are relative paths")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidArgument(
            f"object key {key!r} has an empty, '.' or '..' segment; the local store accepts "
            "only normalized relative paths such as 'dataset/train/part-0.parquet'"
        )
    return encoded


def _info(row: tuple) -> ObjectInfo:
    key, size, etag, sha256, mtime_ns = row
    modified = datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)
    return ObjectInfo(bytes(key).decode(), size, etag, modified, sha256)


class LocalObjectStore(ObjectStore):
    """Object store in a local directory; see the module comment for the layout."""

    def __init__(self, root: Path, *, chunk_size: int = DEFAULT_CHUNK_SIZE, read_only: bool = False) -> None:
        if chunk_size < MIN_CHUNK_SIZE:
            raise ConfigurationError(
                f"chunk_size={chunk_size} is too small; use at least {MIN_CHUNK_SIZE} bytes"
            )
        self._root = root
        self._chunk_size = chunk_size
        self._read_only = read_only
        self._db: sqlite3.Connection | None = None
        # One connection, used from worker threads one at a time.
        self._db_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE, read_only: bool = False) -> ObjectStore:
        """Build a store for ``file:///absolute/dir`` (created on open, unless ``read_only``).

        Like ``s3://bucket/prefix``, a URL *inside* an existing lake means the keys under that
        sub-path of the lake's one store: it returns a ``PrefixedObjectStore`` view. The only
        I/O is looking for an enclosing lake's index (``lstat``); nothing is opened. With
        ``read_only`` the URL must be in an existing lake (else ``ConfigurationError``) and the
        store never writes (see the module's docstring).
        """
        parts = urlsplit(url)
        path = unquote(parts.path)
        local = parts.netloc in ("", "localhost")
        if parts.scheme != "file" or not local or not path.startswith("/"):
            raise ConfigurationError(
                f"invalid local lake URL {url!r}: use file:///absolute/path/to/dir"
            )
        if parts.query or parts.fragment:
            raise ConfigurationError(f"local lake URL {url!r} must not carry a query or fragment")
        directory = Path(path)
        if any(part in (".", "..") for part in path.split("/")):
            raise ConfigurationError(f"local lake URL {url!r} has a '.' or '..' segment; give the canonical path")
        root = enclosing_lake(directory)
        if root is None and read_only:
            raise ConfigurationError(
                f"{url} is not in a local lake (no {INDEX_FILE} at or above {directory}); it is opened "
                "read-only, so none is created there: point at an existing lake"
            )
        if root is None or root == directory:
            return cls(directory, chunk_size=chunk_size, read_only=read_only)
        prefix = directory.relative_to(root).as_posix()
        try:
            _local_key(prefix)  # the sub-path must itself be a valid key prefix
        except InvalidArgument as exc:
            raise ConfigurationError(f"local lake URL {url!r} is not a valid place in lake {root}: {exc}") from None
        return PrefixedObjectStore(cls(root, chunk_size=chunk_size, read_only=read_only), prefix,
                                   url=directory.as_uri())

    @property
    def url(self) -> str:
        return self._root.as_uri()

    async def __aenter__(self) -> Self:
        self._db = await asyncio.to_thread(self._open_index)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        db, self._db = self._db, None
        if db is None:
            return

        def close() -> None:
            # Under the lock: a worker thread of a cancelled call may still be using the
            # connection, and closing it underneath crashes the sqlite3 module.
            with self._db_lock:
                db.close()

        await asyncio.to_thread(close)

    def _open_index(self) -> sqlite3.Connection:
        return open_index(self._root, read_only=self._read_only)

    def _writable(self, what: str) -> None:
        if self._read_only:
            raise ConfigurationError(f"{what}: the local lake {self.url} was opened read-only; nothing is "
                                     "written to it")

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(db, *args)`` in a thread, holding the connection."""
        if self._db is None:
            raise RuntimeError(f"open the store first: `async with store:` ({self.url})")
        db = self._db

        def call() -> Any:
            with self._db_lock:
                if self._db is not db:
                    raise Unavailable(f"the local lake {self.url} was closed while a call was pending")
                return fn(db, *args)

        return await asyncio.to_thread(call)

    def _blob_path(self, blob: str) -> Path:
        return blob_path(self._root, blob)

    def _open_blob(self, key: str, blob: str, size: int) -> int:
        try:
            return open_blob(self._root, blob, size)
        except BlobRefused as exc:
            raise self._tampered(key, str(exc)) from None
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise Unavailable(f"cannot open the blob of {key!r} in {self.url}: {exc.strerror}") from None

    def _tampered(self, key: str, what: str) -> ConfigurationError:
        return ConfigurationError(f"the local lake {self.url} was altered outside LakeCache: the blob of {key!r} "
                                  f"is {what}; it is not read. Restore the lake from a backup")

    async def list(
        self, prefix: str = "", *, start_after: str | None = None, token: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> ListPage:
        validate_list_limit(limit)
        low = prefix.encode()
        after = token if token is not None else start_after
        sql = f"SELECT {COLUMNS} FROM objects WHERE key >= ?"
        args: list[Any] = [low]
        if low:  # UTF-8 never contains 0xff, so bumping the last byte bounds the prefix
            sql += " AND key < ?"
            args.append(low[:-1] + bytes([low[-1] + 1]))
        if after is not None:
            sql += " AND key > ?"
            args.append(after.encode())
        sql += " ORDER BY key LIMIT ?"
        args.append(limit + 1)
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        objects = tuple(_info(row) for row in rows[:limit])
        next_token = objects[-1].key if len(rows) > limit else None
        return ListPage(objects, next_token)

    async def head(self, key: str, *, if_match: str | None = None) -> ObjectInfo:
        encoded = _local_key(key)
        row = await self._run(self._select, encoded)
        return self._check(key, row, if_match)[0]

    def _select(self, db: sqlite3.Connection, key: bytes) -> tuple | None:
        return db.execute(
            f"SELECT {COLUMNS}, blob FROM objects WHERE key = ?", (key,)
        ).fetchone()

    def _check(self, key: str, row: tuple | None, if_match: str | None) -> tuple[ObjectInfo, str]:
        if row is None:
            raise NotFound(f"object {key!r} does not exist in {self.url}")
        info = _info(row[:5])
        if if_match is not None and not etags_equal(info.etag, if_match):
            raise PreconditionFailed(
                f"object {key!r} in {self.url} has etag {info.etag}, not {if_match}; "
                "it changed since you read it: read it again"
            )
        return info, row[5]

    def get(
        self, key: str, *, range: ByteRange | None = None, if_match: str | None = None
    ) -> ObjectReader:
        encoded = _local_key(key)
        return _LocalReader(self, key, encoded, validate_range(key, range), if_match)

    async def read_into(
        self, key: str, sink: ChunkSink, *, range: ByteRange | None = None, if_match: str | None = None,
        part_size: int | None = None,
    ) -> int:
        # One thread reads and sinks every chunk: no hop to and from the event loop per chunk
        # (parallel parts would buy nothing from a local file).
        async with self.get(key, range=range, if_match=if_match) as reader:
            assert isinstance(reader, _LocalReader)
            stop = threading.Event()
            copying = asyncio.ensure_future(asyncio.to_thread(reader.copy_to, sink, stop))
            try:
                return await asyncio.shield(copying)
            except asyncio.CancelledError:
                stop.set()  # the sink may be writing to the caller's file: wait until it has stopped
                with contextlib.suppress(BaseException):
                    await copying
                raise

    async def put(
        self, key: str, data: PutData, *, if_match: str | None = None,
        if_none_match: bool = False, sha256: str | None = None,
    ) -> ObjectInfo:
        encoded = _local_key(key)
        self._writable(f"put {key!r}")
        if if_match is not None and if_none_match:
            raise InvalidArgument(f"put {key!r}: pass if_match or if_none_match, not both")
        blob = os.urandom(16).hex()
        tmp = self._root / "tmp" / blob
        try:
            handle = await asyncio.to_thread(create_private, tmp)
        except OSError as exc:
            raise InvalidArgument(f"cannot write to the local lake {self.url}: {exc}") from exc
        md5, digest, size = hashlib.md5(), hashlib.sha256(), 0

        def write(chunk: bytes | memoryview) -> None:
            handle.write(chunk)
            md5.update(chunk)
            digest.update(chunk)

        try:
            try:
                # Gather small chunks so each thread hop moves at least chunk_size bytes.
                pending = bytearray()
                async for chunk in iter_data_chunks(data, self._chunk_size):
                    size += len(chunk)
                    if not pending and len(chunk) >= self._chunk_size:
                        await asyncio.to_thread(write, chunk)
                        continue
                    pending += chunk
                    if len(pending) >= self._chunk_size:
                        await asyncio.to_thread(write, pending)
                        pending = bytearray()
                if pending:
                    await asyncio.to_thread(write, pending)
                await asyncio.to_thread(lambda: (handle.flush(), os.fsync(handle.fileno())))
            finally:
                await asyncio.to_thread(handle.close)
            actual = digest.hexdigest()
            if sha256 is not None and actual != sha256.lower():
                raise InvalidArgument(
                    f"put {key!r}: content sha256 {actual} does not match the expected "
                    f"{sha256}; nothing was written"
                )
        except BaseException:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
            raise
        # From here on one thread call finishes the write, even if this task is cancelled:
        # it either commits, or cleans up after itself.
        row = (encoded, blob, size, f'"{md5.hexdigest()}"', actual, 0)
        return await asyncio.to_thread(self._install, key, tmp, row, if_match, if_none_match)

    def _install(
        self, key: str, tmp: Path, row: tuple, if_match: str | None, if_none_match: bool
    ) -> ObjectInfo:
        path = self._blob_path(row[1])
        try:
            path.parent.mkdir(mode=DIR_MODE, exist_ok=True)
            os.replace(tmp, path)
            fsync_dir(path.parent)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        old_blob = None
        try:
            with self._db_lock:
                db = self._db
                if db is None:
                    raise RuntimeError(f"the store {self.url} was closed during a put")
                db.execute("BEGIN IMMEDIATE")
                try:
                    current = self._select(db, row[0])
                    if if_none_match and current is not None:
                        raise PreconditionFailed(
                            f"object {key!r} already exists in {self.url} (if_none_match)"
                        )
                    if if_match is not None:
                        if current is None:
                            raise PreconditionFailed(
                                f"object {key!r} does not exist in {self.url}, so it cannot "
                                f"match etag {if_match}"
                            )
                        self._check(key, current, if_match)
                    row = (*row[:5], time.time_ns())
                    db.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?,?)", row)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            old_blob = current[5] if current is not None else None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if old_blob is not None:
            self._blob_path(old_blob).unlink(missing_ok=True)
        encoded, _, size, etag, sha256, mtime_ns = row
        return _info((encoded, size, etag, sha256, mtime_ns))

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        encoded = _local_key(key)
        self._writable(f"delete {key!r}")

        def remove(db: sqlite3.Connection) -> str | None:
            db.execute("BEGIN IMMEDIATE")
            try:
                current = self._select(db, encoded)
                if current is None:
                    db.execute("COMMIT")
                    return None
                self._check(key, current, if_match)
                db.execute("DELETE FROM objects WHERE key = ?", (encoded,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return current[5]

        blob = await self._run(remove)
        if blob is not None:
            await asyncio.to_thread(self._blob_path(blob).unlink, missing_ok=True)


class _LocalReader(ObjectReader):
    def __init__(
        self, store: LocalObjectStore, key: str, encoded: bytes, range: ByteRange | None,
        if_match: str | None,
    ) -> None:
        super().__init__()
        self._store, self._key, self._encoded = store, key, encoded
        self._requested, self._if_match = range, if_match
        self._fd: int | None = None

    async def _start(self) -> None:
        store = self._store
        # A concurrent put may unlink the blob between the lookup and the open (another
        # process does not share our lock): look up again.
        for _ in range(5):
            row = await store._run(store._select, self._encoded)
            self.info, blob = store._check(self._key, row, self._if_match)
            try:
                self._fd = await asyncio.to_thread(store._open_blob, self._key, blob, self.info.size)
                break
            except FileNotFoundError:
                continue
        else:
            raise NotFound(f"object {self._key!r} in {store.url} kept changing while opening it")
        size = self.info.size
        if self._requested is None:
            self.range = (0, size - 1) if size else None
            return
        start, end = self._requested
        if start >= size:
            await self._finish()
            raise InvalidArgument(
                f"range {self._requested} starts past the end of {self._key!r} ({size} bytes)"
            )
        self.range = (start, min(end, size - 1))

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self.range is None or self._fd is None:
            return
        offset, end = self.range
        chunk_size = self._store._chunk_size
        while offset <= end:
            want = min(chunk_size, end - offset + 1)
            chunk = self._checked(await asyncio.to_thread(os.pread, self._fd, want, offset), want)
            offset += want
            yield chunk

    def copy_to(self, sink: ChunkSink, stop: threading.Event) -> int:
        """Read the rest into ``sink`` in this (worker) thread, until done or ``stop`` is set."""
        if self.range is None or self._fd is None:
            return 0
        start, end = self.range
        offset, chunk_size = start, self._store._chunk_size
        while offset <= end and not stop.is_set():
            want = min(chunk_size, end - offset + 1)
            sink(memoryview(self._checked(os.pread(self._fd, want, offset), want)), offset - start)
            offset += want
        return offset - start

    def _checked(self, chunk: bytes, want: int) -> bytes:
        if len(chunk) != want:  # blobs are never modified, so this is disk damage
            raise Unavailable(
                f"the blob of {self._key!r} in {self._store.url} is shorter than its index "
                "entry says: the disk lost data; restore the lake from a backup"
            )
        return chunk

    async def _finish(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            await asyncio.to_thread(os.close, fd)
