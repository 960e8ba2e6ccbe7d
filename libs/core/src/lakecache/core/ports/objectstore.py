"""The object-store port: the contract every lake adapter (S3, local directory) fulfils.

A store is an async context manager. Constructing one (``from_url``) performs no I/O; the
connection (or index) opens in ``async with store:`` and closes on exit.

Keys
    A key is a ``str`` that is non-empty, at most ``MAX_KEY_BYTES`` (1024) bytes as UTF-8,
    valid UTF-8 (no lone surrogates) and free of NUL characters. Anything else raises
    ``InvalidArgument`` before any I/O. Adapters may narrow the rule and say so (the local
    store accepts only relative POSIX paths; a store under an S3 key prefix leaves
    1024 bytes minus the prefix). Keys are compared and listed in UTF-8 byte order,
    as S3 does. ``a`` and ``a/b`` are two independent keys that may both exist.

ETags
    Opaque strings, quoted as S3 returns them (``'"9e107d9d…"'``). Adapters accept them quoted
    or unquoted in ``if_match``. A single-part put's etag is the MD5 of the content on every
    adapter; a multipart etag (``"…-N"``) is not, so never compare etags across adapters.

Conditions
    ``if_match=etag`` makes ``head``/``get``/``put``/``delete`` act only when the object's current
    etag equals it, else ``PreconditionFailed``. ``put(if_none_match=True)`` writes only when the
    key does not exist, else ``PreconditionFailed``. Reads of a missing key raise ``NotFound``
    whatever the condition; a conditional ``put`` on a missing key raises ``PreconditionFailed``
    (there is no etag to match). ``delete`` is idempotent: a missing key is success, with or
    without ``if_match``, because the caller's goal — the object is gone — holds. When two
    conditional writes race, the loser gets ``PreconditionFailed`` or ``Conflict``; re-read and
    retry.

Errors (all from ``lakecache.core.errors``)
    ``NotFound`` missing key (or bucket), ``PreconditionFailed`` condition did not hold,
    ``Conflict`` the server refused the write because of existing state or a racing writer,
    ``InvalidArgument`` bad key, range, limit, data or sha256 mismatch, ``Unavailable`` the
    server could not be reached or failed transiently (retry later), ``ConfigurationError`` bad
    URL, options or credentials.

Presigned uploads
    ``presign_put`` hands a client that holds no lake credentials a short-lived URL that stores
    exactly one declared content (its sha256 and size are part of the signature) under one key.
    Stores that cannot (the local directory) return ``None``: the content then has to come
    through a service that holds the store.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from lakecache.core.errors import (
    ConfigurationError,
    Conflict,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    Unavailable,
)

__all__ = [
    "ByteRange", "ChunkSink", "PutData", "ObjectInfo", "ListPage", "ObjectReader", "ObjectStore", "PresignedPut",
    "validate_key", "validate_range", "validate_presign", "iter_data_chunks", "etags_equal",
    "NotFound", "Conflict", "PreconditionFailed", "InvalidArgument", "Unavailable",
    "ConfigurationError",
    "MiB", "MAX_KEY_BYTES", "MIN_CHUNK_SIZE", "DEFAULT_CHUNK_SIZE", "DEFAULT_MULTIPART_THRESHOLD",
    "DEFAULT_PART_SIZE", "MIN_PART_SIZE", "MAX_PARTS", "MAX_LIST_LIMIT", "DEFAULT_LIST_LIMIT",
    "MAX_PRESIGN_SECONDS", "MAX_SINGLE_PUT_BYTES",
]

MiB = 1 << 20
MAX_KEY_BYTES = 1024
# Streaming reads hand out big chunks so per-chunk overhead (thread hops, Python loops) vanishes
# next to the bytes moved; 1 KiB chunks (botocore's default) cost more CPU than the copy itself.
MIN_CHUNK_SIZE = 1 * MiB
DEFAULT_CHUNK_SIZE = 8 * MiB
DEFAULT_MULTIPART_THRESHOLD = 64 * MiB
DEFAULT_PART_SIZE = 16 * MiB
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every part but the last
MAX_PARTS = 10_000  # S3's maximum part count
MAX_LIST_LIMIT = 1000  # S3 returns at most 1000 keys per page
DEFAULT_LIST_LIMIT = 1000
MAX_PRESIGN_SECONDS = 7 * 86400  # SigV4's limit for a presigned URL
MAX_SINGLE_PUT_BYTES = 5 * 1024**3  # S3's limit for one PUT request

ByteRange = tuple[int, int]
"""``(start, end)`` with ``end`` inclusive, as in HTTP ``Range: bytes=start-end``."""

PutData = bytes | bytearray | memoryview | AsyncIterable[bytes] | os.PathLike[str]
"""What ``put`` accepts: bytes-like content, an async iterable of byte chunks, or a file path
(``pathlib.Path``; a plain ``str`` is refused so text is never mistaken for a path)."""

ChunkSink = Callable[[memoryview, int], None]
"""Receives each chunk of a ``read_into`` and its offset (see ``ObjectStore.read_into``)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a store knows about one object.

    ``size`` is the whole object's size in bytes. ``last_modified`` is timezone-aware UTC, or
    ``None`` where the server does not report it (an S3 put's result). ``sha256`` is the
    lowercase hex SHA-256 of the whole content when the store knows it for certain (verified at
    write time or kept as a full-object checksum), else ``None``; list results may omit it even
    when ``head`` has it. ``version_id`` is set only by versioned S3 buckets.
    """

    key: str
    size: int
    etag: str
    last_modified: datetime | None
    sha256: str | None = None
    version_id: str | None = None


@dataclass(frozen=True, slots=True)
class PresignedPut:
    """An upload a client may perform without credentials: ``PUT url`` with exactly ``headers``
    (they are part of the signature) and the declared content as the body, before ``expires_at``."""

    url: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a listing, in UTF-8 byte order of the keys.

    A page may hold fewer objects than the limit even when more follow; only
    ``next_token is None`` means the listing is complete.
    """

    objects: tuple[ObjectInfo, ...]
    next_token: str | None


def validate_key(key: object) -> bytes:
    """Return the key's UTF-8 bytes, or raise ``InvalidArgument`` naming the rule it breaks."""
    if not isinstance(key, str):
        raise InvalidArgument(f"object key must be a str, got {type(key).__name__}: {key!r}")
    if not key:
        raise InvalidArgument("object key must not be empty")
    if "\x00" in key:
        raise InvalidArgument(f"object key {key!r} contains a NUL character; remove it")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"object key {key!r} is not valid Unicode text: {exc}") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidArgument(
            f"object key {key[:60]!r}… is {len(encoded)} bytes as UTF-8; "
            f"the limit is {MAX_KEY_BYTES} bytes"
        )
    return encoded


def validate_range(key: str, range: ByteRange | None) -> ByteRange | None:
    """Check a ``(start, end_inclusive)`` range's shape; the size check happens at read time."""
    if range is None:
        return None
    try:
        start, end = range
        ok = isinstance(start, int) and isinstance(end, int) and 0 <= start <= end
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InvalidArgument(
            f"invalid byte range {range!r} for {key!r}: pass (start, end) with "
            "0 <= start <= end, end inclusive"
        )
    return start, end


def etags_equal(a: str, b: str) -> bool:
    """Compare etags ignoring the surrounding quotes some callers strip."""
    return a.strip('"') == b.strip('"')


async def iter_data_chunks(data: PutData, chunk_size: int) -> AsyncIterator[bytes | memoryview]:
    """Yield ``put`` data as chunks; file reads run in a thread so the event loop never blocks.

    Bytes-like data is sliced without copying; iterables pass their chunks through unchanged.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data).cast("B")
        for offset in range(0, len(view), chunk_size):
            yield view[offset : offset + chunk_size]
        return
    if isinstance(data, os.PathLike):
        try:
            handle = await asyncio.to_thread(open, os.fspath(data), "rb")
        except OSError as exc:
            raise InvalidArgument(
                f"cannot read the file to upload {os.fspath(data)!r}: {exc}"
            ) from exc
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)
        return
    if isinstance(data, AsyncIterable):
        async for chunk in data:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise InvalidArgument(
                    f"put data iterables must yield bytes, got {type(chunk).__name__}"
                )
            yield chunk
        return
    raise InvalidArgument(
        f"cannot put {type(data).__name__}: pass bytes, an async iterable of bytes or a "
        "pathlib.Path (encode text first; wrap a str path in pathlib.Path)"
    )


class ObjectReader(abc.ABC):
    """A streaming read of one object (or one range of it).

    Use it as ``async with store.get(key) as reader: async for chunk in reader: ...``.
    The request is sent and ``NotFound``/``PreconditionFailed``/``InvalidArgument`` raised on
    entry; leaving the block always releases the connection, read to the end or not. Every
    chunk but the last holds exactly the store's chunk size.

    After entry, ``info`` describes the whole object and ``range`` is the ``(start, end)``
    actually streamed (``end`` clamped to the last byte), or ``None`` for a whole read of an
    empty object.
    """

    info: ObjectInfo
    range: ByteRange | None

    def __init__(self) -> None:
        self._open = False

    @property
    def content_length(self) -> int:
        """Number of bytes this reader streams."""
        return 0 if self.range is None else self.range[1] - self.range[0] + 1

    async def __aenter__(self) -> Self:
        await self._start()
        self._open = True
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._open = False
        await self._finish()

    def __aiter__(self) -> AsyncIterator[bytes]:
        if not self._open:
            raise RuntimeError("iterate an ObjectReader inside `async with store.get(key) as r:`")
        return self._chunks()

    async def read_all(self) -> bytes:
        """Return the remaining content as one ``bytes`` (mind memory for large objects)."""
        return b"".join([chunk async for chunk in self])

    @abc.abstractmethod
    async def _start(self) -> None:
        """Send the request; set ``info`` and ``range``; raise the port's errors."""

    @abc.abstractmethod
    def _chunks(self) -> AsyncIterator[bytes]:
        """Yield the content in chunks of the store's chunk size."""

    @abc.abstractmethod
    async def _finish(self) -> None:
        """Release the connection or file, whether or not the content was read to the end."""


class ObjectStore(abc.ABC):
    """The lake: a flat namespace of immutable-once-written objects addressed by key."""

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Build an unopened store from its URL; no I/O. Bad URL/options: ``ConfigurationError``."""

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The store's URL, without credentials (``file:///dir``, ``s3://bucket/prefix``)."""

    @abc.abstractmethod
    async def __aenter__(self) -> Self:
        """Open the connection or index. Raises ``Unavailable`` or ``ConfigurationError``."""

    @abc.abstractmethod
    async def __aexit__(self, *exc_info: Any) -> None:
        """Close what ``__aenter__`` opened."""

    @abc.abstractmethod
    async def list(
        self,
        prefix: str = "",
        *,
        start_after: str | None = None,
        token: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> ListPage:
        """Return one page of objects whose key starts with ``prefix``, in key order.

        ``start_after`` begins after that key; ``token`` (a previous page's ``next_token``,
        opaque) continues that listing and wins over ``start_after``. ``limit`` is 1 to
        ``MAX_LIST_LIMIT``. Raises ``InvalidArgument`` for a bad limit, ``Unavailable``.
        """

    async def iter_objects(
        self, prefix: str = "", *, start_after: str | None = None
    ) -> AsyncIterator[ObjectInfo]:
        """Yield every object under ``prefix`` in key order, fetching pages as needed."""
        token: str | None = None
        while True:
            page = await self.list(prefix, start_after=start_after, token=token)
            for info in page.objects:
                yield info
            if page.next_token is None:
                return
            token = page.next_token

    @abc.abstractmethod
    async def head(self, key: str, *, if_match: str | None = None) -> ObjectInfo:
        """Return the object's info. Raises ``NotFound``, ``PreconditionFailed``,
        ``InvalidArgument`` (bad key), ``Unavailable``."""

    @abc.abstractmethod
    def get(
        self, key: str, *, range: ByteRange | None = None, if_match: str | None = None
    ) -> ObjectReader:
        """Return a reader streaming the object, or bytes ``start..end`` (inclusive) of it.

        Nothing is sent until the reader is entered (see ``ObjectReader``). An ``end`` past the
        last byte is clamped, as in HTTP; a ``start`` at or past the size (any range of an
        empty object) raises ``InvalidArgument``, as do a malformed range and a bad key.
        Entry raises ``NotFound`` and ``PreconditionFailed``; entry and iteration raise
        ``Unavailable``. Pair ranged reads with ``if_match`` so all ranges come from one version.
        """

    async def read(
        self, key: str, *, range: ByteRange | None = None, if_match: str | None = None
    ) -> bytes:
        """Return the object's (or range's) content as ``bytes``; same errors as ``get``."""
        async with self.get(key, range=range, if_match=if_match) as reader:
            return await reader.read_all()

    async def read_into(
        self, key: str, sink: ChunkSink, *, range: ByteRange | None = None, if_match: str | None = None,
        part_size: int | None = None,
    ) -> int:
        """Stream the object (or bytes ``start..end`` of it) into ``sink(chunk, offset)`` and
        return the number of bytes delivered; ``offset`` counts from the first byte streamed.

        The sink is called in offset order, one call at a time, possibly on a worker thread
        (so it may block on disk I/O); a chunk is valid only during its call. An exception
        raised by the sink stops the transfer and is raised here. Same errors as ``get``; a
        short body is not an error here (compare the count with the size you expect).

        With ``part_size``, a store that can may fetch the object (or range) as ranged GETs of
        that size in parallel, each pinned to the first one's version (and to ``if_match``);
        the sink still sees the bytes in order. Without it, one request is made.

        Stores with a native transfer path override this so bytes never pass through the
        event loop; this default streams ``get`` and hands each chunk to a thread (one
        request whatever ``part_size`` says).
        """
        delivered = 0
        async with self.get(key, range=range, if_match=if_match) as reader:
            async for chunk in reader:
                written = asyncio.ensure_future(asyncio.to_thread(sink, memoryview(chunk), delivered))
                try:
                    await asyncio.shield(written)
                except asyncio.CancelledError:
                    # The sink may be writing to the caller's file: let it finish before the
                    # caller's cleanup closes it (a closed descriptor number is soon reused).
                    with contextlib.suppress(BaseException):
                        await written
                    raise
                delivered += len(chunk)
        return delivered

    async def exists(self, key: str) -> bool:
        """Return whether the key exists (a ``head`` that maps ``NotFound`` to ``False``)."""
        try:
            await self.head(key)
        except NotFound:
            return False
        return True

    @abc.abstractmethod
    async def put(
        self,
        key: str,
        data: PutData,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        sha256: str | None = None,
    ) -> ObjectInfo:
        """Store ``data`` under ``key`` atomically (readers see the old or the new content,
        never a mix) and return the new object's info.

        Large data is uploaded in parts (S3: above the store's multipart threshold) with
        bounded concurrency. ``sha256`` (hex) is checked against the content; on mismatch
        nothing is written and ``InvalidArgument`` is raised. Passing both conditions raises
        ``InvalidArgument``. Raises ``PreconditionFailed`` (see the module's *Conditions*),
        ``Conflict``, ``InvalidArgument`` (bad key or data), ``Unavailable``.
        """

    async def presign_put(self, key: str, *, sha256: str, size: int, expires_seconds: int) -> PresignedPut | None:
        """A URL through which a client without credentials stores exactly the content
        ``sha256`` (hex) of ``size`` bytes under ``key`` (overwriting it), valid ``expires_seconds``
        (1 to ``MAX_PRESIGN_SECONDS``); the server refuses any other body. ``None`` when this
        store cannot hand out such URLs (the default; the local store). Raises
        ``InvalidArgument`` for a bad key, hash, size (0 to ``MAX_SINGLE_PUT_BYTES``) or lifetime."""
        validate_presign(key, sha256=sha256, size=size, expires_seconds=expires_seconds)
        return None

    @abc.abstractmethod
    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Remove the object; a missing key is success. Raises ``PreconditionFailed`` when
        ``if_match`` does not match an existing object, ``InvalidArgument``, ``Unavailable``."""


def validate_list_limit(limit: int) -> int:
    """``list``'s page size: 1..``MAX_LIST_LIMIT`` (S3's own maximum)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidArgument(f"list limit must be 1..{MAX_LIST_LIMIT}, got {limit!r}")
    return limit


def validate_presign(key: str, *, sha256: str, size: int, expires_seconds: int) -> None:
    """``presign_put``'s argument rules (``InvalidArgument`` naming the one broken)."""
    validate_key(key)
    if not isinstance(sha256, str) or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InvalidArgument(f"presign {key!r}: sha256 must be 64 lower-case hex digits, got {sha256!r}")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SINGLE_PUT_BYTES:
        raise InvalidArgument(f"presign {key!r}: size must be 0..{MAX_SINGLE_PUT_BYTES} bytes (one PUT), got {size!r}")
    if not isinstance(expires_seconds, int) or isinstance(expires_seconds, bool) \
            or not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
        raise InvalidArgument(f"presign {key!r}: expires_seconds must be 1..{MAX_PRESIGN_SECONDS}, "
                              f"got {expires_seconds!r}")
