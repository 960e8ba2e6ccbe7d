"""Reads whose bytes never enter the event loop: the AWS Common Runtime's S3 client (C) sends
the GETs, signs them and hands each body to the caller on its own I/O threads.

Why: a fill of many small objects was bound by Python's per-request work (aiohttp's response
parsing, a thread hand-off per chunk, the event loop's wake-ups), and large objects by the
copies between them. ADR 0019 has the measurements.

Two request shapes, both delivering the body to the caller's sink in order:

- without ``part_size``: one plain ``GetObject`` (the client's DEFAULT type), whole object or
  one range, so a small object costs exactly one GET. The runtime buffers the body and
  delivers it in one piece.
- with ``part_size``: the runtime's GET_OBJECT, which splits the object (or range) into ranged
  GETs of ``part_size`` (the first one learns the size; no HEAD), runs them in parallel from a
  bounded buffer pool and delivers the parts in order.

Credentials come from botocore's provider chain (the ones the store's botocore client uses,
refreshed by it); endpoint and addressing style are botocore's too (``GetSigner``). The
runtime retries transient failures itself; failed responses are translated by the same table
as every other S3 call, and an exception raised by the caller's code (a full disk) is raised
as it was.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import quote, urlsplit

from lakecache.core.adapters.objects.s3_errors import translate
from lakecache.core.adapters.objects.s3_reader import client_error
from lakecache.core.ports.objectstore import ByteRange, ChunkSink, Unavailable

# What the runtime may hold in part buffers. Its default scales with the throughput target
# (2 to 24 GiB): too much to take on a host shared with training jobs. Parts held back for
# in-order delivery come from this pool too; when it is full the runtime waits for the sink.
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
        self, full_key: str, where: str, sink: ChunkSink, *, range: ByteRange | None, if_match: str | None,
        part_size: int | None,
    ) -> int:
        headers = [] if range is None else [("Range", "bytes={}-{}".format(*range))]
        request = await self._get(full_key, headers, if_match)  # with parts: every part carries If-Match
        delivered, first = 0, None

        def on_body(chunk: Any, offset: int, **_: Any) -> None:
            # Calls for one request come one at a time, in offset order, parts included (the
            # runtime holds early parts back): the sink may hash as it writes. Checked all the
            # same, as a hash over bytes out of order would fail only after the whole transfer.
            nonlocal delivered, first
            if first is None:
                first = offset
            if offset - first != delivered:
                raise Unavailable(f"get {where}: bytes at {offset - first} arrived before those at {delivered}")
            sink(memoryview(chunk), delivered)
            delivered += len(chunk)

        if part_size is None:  # DEFAULT: one GET, its body delivered in one piece
            options: dict[str, Any] = {"type": self._s3.S3RequestType.DEFAULT, "operation_name": "GetObject"}
        else:  # GET_OBJECT: ranged GETs of part_size in parallel (the first learns the size; no HEAD)
            options = {"type": self._s3.S3RequestType.GET_OBJECT, "part_size": part_size}
        await self._finished(self._client.make_request(request=request, on_body=on_body, **options), where)
        return delivered

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
            # The runtime may still be calling the sink (writing the caller's file): let it stop first.
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
            raise Unavailable(f"get {where} failed: {exc}; retry later") from exc


def _from_sink(exc: BaseException) -> bool:
    """Whether the failure was raised by the caller's sink (the runtime passes it through)."""
    from awscrt.exceptions import AwsCrtError

    return not isinstance(exc, AwsCrtError)
