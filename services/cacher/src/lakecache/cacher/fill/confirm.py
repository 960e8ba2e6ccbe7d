"""Confirming content the pool already holds before a fill links it into a view.

The pool is shared by every project on a volume, so a commit that merely *names* a hash must
not get another project's bytes by naming it. Before a pooled content is linked, the copy's
own source (the dataset's content store, or the import its entry names) must show it holds it:
a HEAD must find the object with the manifest's size and, when the store reports one (the local
lake, single-part S3 uploads), its sha256; when the store reports none, a ranged GET of a small
window at a random offset must equal the pool's bytes there (a proof of possession). Errors say
nothing read from the lake or the pool: no size, no hash.

Contents in the dataset's own content store are confirmed by listing instead, a bucket of the
store (``_lakecache/objects/sha256/<xx>/``) per request rather than a HEAD per content, when a
bucket has at least :data:`LIST_AT_LEAST` of them: a version-2 fill that reuses most of its
pool would otherwise cost a request per unchanged file. A key with the manifest's size suffices
there: only the catalog writes a content store, and it stores an object under
``content_key(sha256)`` only when its bytes hash to that sha256 (an upload through it is hashed;
a presigned upload carries the checksum in its signature, which the S3 server verifies).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lakecache.cacher.fill.errors import FillError
from lakecache.cacher.fill.planner import Content
from lakecache.cacher.volume.layout import VolumeLayout
from lakecache.cacher.volume.safety import open_dir
from lakecache.core.errors import ConfigurationError, InvalidArgument, NotFound, PreconditionFailed, Unavailable
from lakecache.core.ports.objectstore import ObjectStore

if TYPE_CHECKING:
    from lakecache.cacher.fill.fetcher import FetchOptions

SAMPLE_BYTES = 64 * 1024
#: A bucket of the content store with at least this many contents to confirm is listed.
LIST_AT_LEAST = 4

Resolver = Callable[[Content], Awaitable[tuple[ObjectStore, str]]]


class Confirmer:
    """Confirms pooled contents in their sources; shares the fetcher's request slots and threads."""

    def __init__(self, layout: VolumeLayout, root_fd: int, resolve: Resolver, options: FetchOptions,
                 slots: asyncio.Semaphore, in_thread: Callable[..., Awaitable[Any]]) -> None:
        self._layout, self._root_fd, self._resolve, self._options = layout, root_fd, resolve, options
        self._slots, self._in_thread = slots, in_thread

    async def confirm_listed(self, contents: list[Content]) -> list[Content]:
        """Confirm the contents of the dataset's content store that share a bucket with enough
        others by listing the bucket; returns those left to :meth:`confirm` one by one."""
        buckets: dict[str, list[Content]] = defaultdict(list)
        for content in contents:
            if content.object_url is None and content.size:
                buckets[content.sha256[:2]].append(content)
        listed = {b: group for b, group in buckets.items() if len(group) >= LIST_AT_LEAST}
        if not listed:
            return contents
        await asyncio.gather(*(self._confirm_bucket(group) for group in listed.values()))
        done = {c.sha256 for group in listed.values() for c in group}
        return [c for c in contents if c.sha256 not in done]

    async def _confirm_bucket(self, group: list[Content]) -> None:
        store, first_key = await self._resolve(group[0])
        prefix = first_key.rsplit("/", 1)[0] + "/"
        wanted = {prefix + c.sha256: c for c in group}
        last = max(wanted)
        found: dict[str, int] = {}
        for attempt in range(1, self._options.attempts + 1):
            try:
                async with self._slots:
                    async for info in store.iter_objects(prefix, start_after=min(wanted)[:-1]):
                        if info.key > last:
                            break
                        if info.key in wanted:
                            found[info.key] = info.size
                break
            except Unavailable as exc:
                if attempt == self._options.attempts:
                    raise FillError(f"could not list {prefix!r} in {store.url} after {attempt} attempts: {exc}. The "
                                    "lake was unreachable or failing; retry the fill later", retryable=True,
                                    failed_paths=[group[0].path]) from exc
                await asyncio.sleep(self._options.backoff_seconds * 2 ** (attempt - 1))
        for key, content in sorted(wanted.items()):
            if key not in found:
                raise FillError(f"object {key!r} in {store.url} (content of {content.path!r}) is missing from the "
                                "lake. The commit refers to content that was deleted; re-sync the dataset",
                                retryable=False, failed_paths=[content.path])
            if found[key] != content.size:
                raise FillError(f"object {key!r} in {store.url} (content of {content.path!r}) does not hold what the "
                                "manifest says: the object's size is not the manifest's. The lake holds different "
                                "bytes than the commit recorded; re-sync the dataset",
                                retryable=False, failed_paths=[content.path])

    async def confirm(self, content: Content) -> None:
        """Return when the copy's source holds ``content`` (already in the pool); ``FillError``
        otherwise (not retryable, but when the lake stays unreachable)."""
        if content.size == 0:
            return  # nothing to disclose
        store, key = await self._resolve(content)
        where = f"{key!r} in {store.url}"
        failure = ""
        for attempt in range(1, self._options.attempts + 1):
            try:
                async with self._slots:
                    info = await store.head(key)
                    if info.size != content.size:
                        failure = "the object's size is not the manifest's"
                    elif info.sha256 is not None:
                        failure = "" if info.sha256 == content.sha256 else "the object's sha256 is not the manifest's"
                    elif not await self._sample_matches(store, key, content, info.etag):
                        failure = "the bytes read do not match the manifest's sha256"
                if not failure:
                    return
                raise FillError(
                    f"object {where} (content of {content.path!r}) does not hold what the manifest says: {failure}. "
                    "The lake holds different bytes than the commit recorded; re-sync the dataset",
                    retryable=False, failed_paths=[content.path])
            except NotFound as exc:
                raise FillError(
                    f"object {where} (content of {content.path!r}) is missing from the lake: {exc}. "
                    "The commit refers to content that was deleted; re-sync the dataset",
                    retryable=False, failed_paths=[content.path]) from exc
            except (ConfigurationError, InvalidArgument) as exc:
                raise FillError(f"reading object {where} (content of {content.path!r}) was refused: {exc}",
                                retryable=False, failed_paths=[content.path]) from exc
            except (Unavailable, PreconditionFailed) as exc:
                failure = str(exc)
            if attempt < self._options.attempts:
                await asyncio.sleep(self._options.backoff_seconds * 2 ** (attempt - 1))
        raise FillError(f"could not check object {where} (content of {content.path!r}) after "
                        f"{self._options.attempts} attempts: {failure}. The lake was unreachable or failing; retry "
                        "the fill later", retryable=True, failed_paths=[content.path])

    async def _sample_matches(self, store: ObjectStore, key: str, content: Content, etag: str) -> bool:
        """Whether a random window of the object equals the pool's bytes at the same offset."""
        size = min(SAMPLE_BYTES, content.size)
        start = random.randrange(content.size - size + 1)
        remote = bytearray()
        async with store.get(key, range=(start, start + size - 1), if_match=etag) as reader:
            async for chunk in reader:
                remote += chunk
        local = await self._in_thread(pool_read, self._layout, self._root_fd, content.sha256, start, size)
        return remote == local


def pool_read(layout: VolumeLayout, root_fd: int, sha256: str, offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset`` of pool content ``sha256``, opened without following a link."""
    bucket_fd = open_dir(root_fd, layout.root, layout.pool_bucket(sha256), create=False)
    try:
        fd = os.open(sha256, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=bucket_fd)
    finally:
        os.close(bucket_fd)
    try:
        return os.pread(fd, size, offset)
    finally:
        os.close(fd)
