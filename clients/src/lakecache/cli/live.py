"""Following a copy's progress live: the gateway's Server-Sent Events stream of its status
(``GET …/copies/{commit_id}/events``), read by the small parser below and opened again when it
drops, until the copy is ready, failed or evicted. Drawing it is ``lakecache.cli.progress``'s."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from lakecache.core.vocabulary.copies import SETTLED_STATES
from lakecache.sdk.errors import GatewayUnavailable, problem_error
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.http import stream_timeout

#: Reconnections of a live-progress stream that dropped before a final state, before giving up.
STREAM_RETRIES = 5

# --- Server-Sent Events ----------------------------------------------------------------------
# Parsed here in a few lines: the client libraries for aiohttp (aiohttp-sse-client, last release
# 0.2.1 in 2021, and its fork aiohttp-sse-client2, 0.3.0 in 2023) are unmaintained.


@dataclass(frozen=True)
class SseMessage:
    event: str
    data: str
    id: str | None


class SseParser:
    """Lines to messages (``text/event-stream``): ``field: value`` lines, ``data`` lines joined
    with newlines, a blank line ends a message, lines starting with ``:`` are comments. Lines
    end with LF or CRLF; a message cut off by the end of the stream is dropped."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self.last_id: str | None = None

    def feed(self, chunk: bytes) -> list[SseMessage]:
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        return [m for m in (self._line(raw.rstrip(b"\r").decode("utf-8", "replace")) for raw in lines) if m]

    def _line(self, line: str) -> SseMessage | None:
        if not line:
            message = SseMessage(self._event or "message", "\n".join(self._data), self.last_id) if self._data else None
            self._event, self._data = "", []
            return message
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        return None  # `retry` and unknown fields: ignored


async def sse_messages(chunks: AsyncIterable[bytes], parser: SseParser | None = None) -> AsyncIterator[SseMessage]:
    parser = parser or SseParser()
    async for chunk in chunks:
        for message in parser.feed(chunk):
            yield message


async def follow_status(http: aiohttp.ClientSession, url: str, *, what: str,
                        on_status: Callable[[dict[str, Any]], None], backoff: float = 0.5,
                        client_timeout: aiohttp.ClientTimeout | None = None) -> dict[str, Any]:
    """Read the copy's ``status`` messages at ``url`` until a settled state (ready, failed,
    evicted), whose status is returned; ``on_status`` sees each one.

    A stream that drops before then is opened again (it starts with the whole status) after
    ``backoff`` seconds, doubling, up to ``STREAM_RETRIES`` times in a row, then
    ``GatewayUnavailable``; an error answer raises its ``GatewayError``. ``client_timeout``:
    the requests' deadlines, else the session's."""
    failures, reason = 0, "the stream ended"
    parser = SseParser()
    # aiohttp reads an explicit ``timeout=None`` as no deadline at all: leave it out instead.
    options: dict[str, Any] = {} if client_timeout is None else {"timeout": client_timeout}
    while True:
        headers = {"Accept": "text/event-stream"}
        if parser.last_id is not None:
            headers["Last-Event-ID"] = parser.last_id
        try:
            async with http.get(url, headers=headers, **options) as response:
                if response.status >= 400:
                    text = await response.text()
                    try:
                        body: Any = json.loads(text)
                    except json.JSONDecodeError:
                        body = text
                    raise problem_error(what, response.status, body, token_sent="Authorization" in http.headers)
                async for message in sse_messages(response.content.iter_any(), parser):
                    if message.event != "status":
                        continue
                    try:
                        status = json.loads(message.data)
                    except json.JSONDecodeError as exc:
                        raise GatewayUnavailable(f"{what}: the gateway sent a status that is not JSON ({exc})") from exc
                    failures = 0
                    on_status(status)
                    if status.get("state") in SETTLED_STATES:
                        return status
                reason = "the stream ended before the copy was ready, failed or evicted"
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        failures += 1
        if failures > STREAM_RETRIES:
            raise GatewayUnavailable(f"{what}: lost the live progress ({reason}); the copy may still be filling")
        await asyncio.sleep(min(backoff * 2 ** failures, 10.0))


async def follow_copy(gateway: GatewayClient, events_url: str, *, what: str,
                      on_status: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """``follow_status`` on the gateway's ``events_url`` (a path, as ``request_cache`` answers
    it) with the client's session: only silence is bounded, never the whole fill."""
    return await follow_status(gateway.session, gateway.url(events_url), what=what, on_status=on_status,
                               client_timeout=stream_timeout(gateway.settings))
