"""Reads whose bytes never enter the event loop: the AWS Common Runtime's S3 client (C) sends
the GETs, signs them and hands each body to the caller on its own I/O threads.

Why: a fill of many small objects was bound by Python's per-request work (aiohttp's response
parsing, a thread hand-off per chunk, the event loop's wake-ups), and large objects by the
copies between them. ADR 0019 has the measurements.

Two request shapes:

- ``read_into``: one plain ``GetObject`` (the client's DEFAULT type) per call, whole object or
  one range, so the caller decides ranges and versions and a small object costs exactly one
  GET. The runtime buffers the body and delivers it in one piece: for large objects use
  ``read_to_file``.
- ``read_to_file``: the runtime's GET_OBJECT, which splits the object into ranged GETs of
  ``part_size`` (the first one learns the size; no HEAD), runs them in parallel from a reused
  buffer pool and writes them into the file by its path (``recv_filepath``), parts in any
  order. Handing each part to Python instead measured 1.7× slower on 4 × 1 GiB (ADR 0019).

Credentials come from botocore's provider chain (the ones the store's botocore client uses,
refreshed by it); endpoint and addressing style are botocore's too (``GetSigner``). The
runtime retries transient failures itself; failed responses are translated by the same table
as every other S3 call, and an exception raised by the caller's code (a full disk) is raised
as it was.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from lakecache.core.adapters.objects.s3_errors import translate
from lakecache.core.adapters.objects.s3_reader import client_error
from lakecache.core.ports.objectstore import ByteRange, ChunkSink, InvalidArgument, Unavailable

# The runtime's names for failures of the file it writes (aws-c-common's translation of errno).
_FILE_ERRORS = {"AWS_ERROR_NO_SPACE": errno.ENOSPC, "AWS_ERROR_NO_PERMISSION": errno.EACCES}


# What the runtime may hold in part buffers. Its default scales with the throughput target
# (2 to 24 GiB) and, on a host shared with training jobs, taking that much memory pushed out
# page cache: fills of 4 × 1 GiB then spent up to 12 s of system CPU where 4 s sufficed.
# 16 objects in flight need at most 16 × 16 MiB for small ones plus the large ones' parts.
_BUFFER_MEMORY = 1 << 30


class NativeReads:
    """GETs of one bucket through one runtime client (its own connection pool)."""

    def __init__(self, base_url: str, region: str, credentials: Any, max_connections: int) -> None:
        # A native library: loaded when a fill first reads, not when the adapter is imported.
        from awscrt import auth, http, io, s3

        self._auth, self._http, self._s3 = auth, http, s3
        parts = urlsplit(base_url)
        self._host, self._base_path = parts.netloc, parts.path  # "/bucket" (path style) or ""
        self._credentials = credentials  # botocore's: static or refreshable
        self._frozen: Any = None  # the last credentials read from them, handed to the runtime
        tls_options = None
        if parts.scheme == "https" and (bundle := os.environ.get("AWS_CA_BUNDLE")):
            # The CA bundle botocore would use, as for the store's other requests.
            context_options = io.TlsContextOptions()
            context_options.override_default_trust_store_from_path(ca_filepath=bundle)
            tls_options = io.ClientTlsContext(context_options).new_connection_options()
        self._client = s3.S3Client(
            bootstrap=io.ClientBootstrap.get_or_create_static_default(), region=region,
            credential_provider=auth.AwsCredentialsProvider.new_delegate(self._runtime_credentials),
            tls_mode=s3.S3RequestTlsMode.ENABLED if parts.scheme == "https" else s3.S3RequestTlsMode.DISABLED,
            tls_connection_options=tls_options, max_active_connections_override=max_connections,
            memory_limit=_BUFFER_MEMORY,
        )

    def _runtime_credentials(self) -> Any:
        frozen = self._frozen
        return self._auth.AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token)

    async def read_into(
        self, full_key: str, where: str, sink: ChunkSink, *, range: ByteRange | None, if_match: str | None
    ) -> int:
        headers = [] if range is None else [("Range", "bytes={}-{}".format(*range))]
        request = await self._get(full_key, headers, if_match)
        delivered = 0

        def on_body(chunk: Any, **_: Any) -> None:
            # Counted here: the runtime's offset is the object's, not the range's. Calls for
            # one request come one at a time, in order.
            nonlocal delivered
            sink(memoryview(chunk), delivered)
            delivered += len(chunk)

        await self._finished(self._client.make_request(
            type=self._s3.S3RequestType.DEFAULT, operation_name="GetObject", request=request, on_body=on_body,
        ), where)
        return delivered

    async def read_to_file(
        self, full_key: str, where: str, path: Path, fd: int, *, if_match: str | None, size: int | None,
        part_size: int, on_progress: Callable[[int], None] | None,
    ) -> int:
        request = await self._get(full_key, [], if_match)  # every part request carries If-Match

        def on_headers(status_code: int, headers: list[tuple[str, str]], **_: Any) -> None:
            # The first part's answer tells the object's size: refuse another one before any
            # more is fetched (an object far larger than expected must not fill the disk).
            found = _object_size(headers)
            if size is not None and found is not None and found != size:
                raise Unavailable(f"get {where}: the object is {found} bytes, not the {size} expected")

        def progressed(count: int, **_: Any) -> None:
            if on_progress is not None:
                on_progress(count)

        # GET_OBJECT: the runtime splits the object into ranged GETs of part_size (the first
        # learns the size; no HEAD), runs them in parallel from a reused buffer pool and writes
        # them to the file itself, by path: no Python on the data path at all (ADR 0019).
        await self._finished(self._client.make_request(
            type=self._s3.S3RequestType.GET_OBJECT, request=request, part_size=part_size,
            recv_filepath=str(path), on_headers=on_headers, on_progress=progressed,
        ), where)
        # The runtime opened the file by its name: it must still be the caller's file.
        if not os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False)):
            raise InvalidArgument(f"get {where}: {path} was replaced while the object was written to it")
        written = os.fstat(fd).st_size
        if size is not None and written != size:
            raise Unavailable(f"get {where}: {written} bytes arrived, not the {size} expected")
        return written

    async def _get(self, full_key: str, headers: list[tuple[str, str]], if_match: str | None) -> Any:
        # Refreshable credentials renew here, on the event loop; the runtime reads the result.
        self._frozen = await self._credentials.get_frozen_credentials()
        headers = [("Host", self._host), *headers]
        if if_match is not None:
            headers.append(("If-Match", if_match))
        return self._http.HttpRequest("GET", self._base_path + "/" + quote(full_key, safe="/~"),
                                      self._http.HttpHeaders(headers))

    async def _finished(self, request: Any, where: str) -> None:
        finished = asyncio.wrap_future(request.finished_future)
        try:
            await asyncio.shield(finished)
        except asyncio.CancelledError:
            # The runtime may still be writing to the caller's file: let it stop first.
            request.cancel()
            try:
                await finished
            except BaseException:  # noqa: BLE001 - the cancellation is what the caller sees
                pass
            raise
        except self._s3.S3ResponseError as exc:
            raise translate(client_error(exc.status_code, exc.body or b"", dict(exc.headers or ())), "get",
                            where) from exc
        except Exception as exc:
            if _from_sink(exc):
                raise
            if (number := _FILE_ERRORS.get(getattr(exc, "name", ""))) is not None:
                # Writing the caller's file failed, not the lake: say so as the file system would.
                raise OSError(number, f"{os.strerror(number)} (writing {where})") from exc
            raise Unavailable(f"get {where} failed: {exc}; retry later") from exc


def _object_size(headers: list[tuple[str, str]]) -> int | None:
    """The whole object's size from a (ranged) GET's headers: Content-Range's total, else Content-Length."""
    fields = {name.lower(): value for name, value in headers}
    if total := fields.get("content-range", "").rpartition("/")[2]:
        return int(total) if total.isdigit() else None
    length = fields.get("content-length", "")
    return int(length) if length.isdigit() else None


def _from_sink(exc: BaseException) -> bool:
    """Whether the failure was raised by the caller's sink (the runtime passes it through)."""
    from awscrt.exceptions import AwsCrtError

    return not isinstance(exc, AwsCrtError)
