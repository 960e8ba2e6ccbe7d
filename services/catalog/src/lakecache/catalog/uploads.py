"""Uploads without lake credentials: contents go to a dataset's content store through the catalog.

A client declares the contents it is about to commit (sha256 and size) and learns which are
already stored; for each missing one it gets a presigned PUT URL bound to exactly that content
(the object store signs the checksum and the length, so S3 refuses any other body), or — for a
lake that cannot presign, like the embedded local lake — ``url: null``: send the bytes to
``PUT …/contents/{sha256}``, which streams them to a file in the catalog's workdir, checks
their hash and stores them. Either way only the hash a client declared can land under its key,
so the content store stays content-addressed whoever uploads.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any

from lakecache.catalog.storage import Catalog
from lakecache.core.errors import InvalidArgument, LakeCacheError, NotFound, PreconditionFailed
from lakecache.core.layout import content_key
from lakecache.core.ports.objectstore import MAX_SINGLE_PUT_BYTES, ObjectInfo
from lakecache.core.runtime.problems import BadRequestBody
from lakecache.core.vocabulary.clock import iso

MAX_CONTENTS = 1000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LOOKUPS = 16  # HEADs in flight per request
_FLUSH_BYTES = 4 << 20


class ContentMismatch(InvalidArgument):
    """An uploaded body does not hash to the sha256 it was sent for."""


class UploadTooLarge(LakeCacheError):
    """An upload declares more bytes than the catalog accepts in one request."""


class LengthRequired(LakeCacheError):
    """An upload declares no ``Content-Length``."""


def check_sha256(value: object) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InvalidArgument(f"sha256 must be 64 lower-case hex digits, got {value!r}")
    return value


def _contents(body: dict[str, Any]) -> list[tuple[str, int]]:
    items = body.get("contents")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_CONTENTS:
        raise InvalidArgument(f'send {{"contents": [{{"sha256": "<64 hex>", "size": <bytes>}}, …]}} with 1 to '
                              f"{MAX_CONTENTS} items (ask again for more)")
    wanted: list[tuple[str, int]] = []
    seen: set[str] = set()
    for number, item in enumerate(items):
        sha, size = (item.get("sha256"), item.get("size")) if isinstance(item, dict) else (None, None)
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise InvalidArgument(f"contents[{number}].sha256 must be 64 lower-case hex digits, got {sha!r}")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SINGLE_PUT_BYTES:
            raise InvalidArgument(f"contents[{number}].size must be 0..{MAX_SINGLE_PUT_BYTES} bytes (one upload), "
                                  f"got {size!r}")
        if sha in seen:
            raise InvalidArgument(f"contents[{number}]: sha256 {sha} is listed twice; list each content once")
        seen.add(sha)
        wanted.append((sha, size))
    return wanted


def _key(dataset: dict[str, Any], sha256: str) -> str:
    return f"{dataset['lake_prefix']}/{content_key(sha256)}"


def _holds(info: ObjectInfo, sha256: str, size: int) -> bool:
    # The store's own sha256, where it kept one, must agree: a corrupt object is uploaded again.
    return info.size == size and info.sha256 in (None, sha256)


async def _stored(catalog: Catalog, key: str, sha256: str, size: int) -> bool:
    try:
        return _holds(await catalog.lake.head(key), sha256, size)
    except NotFound:
        return False


async def plan_uploads(catalog: Catalog, dataset: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
    """For each declared content: whether the dataset's content store has it, and if not how to upload it."""
    wanted = _contents(body)
    slots = asyncio.Semaphore(_LOOKUPS)

    async def one(sha256: str, size: int) -> dict[str, Any]:
        key = _key(dataset, sha256)
        async with slots:
            if await _stored(catalog, key, sha256, size):
                return {"sha256": sha256, "size": size, "present": True, "upload": None}
            presigned = await catalog.lake.presign_put(key, sha256=sha256, size=size,
                                                       expires_seconds=catalog.upload_url_seconds)
        if presigned is None:  # this lake cannot presign: through the catalog (PUT …/contents/{sha256})
            upload = {"method": "PUT", "url": None, "headers": {"Content-Type": "application/octet-stream"},
                      "expires_at": None}
        else:
            upload = {"method": "PUT", "url": presigned.url, "headers": dict(presigned.headers),
                      "expires_at": iso(presigned.expires_at)}
        return {"sha256": sha256, "size": size, "present": False, "upload": upload}

    return list(await asyncio.gather(*(one(sha, size) for sha, size in wanted)))


async def _spool(chunks: AsyncIterable[bytes], handle: Any, length: int) -> str:
    """Write the body to ``handle`` (in a thread, in large writes), hashing it; its sha256."""
    digest, received, pending = hashlib.sha256(), 0, bytearray()

    def flush(data: bytes) -> None:
        handle.write(data)
        digest.update(data)

    async for chunk in chunks:
        received += len(chunk)
        if received > length:
            raise BadRequestBody(f"the body is longer than its Content-Length ({length} bytes)")
        pending += chunk
        if len(pending) >= _FLUSH_BYTES:
            await asyncio.to_thread(flush, bytes(pending))
            pending.clear()
    await asyncio.to_thread(flush, bytes(pending))
    if received != length:
        raise BadRequestBody(f"the body ended after {received} of its {length} bytes (Content-Length); send it again")
    await asyncio.to_thread(handle.flush)
    return digest.hexdigest()


async def receive_content(catalog: Catalog, dataset: dict[str, Any], sha256: str, length: int | None,
                          chunks: AsyncIterable[bytes]) -> tuple[int, bool]:
    """Store the streamed body as content ``sha256`` of the dataset; returns (size, created).

    The body goes to a private temporary file (never memory), is hashed on the way, and is
    stored only when it hashes to ``sha256`` (``ContentMismatch`` otherwise: nothing stored).
    """
    check_sha256(sha256)
    if length is None:
        raise LengthRequired("send the content with a Content-Length header (its size in bytes)")
    if length > catalog.upload_max_bytes:
        raise UploadTooLarge(f"the content has {length} bytes; the catalog accepts at most "
                             f"{catalog.upload_max_bytes} in one upload (catalog.upload_max_bytes)")
    workdir = catalog.workdir or Path(tempfile.gettempdir())
    fd, name = await asyncio.to_thread(tempfile.mkstemp, prefix="upload-", dir=workdir)  # 0600, O_EXCL
    try:
        with os.fdopen(fd, "wb") as handle:
            actual = await _spool(chunks, handle, length)
        if actual != sha256:
            raise ContentMismatch(f"the body's sha256 is {actual}, not {sha256} as the URL says; nothing was stored. "
                                  "Upload each file under its own hash (the file may have changed while it was sent)")
        key = _key(dataset, sha256)
        try:
            await catalog.lake.put(key, Path(name), if_none_match=True, sha256=sha256)
        except PreconditionFailed:
            if await _stored(catalog, key, sha256, length):
                return length, False
            await catalog.lake.put(key, Path(name), sha256=sha256)  # a corrupt object: replace it
        return length, True
    finally:
        await asyncio.to_thread(Path(name).unlink, missing_ok=True)
