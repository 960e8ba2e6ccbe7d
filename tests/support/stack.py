"""The whole stack behind the gateway — catalog, a cacher of one site, evictor, gateway — as
`lakecache up` runs it, on its own event loop in a background thread, for tests that call it
synchronously (the CLI's runner, schemathesis)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lakecache.cacher.bootstrap import SERVICE as CACHER
from lakecache.catalog.bootstrap import SERVICE as CATALOG
from lakecache.core.runtime import run_until_stopped
from lakecache.evictor.bootstrap import SERVICE as EVICTOR
from lakecache.gateway.bootstrap import SERVICE as GATEWAY
from lakecache.gateway.settings import GatewaySection, GatewaySettings

STACK_SITE, STACK_VOLUME = "dgx", "nfs1"


@dataclass(frozen=True)
class Stack:
    """The gateway's base URL and administrator token, and the site's one volume."""

    base_url: str
    home: Path
    volume: Path

    @property
    def token(self) -> str:
        return (self.home / "admin-token").read_text().strip()


def stack_settings(home: Path, volume: Path) -> list:
    """The catalog, a cacher of site ``dgx`` with volume ``nfs1``, the evictor and the gateway,
    as `lakecache up` runs them (the gateway last: it reaches the others wherever they listen)."""
    home.mkdir(parents=True, exist_ok=True)
    volume.mkdir(parents=True, exist_ok=True)
    bus_url = f"memory://clients-stack-{uuid.uuid4().hex[:8]}"
    return [
        (CATALOG, CATALOG.settings_type(home=home, bus_url=bus_url, catalog={"port": 0})),
        # Watermarks at the top: the volume's usage is the shared test disk's, not this test's.
        (CACHER, CACHER.settings_type(home=home, bus_url=bus_url, cacher={
            "port": 0, "site": STACK_SITE, "volumes": [{"name": STACK_VOLUME, "path": str(volume),
                                                        "high_watermark": 1.0, "low_watermark": 0.99}]})),
        (EVICTOR, EVICTOR.settings_type(home=home, bus_url=bus_url, evictor={"port": 0})),
        (GATEWAY, GatewaySettings(home=home, bus_url=bus_url, gateway=GatewaySection(port=0))),
    ]


@contextlib.contextmanager
def served_stack(home: Path, volume: Path) -> Iterator[Stack]:
    """The stack of :func:`stack_settings` on its own event loop in a background thread."""
    started: queue.Queue[str | BaseException] = queue.Queue()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        await run_until_stopped(stack_settings(home, volume), stop=stop,
                                on_started=lambda running: started.put(running[-1].base_url))

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            started.put(exc)

    thread = threading.Thread(target=run, name="lakecache-stack", daemon=True)
    thread.start()
    outcome = started.get(timeout=60)
    if isinstance(outcome, BaseException):
        raise outcome
    try:
        yield Stack(outcome, home, volume)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
        loop.close()


