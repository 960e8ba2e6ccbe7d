"""The real services, run on their own event loop in a thread, so both async SDK tests and
synchronous CLI tests (which call ``asyncio.run``) can talk to them over HTTP: the catalog
alone, or the whole stack behind the gateway as `lakecache up` runs it."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from lakecache.catalog.bootstrap import SERVICE as CATALOG
from lakecache.core.runtime import start_service
from lakecache.sdk.settings import ClientSettings
from tests.support.stack import STACK_VOLUME, Stack, served_stack


class ServiceThread:
    """Runs one service until ``stop``; ``base_url`` and ``running`` are set once it serves."""

    def __init__(self, definition, settings) -> None:
        self.definition, self.settings = definition, settings
        self.base_url = ""
        self.running = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        try:
            async with start_service(self.definition, self.settings) as running:
                self.running = running
                self.base_url = running.base_url
                self._ready.set()
                await self._stopped.wait()
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the service's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    def start(self) -> ServiceThread:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(30)


def run_catalog(home: Path, monkeypatch, **lake) -> Iterator[ServiceThread]:
    monkeypatch.setenv("LAKECACHE_CATALOG__PORT", "0")
    home.mkdir(parents=True, exist_ok=True)
    settings = CATALOG.settings_type(home=home, bus_url=f"memory://clients-{uuid.uuid4().hex[:8]}", **lake)
    catalog = ServiceThread(CATALOG, settings).start()
    try:
        yield catalog
    finally:
        catalog.stop()


@pytest.fixture
def catalog(tmp_path, monkeypatch) -> Iterator[ServiceThread]:
    """The catalog on an embedded (``file://``) lake under ``tmp_path/home``."""
    yield from run_catalog(tmp_path / "home", monkeypatch)


@pytest.fixture
def client_settings(catalog, tmp_path, monkeypatch) -> ClientSettings:
    """Client settings for ``catalog``, also exported to the environment for the CLI."""
    monkeypatch.setenv("LAKECACHE_API_URL", catalog.base_url)
    monkeypatch.setenv("LAKECACHE_CACHE_DIR", str(tmp_path / "client-cache"))
    monkeypatch.delenv("LAKECACHE_PROJECT", raising=False)
    return ClientSettings()


@pytest.fixture
def stack(tmp_path, monkeypatch) -> Iterator[Stack]:
    """The stack behind the gateway; the environment points the CLI at the gateway with the
    administrator token (no direct service URLs, no project)."""
    monkeypatch.chdir(tmp_path)  # no lakecache.toml or .lakecache from the working directory
    with served_stack(tmp_path / "home", tmp_path / STACK_VOLUME) as running:
        monkeypatch.setenv("LAKECACHE_API_URL", running.base_url)
        monkeypatch.setenv("LAKECACHE_TOKEN", running.token)
        monkeypatch.setenv("LAKECACHE_HOME", str(tmp_path / "client-home"))
        monkeypatch.setenv("LAKECACHE_CACHE_DIR", str(tmp_path / "client-cache"))
        for name in ("LAKECACHE_PROJECT", "LAKECACHE_CACHER_URL", "LAKECACHE_EVICTOR_URL"):
            monkeypatch.delenv(name, raising=False)
        yield running
