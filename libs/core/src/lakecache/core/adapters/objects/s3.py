"""``S3ObjectStore``: the lake on any S3-compatible server (``s3://bucket[/prefix]``), via
aiobotocore. Keys are relative to the URL's prefix.

Integrity: every single-part put sends the content's SHA-256 (``ChecksumSHA256``), so the
server refuses a corrupted upload and ``head`` reports the sha256 back. Multipart puts send a
SHA-256 per part (the server verifies each) and hash the whole stream locally; S3 keeps only a
composite checksum for those, so ``head`` reports ``sha256=None`` while ``put`` returns the
verified value.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from aiobotocore.credentials import AioCredentials
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError

from lakecache.core.adapters.objects.s3_errors import CONDITIONAL_WRITE, NOT_FOUND, TRANSPORT_ERRORS, translate
from lakecache.core.adapters.objects.s3_native import NativeReads
from lakecache.core.adapters.objects.s3_reader import S3Reader, regroup
from lakecache.core.adapters.objects.s3_signing import GetSigner
from lakecache.core.ports.objectstore import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_LIST_LIMIT,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    MAX_PARTS,
    MIN_CHUNK_SIZE,
    MIN_PART_SIZE,
    ByteRange,
    ChunkSink,
    ConfigurationError,
    InvalidArgument,
    ListPage,
    ObjectInfo,
    ObjectReader,
    ObjectStore,
    PresignedPut,
    PutData,
    iter_data_chunks,
    validate_key,
    validate_list_limit,
    validate_presign,
    validate_range,
)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _full_sha256(response: dict) -> str | None:
    value = response.get("ChecksumSHA256")
    kind = response.get("ChecksumType")
    if not value or kind not in (None, "FULL_OBJECT") or "-" in value:
        return None  # composite multipart checksum: not a hash of the content
    return base64.b64decode(value).hex()


async def _sha256(hasher: Any, data: bytes | memoryview) -> None:
    # hashlib releases the GIL on large buffers: hash big parts off the event loop.
    if len(data) >= 1 << 20:
        await asyncio.to_thread(hasher.update, data)
    else:
        hasher.update(data)


def _ssl_context() -> ssl.SSLContext:
    # The CA bundle botocore would use (AWS_CA_BUNDLE), else the system's.
    return ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)


class S3ObjectStore(ObjectStore):
    """Object store in an S3 bucket, optionally under a key prefix."""

    def __init__(
        self, bucket: str, prefix: str, *, endpoint_url: str | None, region: str | None,
        access_key_id: str | None, secret_access_key: str | None, max_concurrency: int,
        chunk_size: int, multipart_threshold: int, part_size: int, part_concurrency: int,
        max_attempts: int,
    ) -> None:
        self._bucket, self._prefix = bucket, prefix
        self._endpoint_url, self._region = endpoint_url, region
        self._credentials = (access_key_id, secret_access_key)
        self._max_concurrency = max_concurrency
        self._chunk_size = chunk_size
        self._multipart_threshold = multipart_threshold
        self._part_size = part_size
        self._part_concurrency = part_concurrency
        self._max_attempts = max_attempts
        self._client: Any = None
        self._client_context: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._botocore_credentials: Any = None
        self._signer: GetSigner | None = None
        self._part_slots: asyncio.Semaphore | None = None
        self._native: NativeReads | None = None

    @classmethod
    def from_url(
        cls, url: str, *, endpoint_url: str | None = None, region: str | None = None,
        access_key_id: str | None = None, secret_access_key: str | None = None,
        max_concurrency: int = 32, chunk_size: int = DEFAULT_CHUNK_SIZE,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE, part_concurrency: int = 4, max_attempts: int = 5,
    ) -> Self:
        """Build a store for ``s3://bucket[/prefix]``; no I/O. Credentials and region not given
        here come from the usual AWS chain (environment, config files, instance roles).

        ``max_concurrency`` sizes the connection pool and caps parts in flight store-wide;
        ``part_concurrency`` caps parts in flight per put (each holds ``part_size`` bytes).
        ``max_attempts`` counts tries per request (botocore's standard retry mode, with backoff).
        """
        parts = urlsplit(url)
        bucket = parts.netloc
        if parts.scheme != "s3" or not bucket or "@" in bucket or parts.query or parts.fragment:
            raise ConfigurationError(
                f"invalid S3 lake URL {url!r}: use s3://bucket or s3://bucket/prefix "
                "(credentials go in options or the AWS environment, never in the URL)"
            )
        prefix = parts.path.strip("/")
        if chunk_size < MIN_CHUNK_SIZE:
            raise ConfigurationError(f"chunk_size={chunk_size}: use at least {MIN_CHUNK_SIZE}")
        if part_size < MIN_PART_SIZE:
            raise ConfigurationError(f"part_size={part_size}: S3 needs at least {MIN_PART_SIZE}")
        if min(multipart_threshold, max_concurrency, part_concurrency, max_attempts) < 1:
            raise ConfigurationError(
                "multipart_threshold, max_concurrency, part_concurrency and max_attempts "
                "must be positive"
            )
        return cls(
            bucket, f"{prefix}/" if prefix else "", endpoint_url=endpoint_url, region=region,
            access_key_id=access_key_id, secret_access_key=secret_access_key,
            max_concurrency=max_concurrency, chunk_size=chunk_size,
            multipart_threshold=multipart_threshold, part_size=part_size,
            part_concurrency=min(part_concurrency, max_concurrency), max_attempts=max_attempts,
        )

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}".rstrip("/")

    async def __aenter__(self) -> Self:
        config = Config(
            max_pool_connections=self._max_concurrency,
            connect_timeout=10,
            read_timeout=60,
            retries={"mode": "standard", "max_attempts": self._max_attempts},
            tcp_keepalive=True,
            signature_version="s3v4",  # also for the presigned GETs (see s3_reader)
            # Custom endpoints (versitygw, Ceph, StorageGRID) rarely have per-bucket DNS.
            s3={"addressing_style": "path"} if self._endpoint_url else {},
        )
        access_key_id, secret_access_key = self._credentials
        session = get_session()
        # The credentials the client signs with, for the lean GET signer too.
        self._botocore_credentials = (
            AioCredentials(access_key_id, secret_access_key) if access_key_id and secret_access_key
            else await session.get_credentials()
        )
        self._client_context = session.create_client(
            "s3", endpoint_url=self._endpoint_url, region_name=self._region,
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=config,
        )
        self._client = await self._client_context.__aenter__()
        self._part_slots = asyncio.Semaphore(self._max_concurrency)
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_concurrency, ssl=_ssl_context()),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60),
            auto_decompress=False,  # a stored object's bytes, whatever its Content-Encoding says
            trust_env=True,  # HTTPS_PROXY / NO_PROXY, as botocore honours them
        )
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        context, self._client, self._client_context = self._client_context, None, None
        http, self._http, self._signer = self._http, None, None
        self._native = None  # the runtime closes its connections once its last request is done
        if http is not None:
            await http.close()
        if context is not None:
            await context.__aexit__(*exc_info)

    def _require_client(self) -> Any:
        if self._client is None:
            raise RuntimeError(f"open the store first: `async with store:` ({self.url})")
        return self._client

    def _require_http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError(f"open the store first: `async with store:` ({self.url})")
        return self._http

    async def _url_signer(self) -> GetSigner:
        if self._botocore_credentials is None:
            raise NoCredentialsError()
        if self._signer is None:
            self._signer = await GetSigner.for_client(self._require_client(), self._bucket, self._botocore_credentials)
        return self._signer

    async def _signed_get_url(self, full_key: str, expires: int) -> str:
        return await (await self._url_signer()).url(full_key, expires)

    def _full_key(self, key: str) -> str:
        full = self._prefix + key
        if len(validate_key(key)) + len(self._prefix.encode()) > 1024:
            raise InvalidArgument(f"key {key!r} with the lake prefix {self._prefix!r} is too long")
        return full

    def _where(self, key: str) -> str:
        return f"s3://{self._bucket}/{self._prefix}{key}"

    def _info(self, key: str, response: dict, size: int) -> ObjectInfo:
        modified = response.get("LastModified")
        return ObjectInfo(
            key=key, size=size, etag=response["ETag"],
            last_modified=modified.astimezone(UTC) if modified else None,
            sha256=_full_sha256(response), version_id=response.get("VersionId"),
        )

    async def list(
        self, prefix: str = "", *, start_after: str | None = None, token: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> ListPage:
        validate_list_limit(limit)
        args: dict[str, Any] = {
            "Bucket": self._bucket, "Prefix": self._prefix + prefix, "MaxKeys": limit,
        }
        if token is not None:
            args["ContinuationToken"] = token
        elif start_after is not None:
            args["StartAfter"] = self._prefix + start_after
        try:
            response = await self._require_client().list_objects_v2(**args)
        except TRANSPORT_ERRORS as exc:
            raise translate(exc, "list", self._where(prefix) + "*") from exc
        cut = len(self._prefix)
        objects = tuple(
            self._info(item["Key"][cut:], item, item["Size"])
            for item in response.get("Contents", ())
        )
        truncated = response.get("IsTruncated") and response.get("NextContinuationToken")
        return ListPage(objects, response["NextContinuationToken"] if truncated else None)

    async def head(self, key: str, *, if_match: str | None = None) -> ObjectInfo:
        args = {"Bucket": self._bucket, "Key": self._full_key(key), "ChecksumMode": "ENABLED"}
        if if_match is not None:
            args["IfMatch"] = if_match
        try:
            response = await self._require_client().head_object(**args)
        except TRANSPORT_ERRORS as exc:
            raise translate(exc, "head", self._where(key)) from exc
        return self._info(key, response, response["ContentLength"])

    def get(
        self, key: str, *, range: ByteRange | None = None, if_match: str | None = None
    ) -> ObjectReader:
        return S3Reader(self, key, self._full_key(key), validate_range(key, range), if_match)

    async def read_into(
        self, key: str, sink: ChunkSink, *, range: ByteRange | None = None, if_match: str | None = None,
        part_size: int | None = None,
    ) -> int:
        full_key, range = self._full_key(key), validate_range(key, range)
        native = await self._native_reads()
        return await native.read_into(full_key, self._where(key), sink, range=range, if_match=if_match,
                                      part_size=part_size)

    async def _native_reads(self) -> NativeReads:
        if self._native is None:
            signer = await self._url_signer()  # the endpoint, addressing and credentials botocore uses
            if self._native is None:
                self._native = NativeReads(signer.base_url, signer.region, signer.credentials, self._max_concurrency)
        return self._native

    async def put(
        self, key: str, data: PutData, *, if_match: str | None = None,
        if_none_match: bool = False, sha256: str | None = None,
    ) -> ObjectInfo:
        full_key = self._full_key(key)
        if if_match is not None and if_none_match:
            raise InvalidArgument(f"put {key!r}: pass if_match or if_none_match, not both")
        conditions: dict[str, str] = {}
        if if_match is not None:
            conditions["IfMatch"] = if_match
        if if_none_match:
            conditions["IfNoneMatch"] = "*"
        parts = regroup(iter_data_chunks(data, self._part_size), self._part_size)
        # Read up to the threshold to learn whether one request suffices.
        head: list[bytes | memoryview] = []
        size = 0
        async for part in parts:
            head.append(part)
            size += len(part)
            if size > self._multipart_threshold:
                return await self._put_multipart(key, full_key, head, parts, conditions, sha256)
        body = b"".join(head)
        hasher = hashlib.sha256()
        await _sha256(hasher, body)
        self._check_sha256(key, hasher.hexdigest(), sha256)
        args = {"Bucket": self._bucket, "Key": full_key, "Body": body,
                "ChecksumSHA256": _b64(hasher.digest()), **conditions}
        try:
            response = await self._require_client().put_object(**args)
        except TRANSPORT_ERRORS as exc:
            op = CONDITIONAL_WRITE if if_match is not None else "put"
            raise translate(exc, op, self._where(key)) from exc
        return ObjectInfo(key, len(body), response["ETag"], None, hasher.hexdigest(),
                          response.get("VersionId"))

    def _check_sha256(self, key: str, actual: str, expected: str | None) -> None:
        if expected is not None and actual != expected.lower():
            raise InvalidArgument(
                f"put {self._where(key)}: content sha256 {actual} does not match the expected "
                f"{expected}; nothing was written"
            )

    async def _put_multipart(
        self, key: str, full_key: str, first: list[bytes | memoryview],
        rest: AsyncIterator[bytes | memoryview], conditions: dict[str, str], sha256: str | None,
    ) -> ObjectInfo:
        client, where = self._require_client(), self._where(key)
        try:
            created = await client.create_multipart_upload(
                Bucket=self._bucket, Key=full_key, ChecksumAlgorithm="SHA256"
            )
        except TRANSPORT_ERRORS as exc:
            raise translate(exc, "start multipart upload of", where) from exc
        upload_id = created["UploadId"]
        hasher, size, done = hashlib.sha256(), 0, []
        window = asyncio.Semaphore(self._part_concurrency)  # bounds memory held by parts

        async def upload(number: int, body: bytes | memoryview, digest: bytes) -> None:
            try:
                assert self._part_slots is not None
                async with self._part_slots:
                    response = await client.upload_part(
                        Bucket=self._bucket, Key=full_key, UploadId=upload_id,
                        PartNumber=number, Body=bytes(body), ChecksumSHA256=_b64(digest),
                    )
            except TRANSPORT_ERRORS as exc:
                raise translate(exc, f"upload part {number} of", where) from exc
            finally:
                window.release()
            done.append({"PartNumber": number, "ETag": response["ETag"],
                         "ChecksumSHA256": response.get("ChecksumSHA256", _b64(digest))})

        async def allregroup() -> AsyncIterator[bytes | memoryview]:
            for part in first:
                yield part
            async for part in rest:
                yield part

        try:
            async with asyncio.TaskGroup() as group:
                number = 0
                async for part in allregroup():
                    number += 1
                    if number > MAX_PARTS:
                        raise InvalidArgument(
                            f"put {where}: more than {MAX_PARTS} parts of {self._part_size} "
                            "bytes; raise part_size for objects this large"
                        )
                    await window.acquire()
                    await _sha256(hasher, part)
                    part_hasher = hashlib.sha256()
                    await _sha256(part_hasher, part)
                    size += len(part)
                    group.create_task(upload(number, part, part_hasher.digest()))
            self._check_sha256(key, hasher.hexdigest(), sha256)
            done.sort(key=lambda p: p["PartNumber"])
            try:
                response = await client.complete_multipart_upload(
                    Bucket=self._bucket, Key=full_key, UploadId=upload_id,
                    MultipartUpload={"Parts": done}, **conditions,
                )
            except TRANSPORT_ERRORS as exc:
                op = CONDITIONAL_WRITE if "IfMatch" in conditions else "complete upload of"
                raise translate(exc, op, where) from exc
        except BaseException as exc:
            # Shielded: a cancelled put must still free the parts the server holds.
            await asyncio.shield(self._abort(full_key, upload_id))
            if isinstance(exc, BaseExceptionGroup):
                raise exc.exceptions[0] from exc  # surface the port's error, not a group
            raise
        return ObjectInfo(key, size, response["ETag"], None, hasher.hexdigest(),
                          response.get("VersionId"))

    async def _abort(self, full_key: str, upload_id: str) -> None:
        try:
            await self._require_client().abort_multipart_upload(
                Bucket=self._bucket, Key=full_key, UploadId=upload_id
            )
        except TRANSPORT_ERRORS:
            pass  # completed already, or unreachable: a bucket lifecycle rule reaps the rest

    async def presign_put(self, key: str, *, sha256: str, size: int, expires_seconds: int) -> PresignedPut:
        """A PUT URL whose signature covers the content's SHA-256 checksum and length: S3 checks
        the body against ``x-amz-checksum-sha256`` and refuses other bytes (tested on versitygw)."""
        validate_presign(key, sha256=sha256, size=size, expires_seconds=expires_seconds)
        full_key = self._full_key(key)
        headers = {"Content-Length": str(size), "x-amz-checksum-sha256": _b64(bytes.fromhex(sha256))}
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_seconds)
        try:
            url = await (await self._url_signer()).presign("PUT", full_key, expires_seconds, headers)
        except TRANSPORT_ERRORS as exc:  # the signer's one-time probe, or the credential chain
            raise translate(exc, "presign a put of", self._where(key)) from exc
        return PresignedPut(url, headers, expires_at.replace(microsecond=0))

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        args = {"Bucket": self._bucket, "Key": self._full_key(key)}
        if if_match is not None:
            args["IfMatch"] = if_match
        try:
            await self._require_client().delete_object(**args)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
                return  # conditional delete of a missing key: the port says success
            raise translate(exc, "delete", self._where(key)) from exc
        except TRANSPORT_ERRORS as exc:
            raise translate(exc, "delete", self._where(key)) from exc


