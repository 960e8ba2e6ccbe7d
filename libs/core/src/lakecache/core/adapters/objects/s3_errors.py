"""Translating botocore/aiohttp failures into the object-store port's exceptions."""

from __future__ import annotations

import asyncio

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from lakecache.core.errors import LakeCacheError
from lakecache.core.ports.objectstore import (
    ConfigurationError,
    Conflict,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    Unavailable,
)

NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
_BAD_CONTENT = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
# A missing object under a conditional write: AWS and versitygw answer 404, the port says 412.
CONDITIONAL_WRITE = "conditional write"


def translate(exc: BaseException, op: str, where: str) -> LakeCacheError:
    """Map a botocore/aiohttp failure to the port's exceptions, naming the object."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        said = f"{op} {where} failed: {code} {error.get('Message', '')}".rstrip()
        if code in _THROTTLED or status == 429:
            return Unavailable(f"{said}; the server is throttling requests, retry later")
        if code == "NoSuchBucket":
            return NotFound(f"{said}; create the bucket or fix the lake URL")
        if code in NOT_FOUND or status == 404:
            if op == CONDITIONAL_WRITE:
                return PreconditionFailed(f"{said}: the object does not exist, so no etag matches")
            return NotFound(said)
        if code == "PreconditionFailed" or status == 412:
            return PreconditionFailed(f"{said}; the object changed: read it again")
        if status == 409:  # ConditionalRequestConflict, or a server that maps keys onto files
            return Conflict(f"{said}; another write raced or the key clashes with existing keys")
        if code in _BAD_CONTENT:
            return InvalidArgument(
                f"{said}: the content does not match its sha256; nothing was written"
            )
        if code in _DENIED or status == 403:
            return ConfigurationError(f"{said}; check the access key, secret and bucket policy")
        if code == "InvalidRange" or status == 416:
            return InvalidArgument(f"{said}: the range starts past the end of the object")
        if 400 <= status < 500:
            return InvalidArgument(said)
        return Unavailable(f"{said}; the server failed, retry later")
    if isinstance(exc, NoCredentialsError):
        return ConfigurationError(
            f"{op} {where}: no S3 credentials; pass access_key_id/secret_access_key or set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    return Unavailable(f"{op} {where} failed: {type(exc).__name__}: {exc}; retry later")


# Transport failures we translate; anything else (bugs) propagates unchanged.
TRANSPORT_ERRORS = (ClientError, BotoCoreError, aiohttp.ClientError, asyncio.TimeoutError)
