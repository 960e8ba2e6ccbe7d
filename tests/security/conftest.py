"""The services behind the gateway, as `lakecache up` runs them, for attacks on their ports."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from lakecache.cacher.bootstrap import SERVICE as CACHER
from lakecache.catalog.bootstrap import SERVICE as CATALOG
from lakecache.core.runtime import RunningService, start_service
from lakecache.evictor.bootstrap import SERVICE as EVICTOR
from lakecache.gateway.bootstrap import SERVICE as GATEWAY
from lakecache.tracker.bootstrap import SERVICE as TRACKER

SITE, VOLUME = "dgx", "nfs1"


@dataclass
class Installation:
    home: Path
    volume: Path
    services: dict[str, RunningService]

    @property
    def internal(self) -> dict[str, RunningService]:
        return {name: s for name, s in self.services.items() if s.definition.internal}


@contextlib.asynccontextmanager
async def installation(home: Path, volume: Path) -> AsyncIterator[Installation]:
    """All five services on one in-memory bus and one home, the gateway in front (last)."""
    volume.mkdir(parents=True, exist_ok=True)
    bus_url = f"memory://security-{uuid.uuid4().hex[:8]}"
    definitions = {
        CATALOG: {"catalog": {"port": 0}},
        CACHER: {"cacher": {"port": 0, "site": SITE, "volumes": [
            {"name": VOLUME, "path": str(volume), "high_watermark": 1.0, "low_watermark": 0.99}]}},
        EVICTOR: {"evictor": {"port": 0}},
        TRACKER: {"tracker": {"port": 0}},
        GATEWAY: {"gateway": {"port": 0}},
    }
    async with contextlib.AsyncExitStack() as stack:
        running: dict[str, RunningService] = {}
        for definition, section in definitions.items():
            settings = definition.settings_type(home=home, bus_url=bus_url, **section)
            if definition.with_peers is not None:
                settings = definition.with_peers(settings, {n: r.base_url for n, r in running.items()})
            running[definition.name] = await stack.enter_async_context(start_service(definition, settings))
        yield Installation(home, volume, running)


@pytest.fixture
async def stack(tmp_path) -> AsyncIterator[Installation]:
    async with installation(tmp_path / "home", tmp_path / VOLUME) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world() -> AsyncIterator[Any]:
    """One installation per attack module, with its people (``tests.security.actors.Scene``).

    It lives in a directory every OS user may traverse, so only LakeCache's own modes protect
    its home, and jobs of any user could reach the views. Tests of the module share it: each
    works on datasets of its own. Tests using it run on the module's event loop
    (``pytestmark = pytest.mark.asyncio(loop_scope="module")``)."""
    from tests.security.actors import scene  # it builds on installation() above

    parent = Path(tempfile.mkdtemp(prefix="lakecache-attack-", dir="/tmp"))
    parent.chmod(0o755)
    try:
        async with scene(parent) as running:
            yield running
    finally:
        shutil.rmtree(parent, ignore_errors=True)
