"""Fetching missing content into the pool: temp file → sha256 check → fsync → link into pool.

Requests in flight are capped by one semaphore shared by whole-object and ranged GETs; size
it like the S3 adapter's ``max_concurrency`` (its connection pool), or tasks just queue for
connections inside aiobotocore. Small objects take one GET; objects above
``ranged_threshold`` take parallel ranged GETs pinned to one version with ``if_match`` and
written in place with ``pwrite``. Disk writes and hashing run in worker threads (hashlib
releases the GIL on large buffers), so the event loop only moves chunks.

Durability: the temp file is fsynced before it is linked into the pool, because a pool name
is the promise "these bytes were verified" that later fills rely on without re-reading.
Directory entries are fsynced in a batch (``sync_pool``) before a view that uses them is
published: after a crash an entry that did not persist is simply fetched again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lakecache.cacher.fill.errors import FillError
from lakecache.cacher.fill.planner import Content
from lakecache.cacher.volume.layout import VolumeLayout
from lakecache.cacher.volume.safety import fsync_dir, open_dir
from lakecache.core.errors import ConfigurationError, InvalidArgument, NotFound, PreconditionFailed, Unavailable
from lakecache.core.ports.objectstore import MiB, ObjectStore

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_HASH_BLOCK = 8 * MiB
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class FetchOptions:
    max_concurrency: int = 16  # requests in flight; match the store's connection pool
    ranged_threshold: int = 64 * MiB  # objects above this are fetched in parallel ranges
    part_size: int = 16 * MiB
    attempts: int = 5  # per object, for transient failures and checksum mismatches
    backoff_seconds: float = 0.2  # first retry delay; doubles, with jitter, up to backoff_max
    backoff_max: float = 5.0
    fsync: bool = True


class _Retry(Exception):
    """A transient failure of one attempt (short body, checksum mismatch)."""


Resolver = Callable[[Content], Awaitable[tuple[ObjectStore, str]]]


class Fetcher:
    def __init__(
        self, layout: VolumeLayout, root_fd: int, tmp_fd: int, resolve: Resolver, options: FetchOptions,
        on_bytes: Callable[[int], None],
    ) -> None:
        self._layout, self._root_fd, self._tmp_fd = layout, root_fd, tmp_fd
        self._resolve, self._options, self._on_bytes = resolve, options, on_bytes
        self._slots = asyncio.Semaphore(options.max_concurrency)
        self._dirty_buckets: set[tuple[str, ...]] = set()
        self.bytes_fetched = 0
        self.objects_fetched = 0

    async def fetch(self, content: Content) -> None:
        """Put ``content`` into the pool, verified, or raise ``FillError`` naming it."""
        store, key = await self._resolve(content)
        where = f"{key!r} in {store.url}"
        name = f"{content.sha256}.{os.getpid()}-{secrets.token_hex(4)}.part"
        fd = await asyncio.to_thread(
            os.open, name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
            dir_fd=self._tmp_fd,
        )
        try:
            await self._download(store, key, where, content, fd)
            await asyncio.to_thread(self._into_pool, fd, name, content.sha256)
        except OSError as exc:
            raise _disk_error(exc, content) from exc
        finally:
            os.close(fd)
            # Linked into the pool or failed: either way the temp name goes (also on cancel).
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=self._tmp_fd)
        self.objects_fetched += 1
        self.bytes_fetched += content.size

    async def _download(self, store: ObjectStore, key: str, where: str, content: Content, fd: int) -> None:
        options = self._options
        if content.size == 0:  # nothing to transfer; the hash still has to be the empty one
            if content.sha256 != _EMPTY_SHA256:
                raise FillError(
                    f"manifest entry {content.path!r} has size 0 but sha256 {content.sha256}; the "
                    "commit is inconsistent, fix it in the catalog", retryable=False, failed_paths=[content.path],
                )
            return
        etag = content.etag
        done: set[int] = set()  # ranges already written, kept across attempts of one version
        failure = ""
        for attempt in range(1, options.attempts + 1):
            try:
                if content.size > options.ranged_threshold:
                    etag = etag or (await store.head(key)).etag  # pin all ranges to one version
                    digest = await self._ranged(store, key, content, fd, etag, done)
                else:
                    digest = await self._whole(store, key, content, fd, etag)
                if digest == content.sha256:
                    return
                done.clear()
                failure = f"content sha256 {digest} does not match the manifest's {content.sha256}"
            except PreconditionFailed:
                # The object was rewritten since the commit (a re-upload of the same content
                # gets a new etag): follow the current version; the sha256 check decides.
                done.clear()
                etag = (await store.head(key)).etag
                failure = "the object changed while it was read"
                continue
            except (Unavailable, _Retry) as exc:
                failure = str(exc)
            except NotFound as exc:
                raise FillError(
                    f"object {where} (content of {content.path!r}) is missing from the lake: {exc}. "
                    "The commit refers to content that was deleted; re-sync the dataset",
                    retryable=False, failed_paths=[content.path],
                ) from exc
            except (ConfigurationError, InvalidArgument) as exc:
                raise FillError(
                    f"reading object {where} (content of {content.path!r}) was refused: {exc}",
                    retryable=False, failed_paths=[content.path],
                ) from exc
            if attempt < options.attempts:
                delay = min(options.backoff_max, options.backoff_seconds * 2 ** (attempt - 1))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        mismatch = failure.startswith("content sha256")
        raise FillError(
            f"could not fetch object {where} (content of {content.path!r}) after {options.attempts} "
            f"attempts: {failure}. "
            + ("The lake holds different bytes than the commit recorded; re-sync the dataset"
               if mismatch else "The lake was unreachable or failing; retry the fill later"),
            retryable=not mismatch, failed_paths=[content.path],
        )

    async def _whole(self, store: ObjectStore, key: str, content: Content, fd: int, etag: str | None) -> str:
        digest = hashlib.sha256()
        written = 0
        try:
            async with self._slots, store.get(key, if_match=etag) as reader:
                async for chunk in reader:
                    await asyncio.to_thread(_write_at, fd, written, chunk, digest)
                    written += len(chunk)
                    self._on_bytes(len(chunk))
        except BaseException:
            self._on_bytes(-written)  # progress counts bytes kept, not bytes tried
            raise
        if written != content.size:
            self._on_bytes(-written)
            raise _Retry(f"got {written} of {content.size} bytes")
        return digest.hexdigest()

    async def _ranged(
        self, store: ObjectStore, key: str, content: Content, fd: int, etag: str, done: set[int]
    ) -> str:
        part = self._options.part_size
        spans = [(s, min(s + part, content.size) - 1) for s in range(0, content.size, part) if s not in done]
        # A failed range does not cancel its siblings: they finish, land in ``done``, and the
        # retry asks only for what failed. The first failure decides how to retry.
        results = await asyncio.gather(
            *(self._range(store, key, span, fd, etag, done) for span in spans), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return await asyncio.to_thread(_hash_file, fd, content.size)

    async def _range(
        self, store: ObjectStore, key: str, span: tuple[int, int], fd: int, etag: str, done: set[int]
    ) -> None:
        start, end = span
        offset = start
        try:
            async with self._slots, store.get(key, range=span, if_match=etag) as reader:
                async for chunk in reader:
                    await asyncio.to_thread(_write_at, fd, offset, chunk, None)
                    offset += len(chunk)
                    self._on_bytes(len(chunk))
        except BaseException:
            self._on_bytes(start - offset)
            raise
        if offset != end + 1:
            self._on_bytes(start - offset)
            raise _Retry(f"range {start}-{end}: got {offset - start} of {end + 1 - start} bytes")
        done.add(start)

    def _into_pool(self, fd: int, name: str, sha256: str) -> None:
        os.fchmod(fd, 0o444)  # pool files are the view files: read-only for jobs
        if self._options.fsync:
            os.fsync(fd)
        bucket = self._layout.pool_bucket(sha256)
        bucket_fd = open_dir(self._root_fd, self._layout.root, bucket, create=True)
        try:
            # link, not rename: if a concurrent fill already put this content in the pool,
            # keep its inode (views may link it) and drop ours.
            with contextlib.suppress(FileExistsError):
                os.link(name, sha256, src_dir_fd=self._tmp_fd, dst_dir_fd=bucket_fd, follow_symlinks=False)
        finally:
            os.close(bucket_fd)
        self._dirty_buckets.add(bucket)

    def sync_pool(self) -> None:
        """Make the pool entries created so far durable (blocking: run in a thread)."""
        if not self._options.fsync:
            return
        for bucket in sorted(self._dirty_buckets):
            fd = open_dir(self._root_fd, self._layout.root, bucket, create=False)
            try:
                fsync_dir(fd)
            finally:
                os.close(fd)
        self._dirty_buckets.clear()


def _write_at(fd: int, offset: int, chunk: bytes, digest: hashlib._Hash | None) -> None:
    view = memoryview(chunk)
    while view:
        count = os.pwrite(fd, view, offset)
        view, offset = view[count:], offset + count
    if digest is not None:
        digest.update(chunk)


def _hash_file(fd: int, size: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while offset < size:
        block = os.pread(fd, min(_HASH_BLOCK, size - offset), offset)
        if not block:
            break
        digest.update(block)
        offset += len(block)
    return digest.hexdigest()


def _disk_error(exc: OSError, content: Content) -> FillError:
    if exc.errno in NO_SPACE:
        return FillError(
            f"the cache volume is full (or over quota) while writing content of {content.path!r} "
            f"({content.size} bytes): {exc.strerror}. Nothing was published; free space or evict "
            "copies, then retry the fill",
            retryable=True, failed_paths=[content.path],
        )
    return FillError(
        f"writing content of {content.path!r} to the cache volume failed: {exc}",
        retryable=False, failed_paths=[content.path],
    )
