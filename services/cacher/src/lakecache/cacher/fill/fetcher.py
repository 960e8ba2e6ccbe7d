"""Fetching missing content into the pool: temp file → sha256 check → durable → link into pool.

Requests in flight are capped by one semaphore, sized like the S3 adapter's
``max_concurrency`` (its connection pool). No byte passes through the event loop (ADR 0019):
the store's threads (on S3, the AWS Common Runtime's) hand each object's body, in order, to a
sink that writes it in place with ``pwrite`` and feeds the SHA-256 in the same call. An object
up to ``ranged_threshold`` is one GET; a larger one is fetched as parallel ranged GETs of
``part_size``, pinned to one version, and still reaches the sink in order, so it is hashed
while it downloads, never read back. hashlib and ``pwrite`` release the GIL.

Durability: a pool name is the promise "these bytes were verified" that later fills rely on
without re-reading, so content is made durable *before* it gets its pool name. Verified
temp files wait in the temp directory and enter the pool in batches (``sync_batch_bytes`` /
``sync_batch_objects``): one ``syncfs`` makes the whole batch durable, then each is linked.
An ``fsync`` per object measured slower (each blocks a worker thread for a journal commit;
on NFS each is a COMMIT round trip). A crash loses at most the batch not yet linked: those
temp files are discarded and fetched again. The links themselves are made durable by the
``syncfs`` that precedes publishing a view.

Content the pool already holds is not fetched but confirmed in this copy's source first
(``confirm``, see ``fill.confirm``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import itertools
import os
import random
import secrets
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lakecache.cacher.fill.confirm import Confirmer
from lakecache.cacher.fill.errors import FillError
from lakecache.cacher.fill.planner import Content
from lakecache.cacher.volume.layout import VolumeLayout
from lakecache.cacher.volume.safety import open_dir, start_writeback, sync_filesystem
from lakecache.core.errors import ConfigurationError, InvalidArgument, NotFound, PreconditionFailed, Unavailable
from lakecache.core.ports.objectstore import MiB, ObjectStore

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# Page-cache folios are sized by the write: a write of 2 MiB or more asks the kernel for huge
# folios, which on a host whose free memory is fragmented or handed back to a hypervisor cost
# up to 10× the copy itself (measured here: one 8 MiB pwrite at a time 0.4 GB/s against 5 GB/s
# in 256 KiB slices). Slices this size measured best; they keep each syscall's work small too.
_WRITE_SLICE = 256 * 1024
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class FetchOptions:
    max_concurrency: int = 16  # requests in flight; match the store's connection pool
    ranged_threshold: int = 16 * MiB  # objects above this are fetched as parallel ranged GETs
    part_size: int = 8 * MiB  # those ranges' size (measured best on S3: ADR 0019)
    attempts: int = 5  # per object, for transient failures and checksum mismatches
    backoff_seconds: float = 0.2  # first retry delay; doubles, with jitter, up to backoff_max
    backoff_max: float = 5.0
    fsync: bool = True  # make content durable before it enters the pool (off only for benchmarks)
    confirm_present: bool = True  # content found in the pool is confirmed in this copy's source first
    sync_batch_bytes: int = 1024 * MiB  # verified content waiting for one syncfs, at most
    sync_batch_objects: int = 4096


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
        # Enough threads that every request in flight can write while others hash or sync.
        self._disk = ThreadPoolExecutor(options.max_concurrency + 2, thread_name_prefix="lakecache-fill")
        self._staged: list[tuple[str, str, int]] = []  # (temp name, sha256, size): verified, not yet durable
        self._staged_bytes = 0
        self._commit_lock = asyncio.Lock()
        # Unique temp names without a random draw per object (os.urandom is a syscall each).
        self._temp_prefix = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._temp_numbers = itertools.count()
        self.bytes_fetched = 0
        #: Bytes this fill added to the pool (content a concurrent fill pooled first is not counted).
        self.bytes_pooled = 0
        self.objects_fetched = 0
        self._confirmer = Confirmer(layout, root_fd, resolve, options, self._slots, self._in_thread)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        future = asyncio.get_running_loop().run_in_executor(self._disk, fn, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # Let the thread finish before the caller's cleanup closes the fd it writes to:
            # a closed fd number can be reused at once by another file.
            with contextlib.suppress(BaseException):
                await future
            raise

    def close(self) -> None:
        """Drop verified content not yet in the pool (a failed or cancelled fill) and stop the threads."""
        staged, self._staged = self._staged, []
        for name, _, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=self._tmp_fd)
        self._disk.shutdown(wait=True)

    async def fetch(self, content: Content) -> None:
        """Put ``content`` into the pool (or the batch bound for it), verified, or raise ``FillError``."""
        store, key = await self._resolve(content)
        where = f"{key!r} in {store.url}"
        name = f"{content.sha256}.{self._temp_prefix}-{next(self._temp_numbers)}.part"
        fd = await self._in_thread(_create_temp, name, self._tmp_fd)
        verified = False
        try:
            await self._download(store, key, where, content, fd)
            closing, fd = fd, -1
            await self._in_thread(_seal, closing, self._layout.modes.file)
            verified = True
        except OSError as exc:
            raise _disk_error(exc, content) from exc
        finally:
            if fd >= 0:
                os.close(fd)
            if not verified:  # failed or cancelled: the temp name goes
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=self._tmp_fd)
        self.objects_fetched += 1
        self.bytes_fetched += content.size
        self._staged.append((name, content.sha256, content.size))
        self._staged_bytes += content.size
        options = self._options
        if not options.fsync or self._staged_bytes >= options.sync_batch_bytes or \
                len(self._staged) >= options.sync_batch_objects:
            await self.commit()

    async def confirm(self, content: Content) -> None:
        """Check that this copy's source holds ``content``, already in the pool (``fill.confirm``)."""
        await self._confirmer.confirm(content)

    async def confirm_listed(self, contents: list[Content]) -> list[Content]:
        """Confirm pooled contents by listing their content store where that is cheaper than a
        HEAD each; returns those left to :meth:`confirm` (``fill.confirm``)."""
        return await self._confirmer.confirm_listed(contents)

    async def commit(self) -> None:
        """Make the verified content fetched so far durable and link it into the pool."""
        async with self._commit_lock:
            batch, self._staged, self._staged_bytes = self._staged, [], 0
            if not batch:
                return
            try:
                await self._in_thread(self._into_pool, batch)
            except BaseException:
                self._staged = batch + self._staged  # still in the temp directory: close() drops them
                raise

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
        failure = ""
        for attempt in range(1, options.attempts + 1):
            try:
                digest = await self._into(store, key, content, fd, etag)
                if digest == content.sha256:
                    return
                # Not the digest itself: an error must not tell the hash of bytes the requester never saw.
                failure = "the bytes read do not match the manifest's sha256"
            except PreconditionFailed:
                # The object was rewritten since the commit (a re-upload of the same content
                # gets a new etag): follow the current version; the sha256 check decides.
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
        mismatch = failure.startswith("the bytes read do not match")
        raise FillError(
            f"could not fetch object {where} (content of {content.path!r}) after {options.attempts} "
            f"attempts: {failure}. "
            + ("The lake holds different bytes than the commit recorded; re-sync the dataset"
               if mismatch else "The lake was unreachable or failing; retry the fill later"),
            retryable=not mismatch, failed_paths=[content.path],
        )

    async def _into(self, store: ObjectStore, key: str, content: Content, fd: int, etag: str | None) -> str:
        """Write the object into ``fd`` as it arrives and return the SHA-256 of what was written."""
        size = content.size
        part_size = self._options.part_size if size > self._options.ranged_threshold else None
        if part_size is not None:
            etag = etag or (await store.head(key)).etag  # every part of one version
        digest = hashlib.sha256()
        loop = asyncio.get_running_loop()
        shown = 0  # a large object's progress, told as it arrives
        durable = self._options.fsync

        def sink(chunk: memoryview, offset: int) -> None:  # on the store's threads, in order
            nonlocal shown
            if offset + len(chunk) > size:  # stop at once: an oversized object must not fill the disk
                raise _Retry(f"the object is larger than the manifest's {size} bytes")
            _write_at(fd, offset, chunk)
            digest.update(chunk)
            if part_size is not None:
                if durable:  # the disk starts on this part while the next ones download
                    start_writeback(fd, offset, len(chunk))
                shown += len(chunk)
                loop.call_soon_threadsafe(self._on_bytes, len(chunk))

        # No truncation before a retry: the sink never writes past ``size``, so an attempt that
        # succeeds has written every byte of the file.
        try:
            async with self._slots:
                # One byte more than the manifest's size at most: an oversized object costs no more.
                written = await store.read_into(key, sink, range=(0, size), if_match=etag, part_size=part_size)
            if written != size:
                raise _Retry(f"the object's size is not the manifest's {size} bytes")
        except BaseException:
            loop.call_soon(self._on_bytes, -shown)  # after the store's last call_soon_threadsafe
            raise
        found = digest.hexdigest()
        # Progress counts bytes kept, not bytes tried.
        loop.call_soon(self._on_bytes, written - shown if found == content.sha256 else -shown)
        return found

    def _into_pool(self, batch: list[tuple[str, str, int]]) -> None:
        if self._options.fsync:
            sync_filesystem(self._tmp_fd)
        buckets: dict[tuple[str, ...], int] = {}
        try:
            for name, sha256, size in batch:
                bucket = self._layout.pool_bucket(sha256)
                if bucket not in buckets:
                    buckets[bucket] = open_dir(self._root_fd, self._layout.root, bucket, create=True)
                # link, not rename: if a concurrent fill already put this content in the pool,
                # keep its inode (views may link it) and drop ours.
                try:
                    os.link(name, sha256, src_dir_fd=self._tmp_fd, dst_dir_fd=buckets[bucket],
                            follow_symlinks=False)
                except FileExistsError:
                    pass
                else:
                    self.bytes_pooled += size
                os.unlink(name, dir_fd=self._tmp_fd)
        finally:
            for fd in buckets.values():
                os.close(fd)


def _create_temp(name: str, tmp_fd: int) -> int:
    return os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=tmp_fd)


def _seal(fd: int, mode: int) -> None:
    try:
        os.fchmod(fd, mode)  # pool files are the view files: read-only, readable as the view mode says
    finally:
        os.close(fd)


def _write_at(fd: int, offset: int, chunk: memoryview) -> None:
    for start in range(0, len(chunk), _WRITE_SLICE):
        view = chunk[start:start + _WRITE_SLICE]
        at = offset + start
        while view:
            count = os.pwrite(fd, view, at)
            view, at = view[count:], at + count


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
