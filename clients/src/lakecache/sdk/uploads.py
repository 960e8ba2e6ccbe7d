"""Uploading a sync's contents with nothing but a LakeCache token.

The gateway answers, for up to ``MAX_UPLOAD_BATCH`` contents a call, whether the dataset's
content store already holds each (by sha256 and size) and, if not, how to upload it: a
short-lived presigned ``PUT`` URL straight to the lake (S3), sent exactly the headers given and
never the token, or none, meaning ``PUT`` the bytes to the gateway. Either way the store keeps
an upload only if its bytes hash to the declared sha256, and puts are atomic: an interrupted
sync leaves whole contents only, which the next run finds present.

Each file is read from one descriptor (``TreeRoot.open``: the file the scan listed, unchanged)
and hashed again as it is sent. The last chunk is held back until every byte is read and
matches the sha256 and size: a file rewritten meanwhile makes the request fail before its body
is complete, so the store never receives other bytes under that hash, and the sync names the
file (``FileChanged``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from lakecache.sdk.datasets import MAX_UPLOAD_BATCH
from lakecache.sdk.errors import GatewayUnavailable, problem_error
from lakecache.sdk.files import FileChanged, NotRegular, TreeRoot, describe_change, read_into, same_file
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.http import stream_timeout
from lakecache.sdk.progress import ProgressCallback, Tracker
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.tree import LocalFile

#: Bytes per chunk of an upload body (held in memory twice per concurrent upload).
CHUNK_SIZE = 1 << 20
#: A ticket that expires sooner than this is asked for again before its upload starts.
EXPIRY_MARGIN = timedelta(seconds=30)


@dataclass
class Ticket:
    """How to upload one content (a missing one), as the gateway said."""

    sha256: str
    size: int
    url: str | None
    headers: dict[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None

    @property
    def expiring(self) -> bool:
        return self.expires_at is not None and datetime.now(UTC) + EXPIRY_MARGIN >= self.expires_at


def _expiry(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None  # unknown: the upload is tried, and a refusal asks for a new URL


def _ticket(item: dict[str, Any], sha256: str, size: int, what: str) -> Ticket | None:
    """None when content ``sha256`` is present; else its ticket (``GatewayUnavailable`` if the
    answer is not about that content or gives no usable way to upload it)."""
    if item.get("sha256") != sha256 or item.get("size") != size:
        raise GatewayUnavailable(f"{what}: the gateway answered about content {item.get('sha256')!r} when asked about "
                                 f"{sha256}; is LAKECACHE_API_URL a LakeCache gateway of this version?")
    if item.get("present"):
        return None
    upload = item.get("upload")
    if not isinstance(upload, dict) or str(upload.get("method", "PUT")).upper() != "PUT":
        raise GatewayUnavailable(f"{what}: the gateway gave no usable way to upload content {sha256} "
                                 f"({upload!r}); is LAKECACHE_API_URL a LakeCache gateway of this version?")
    url = upload.get("url")
    if url is not None and urlsplit(str(url)).scheme not in ("http", "https"):
        raise GatewayUnavailable(f"{what}: the gateway gave an upload URL that is not http(s); refusing to use it")
    headers = {str(k): str(v) for k, v in (upload.get("headers") or {}).items()}
    return Ticket(sha256, size, url, headers, _expiry(upload.get("expires_at")))


async def missing_contents(gateway: GatewayClient, dataset: DatasetRef,
                           contents: dict[str, int]) -> dict[str, Ticket]:
    """The tickets of the ``sha256 → size`` contents the dataset's store lacks (asked in batches)."""
    tickets: dict[str, Ticket] = {}
    ordered = sorted(contents.items())
    what = f"upload to {dataset.project}/{dataset.name}"
    for start in range(0, len(ordered), MAX_UPLOAD_BATCH):
        batch = ordered[start:start + MAX_UPLOAD_BATCH]
        answers = await gateway.upload_tickets(dataset.project, dataset.name, batch)
        for (sha256, size), item in zip(batch, answers, strict=True):
            ticket = _ticket(item, sha256, size, what)
            if ticket is not None:
                tickets[sha256] = ticket
    return tickets


class _Body:
    """One file's bytes from its descriptor, re-hashed as they go; the last chunk only once they
    match (see the module). ``failure`` keeps why the body stopped, whatever the HTTP client
    makes of it."""

    def __init__(self, fd: int, file: LocalFile, sha256: str, tracker: Tracker) -> None:
        self.fd, self.file, self.sha256, self.tracker = fd, file, sha256, tracker
        self.failure: BaseException | None = None
        self.sent = 0
        self._digest = hashlib.sha256()
        self._read = 0

    def _next(self) -> bytes:
        buffer = bytearray(CHUNK_SIZE)
        count = read_into(self.fd, buffer)
        self._digest.update(memoryview(buffer)[:count])
        self._read += count
        if self._read > self.file.size:
            raise FileChanged(self.file.path, "it grew while it was uploaded")
        return bytes(buffer[:count])

    def _verify(self) -> None:
        info = os.fstat(self.fd)
        if not same_file(info, self.file):
            raise FileChanged(self.file.path, describe_change(info, self.file) + " while it was uploaded")
        if self._read != self.file.size or self._digest.hexdigest() != self.sha256:
            raise FileChanged(self.file.path, "its content is not what was hashed earlier in the sync")

    async def chunks(self) -> AsyncIterator[bytes]:
        held = b""
        try:
            while chunk := await asyncio.to_thread(self._next):
                if held:
                    yield held
                    self._count(held)
                held = chunk
            await asyncio.to_thread(self._verify)
        except BaseException as exc:
            self.failure = exc
            raise
        if held:
            yield held
            self._count(held)

    def _count(self, chunk: bytes) -> None:
        self.sent += len(chunk)
        self.tracker.advance(0, len(chunk))


class Uploader:
    """Uploads contents of one tree to one dataset, ``concurrency`` at a time."""

    def __init__(self, gateway: GatewayClient, dataset: DatasetRef, root: TreeRoot, *, concurrency: int = 16) -> None:
        self.gateway, self.dataset, self.root, self.concurrency = gateway, dataset, root, max(1, concurrency)
        # Bodies may take long: only silence is bounded.
        self._timeout = stream_timeout(gateway.settings)

    async def upload(self, work: dict[str, tuple[LocalFile, Ticket]], *,
                     on_progress: ProgressCallback | None = None) -> tuple[int, int]:
        """Upload each ``sha256 → (file, ticket)``; ``(files, bytes)`` uploaded. The first failure
        stops the others and is raised (finished uploads stay: a re-run resumes)."""
        tracker = Tracker(on_progress, "upload", len(work), sum(f.size for f, _ in work.values()))
        queue = iter(sorted(work.items()))
        done = [0, 0]
        # No token goes to presigned URLs: they carry their own signature, and the lake is not the gateway.
        async with aiohttp.ClientSession(timeout=self._timeout) as lake:

            async def worker() -> None:
                for _sha, (file, ticket) in queue:
                    if await self._upload_one(lake, file, ticket, tracker):
                        done[0] += 1
                        done[1] += file.size
                    tracker.advance(1, 0)

            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(min(self.concurrency, len(work))):
                        group.create_task(worker())
            except BaseExceptionGroup as failed:
                raise _first(failed) from None
        return done[0], done[1]

    async def _upload_one(self, lake: aiohttp.ClientSession, file: LocalFile, ticket: Ticket,
                          tracker: Tracker) -> bool:
        """Upload one content; False when it turned out present meanwhile."""
        for attempt in range(2):
            if ticket.expiring or attempt:
                [item] = await self.gateway.upload_tickets(self.dataset.project, self.dataset.name,
                                                           [(ticket.sha256, ticket.size)])
                renewed = _ticket(item, ticket.sha256, ticket.size, f"upload {file.path!r}")
                if renewed is None:
                    return False
                ticket = renewed
            status, text = await self._send(lake, file, ticket, tracker)
            if status < 300:
                return True
            # An expired presigned URL is refused with 403 (S3): ask for a fresh one, once.
            if not (ticket.url is not None and status == 403 and attempt == 0):
                break
        if ticket.url is None:
            raise problem_error(f"upload {file.path!r}", status, _json_or_text(text), token_sent=True)
        raise GatewayUnavailable(f"upload {file.path!r}: the lake at {urlsplit(ticket.url).netloc} refused it "
                                 f"(HTTP {status}: {_lake_error(text)}); run the sync again")

    async def _send(self, lake: aiohttp.ClientSession, file: LocalFile, ticket: Ticket,
                    tracker: Tracker) -> tuple[int, str]:
        """One attempt: the answer's status and text (its bytes un-counted unless it succeeded)."""
        try:
            fd = await asyncio.to_thread(self.root.open, file)
        except NotRegular as exc:
            raise FileChanged(file.path, exc.reason) from exc
        body = _Body(fd, file, ticket.sha256, tracker)
        headers = {**ticket.headers, "Content-Length": str(file.size)}
        status = 0
        try:
            if ticket.url is not None:
                where = urlsplit(ticket.url).netloc
                # Exactly the headers given (and the length): no content type of the client's own.
                request = lake.put(ticket.url, data=body.chunks(), headers=headers, skip_auto_headers=("Content-Type",))
            else:
                where = self.gateway.base_url
                headers.setdefault("Content-Type", "application/octet-stream")
                path = self.gateway.content_path(self.dataset.project, self.dataset.name, ticket.sha256)
                request = self.gateway.session.put(self.gateway.url(path), data=body.chunks(),
                                                   headers=headers, timeout=self._timeout)
            async with request as response:
                status = response.status
                return status, await response.text()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if isinstance(body.failure, Exception):
                raise body.failure from None
            raise GatewayUnavailable(f"upload {file.path!r}: the connection to {where} failed "
                                     f"({type(exc).__name__}: {exc or 'no details'}); run the sync again to "
                                     "resume") from exc
        finally:
            os.close(fd)
            if not 200 <= status < 300:
                tracker.advance(0, -body.sent)


def _first(group: BaseExceptionGroup) -> BaseException:
    """The error that stopped an upload (the others were cancelled because of it)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _lake_error(text: str) -> str:
    """The ``Code``/``Message`` of an S3 XML error, else the start of the text."""
    parts = [m.group(1) for tag in ("Code", "Message") if (m := re.search(f"<{tag}>(.*?)</{tag}>", text, re.S))]
    return ": ".join(parts) or text[:200] or "no details"
