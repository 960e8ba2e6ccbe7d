"""Following a copy's progress live: the gateway's Server-Sent Events stream of its status
(read by the small parser below, reconnecting when it drops) and a progress bar per volume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

from lakecache.cli.site import human_size
from lakecache.sdk.catalog import CatalogUnavailable, problem_error

#: States after which a copy's live progress stream ends.
TERMINAL = ("ready", "failed", "evicted")
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
                        on_status: Callable[[dict[str, Any]], None], backoff: float = 0.5) -> dict[str, Any]:
    """Read the copy's ``status`` messages at ``url`` until a final state, which is returned.

    A stream that drops before then is opened again (it starts with the whole status) after
    ``backoff`` seconds, doubling, up to ``STREAM_RETRIES`` times in a row; an error answer
    raises its problem."""
    failures, reason = 0, "the stream ended"
    parser = SseParser()
    while True:
        headers = {"Accept": "text/event-stream"}
        if parser.last_id is not None:
            headers["Last-Event-ID"] = parser.last_id
        try:
            async with http.get(url, headers=headers) as response:
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
                        raise CatalogUnavailable(f"{what}: the gateway sent a status that is not JSON ({exc})") from exc
                    failures = 0
                    on_status(status)
                    if status.get("state") in TERMINAL:
                        return status
                reason = "the stream ended before the copy was ready, failed or evicted"
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        failures += 1
        if failures > STREAM_RETRIES:
            raise CatalogUnavailable(f"{what}: lost the live progress ({reason}); the copy may still be filling")
        await asyncio.sleep(min(backoff * 2 ** failures, 10.0))


# --- progress display --------------------------------------------------------------------------


def duration_text(seconds: float | None) -> str:
    return "" if seconds is None else f"eta {timedelta(seconds=round(seconds))}"


def rate_text(rate: float | None) -> str:
    return "" if not rate else f"{human_size(int(rate))}/s"


class CopyBars:
    """One bar per volume of the copy (files, bytes, the cacher's rate and ETA), on stderr."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[state]:<9}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            DownloadColumn(binary_units=True),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[eta]}"),
            console=console,
            disable=not enabled,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> CopyBars:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._progress.__exit__(*exc_info)

    def update(self, status: dict[str, Any]) -> None:
        volumes = status.get("volumes") or []
        waiting = f"{status.get('site')} (no volume yet)"
        if not volumes:  # requested: the cacher has not started on a volume
            self._show(waiting, {"state": status.get("state")})
            return
        if waiting in self._tasks:
            self._progress.remove_task(self._tasks.pop(waiting))
        for volume in volumes:
            self._show(f"{status.get('site')}/{volume['volume']}", volume)

    def _show(self, name: str, v: dict[str, Any]) -> None:
        files = f"{v['files_done']}/{v['files_total']} files" if v.get("files_total") is not None else ""
        fields = {"state": v.get("state") or "", "files": files, "rate": rate_text(v.get("rate_bytes_per_s")),
                  "eta": duration_text(v.get("eta_seconds"))}
        total, done = v.get("bytes_total"), v.get("bytes_done") or 0
        if name not in self._tasks:
            self._tasks[name] = self._progress.add_task(name, total=total, completed=done, **fields)
        else:
            self._progress.update(self._tasks[name], total=total, completed=done, **fields)
