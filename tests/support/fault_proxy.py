"""A small asyncio TCP proxy that damages HTTP responses on purpose.

Neither toxiproxy nor ``tc netem`` is available in the test environment, so transport faults
between a client and a real server are injected here: the proxy listens on 127.0.0.1 (only),
forwards every connection to ``target`` and, while faults are armed, damages the
server→client bytes of the next ``count`` matching responses:

* ``flip``: flip one bit in the middle of the response body (the headers stay intact, so
  the client sees a well-formed response with wrong bytes);
* ``truncate``: forward the headers and the first ``after`` body bytes, then close;
* ``reset``: close the connection as soon as the response starts, sending nothing of it.

It understands just enough HTTP/1.1 to find response boundaries on keep-alive connections:
requests and responses framed by ``Content-Length`` (no pipelining, which HTTP clients do
not use). A connection whose framing it cannot follow (chunked transfer coding) is passed
through untouched from then on. Only responses to GET requests with a non-empty body are
damaged, optionally only those whose request target contains ``path_contains``.

    async with FaultProxy("127.0.0.1", 7070) as proxy:
        proxy.arm("flip", count=1, path_contains="/content/")
        ...  # talk to proxy.url
        assert proxy.applied == 1
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Literal, Self

Fault = Literal["flip", "truncate", "reset"]
_HEAD_END = b"\r\n\r\n"
_CHUNK = 64 << 10


@dataclass
class Applied:
    """One damaged response: what was done and to which request."""

    fault: Fault
    method: str
    target: str


@dataclass
class _Armed:
    fault: Fault
    remaining: int
    after: int
    path_contains: str


@dataclass
class _Head:
    first_line: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: bytes) -> _Head:
        lines = raw.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return cls(lines[0], headers)

    @property
    def framed(self) -> bool:
        return "transfer-encoding" not in self.headers

    @property
    def length(self) -> int:
        return int(self.headers.get("content-length", "0"))


class FaultProxy:
    """Forward TCP connections from 127.0.0.1:<free port> to ``host:port``, with faults."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.applied: list[Applied] = []
        self.connections = 0
        self._armed: _Armed | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def for_url(cls, url: str) -> FaultProxy:
        """A proxy in front of ``http://host:port`` (the scheme must be plain HTTP)."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"FaultProxy needs an http://host:port URL, got {url!r}")
        return cls(parts.hostname, parts.port)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not started; use it as 'async with'")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def faults_applied(self) -> int:
        return len(self.applied)

    def arm(self, fault: Fault, *, count: int = 1, after: int = 0, path_contains: str = "") -> None:
        """Damage the next ``count`` matching GET responses with ``fault`` (``after``: body bytes
        kept by ``truncate``). Re-arming replaces what is left of the previous arming."""
        if fault not in ("flip", "truncate", "reset"):
            raise ValueError(f"unknown fault {fault!r}; use flip, truncate or reset")
        if count < 0 or after < 0:
            raise ValueError("count and after must not be negative")
        self._armed = _Armed(fault, count, after, path_contains)

    def disarm(self) -> None:
        self._armed = None

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    def _take(self, method: str, target: str) -> _Armed | None:
        armed = self._armed
        if armed is None or armed.remaining <= 0 or method != "GET" or armed.path_contains not in target:
            return None
        armed.remaining -= 1
        self.applied.append(Applied(armed.fault, method, target))
        return armed

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        server_writer = None
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
            requests: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
            upstream = asyncio.ensure_future(self._requests(client_reader, server_writer, requests))
            downstream = asyncio.ensure_future(self._responses(server_reader, client_writer, requests))
            _, pending = await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
            for other in pending:
                other.cancel()
            await asyncio.gather(upstream, downstream, return_exceptions=True)
        except OSError:
            pass
        finally:
            for writer in (client_writer, server_writer):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()
            self._tasks.discard(task)

    async def _requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, requests: asyncio.Queue[tuple[str, str]]
    ) -> None:
        """Client → server: forward each request, noting its method and target in order."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                raw = await reader.readuntil(_HEAD_END)
                head = _Head.parse(raw)
                method, _, rest = head.first_line.partition(" ")
                requests.put_nowait((method, rest.rpartition(" ")[0]))
                writer.write(raw)
                if not head.framed:
                    await _pipe(reader, writer)
                    return
                await _copy(reader, writer, head.length)
                await writer.drain()

    async def _responses(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, requests: asyncio.Queue[tuple[str, str]]
    ) -> None:
        """Server → client: forward each response, damaging it if a fault is armed for it."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                raw = await reader.readuntil(_HEAD_END)
                head = _Head.parse(raw)
                status = int(head.first_line.split(" ", 2)[1])
                if status < 200:  # 100 Continue: the request's real response follows
                    writer.write(raw)
                    continue
                method, target = await requests.get()
                bodyless = method == "HEAD" or status in (204, 304)
                if not bodyless and not head.framed:
                    writer.write(raw)
                    await _pipe(reader, writer)
                    return
                length = 0 if bodyless else head.length
                armed = self._take(method, target) if length else None
                if armed is None:
                    writer.write(raw)
                    await _copy(reader, writer, length)
                elif armed.fault == "reset":
                    return  # the caller closes both sides without forwarding anything
                elif armed.fault == "truncate":
                    writer.write(raw)
                    await _copy(reader, writer, min(armed.after, length - 1))
                    await writer.drain()
                    return
                else:
                    writer.write(raw)
                    await _copy(reader, writer, length, flip_at=length // 2)
                await writer.drain()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int,
                flip_at: int | None = None) -> None:
    """Forward exactly ``length`` bytes, flipping the low bit of byte ``flip_at`` if given."""
    offset = 0
    while offset < length:
        chunk = await reader.readexactly(min(_CHUNK, length - offset))
        if flip_at is not None and offset <= flip_at < offset + len(chunk):
            damaged = bytearray(chunk)
            damaged[flip_at - offset] ^= 0x01
            chunk = bytes(damaged)
        writer.write(chunk)
        offset += len(chunk)
        await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(_CHUNK):
        writer.write(chunk)
        await writer.drain()
