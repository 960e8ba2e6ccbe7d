"""Streaming reads from S3: one GET, chunks regrouped to the configured size."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from lakecache.core.adapters.objects.s3_errors import TRANSPORT_ERRORS, translate
from lakecache.core.ports.objectstore import ByteRange, InvalidArgument, ObjectReader, Unavailable


async def regroup(
    chunks: AsyncIterator[bytes | memoryview], size: int
) -> AsyncIterator[bytes | memoryview]:
    """Regroup chunks into pieces of exactly ``size`` bytes (the last may be shorter)."""
    buffer = bytearray()
    async for chunk in chunks:
        if not buffer and len(chunk) == size:
            yield chunk  # already a full piece: no copy
            continue
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


class S3Reader(ObjectReader):
    """Streams one GET (whole object or a range), in chunks of exactly the store's chunk size."""

    def __init__(
        self, store: Any, key: str, full_key: str, range: ByteRange | None,
        if_match: str | None,
    ) -> None:
        super().__init__()
        self._store, self._key, self._full_key = store, key, full_key
        self._requested, self._if_match = range, if_match
        self._body: Any = None

    async def _start(self) -> None:
        store = self._store
        args: dict[str, Any] = {"Bucket": store._bucket, "Key": self._full_key}
        if self._requested is not None:
            args["Range"] = "bytes={}-{}".format(*self._requested)
        else:
            args["ChecksumMode"] = "ENABLED"  # botocore checks the full-object checksum at EOF
        if self._if_match is not None:
            args["IfMatch"] = self._if_match
        try:
            response = await store._require_client().get_object(**args)
        except TRANSPORT_ERRORS as exc:
            raise translate(exc, "get", store._where(self._key)) from exc
        self._body = response["Body"]
        length = response["ContentLength"]
        content_range = response.get("ContentRange")  # "bytes 10-19/5000"
        if content_range:
            span, _, total = content_range.removeprefix("bytes ").partition("/")
            start, _, end = span.partition("-")
            self.range, size = (int(start), int(end)), int(total)
        else:
            self.range, size = ((0, length - 1) if length else None), length
        self.info = store._info(self._key, response, size)
        if self.range is None and self._requested is not None:
            await self._finish()
            raise InvalidArgument(f"range {self._requested} of empty object {self._key!r}")

    async def _chunks(self) -> AsyncIterator[bytes]:
        where = self._store._where(self._key)
        received = 0

        async def pieces() -> AsyncIterator[bytes]:
            nonlocal received
            try:
                # aiohttp hands out whatever arrived (often 64 KiB), hence the regrouping.
                async for piece in self._body.iter_chunks(self._store._chunk_size):
                    received += len(piece)
                    yield piece
            except TRANSPORT_ERRORS as exc:
                raise translate(exc, "read", where) from exc
            if received != self.content_length:
                raise Unavailable(
                    f"read {where}: got {received} of {self.content_length} bytes; retry the read"
                )

        async for chunk in regroup(pieces(), self._store._chunk_size):
            yield chunk

    async def _finish(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            await body.aclose()  # returns or drops the connection, read to EOF or not
