"""A cacher started through the service runtime on embedded adapters, with a lake holding commits.

Its API is called as the gateway calls it (every request signed, ``tests.support.identity``),
and cache commands carry a source grant signed with the catalog key of the cacher's home.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lakecache.cacher.api import CACHER_KEY, ROUTES
from lakecache.cacher.bootstrap import SERVICE
from lakecache.cacher.storage import Cacher
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.contracts import EVENTS, Event
from lakecache.core.contracts.cache import CacheRequested
from lakecache.core.dispatch import dispatcher
from lakecache.core.layout import join_url, manifest_key
from lakecache.core.runtime import RunningService, start_service
from tests.cacher.helpers import WrappedStore, make_commit
from tests.support.http import Reply, call
from tests.support.identity import internal_session, source_grant

SITE = "dgx"


@dataclass
class CacherClient:
    running: RunningService
    session: aiohttp.ClientSession
    lake_url: str
    home: Path
    events: list[Event] = field(default_factory=list)
    stores: list[WrappedStore] = field(default_factory=list)
    delay: float = 0.0

    @property
    def cacher(self) -> Cacher:
        return self.running.app[CACHER_KEY]

    def gets(self, key_part: str = "") -> int:
        return sum(n for s in self.stores for key, n in s.gets.items() if key_part in key)

    async def call(self, method: str, path: str, *, json_body: Any = None,
                   params: dict[str, Any] | None = None) -> Reply:
        return await call(self.session, self.running.base_url, method, path, json_body=json_body, params=params)

    def dataset_url(self, project: str = "team", dataset: str = "ds") -> str:
        return join_url(self.lake_url, project, dataset)

    async def commit(self, files: dict[str, bytes], project: str = "team", dataset: str = "ds",
                     manifest: bytes | None = None, commit_id: str | None = None,
                     options: dict[str, Any] | None = None) -> str:
        """Write ``files`` and their manifest (or a given one) into the dataset's lake location."""
        url = self.dataset_url(project, dataset)
        made, built = await make_commit(url, files, options)
        commit_id, manifest = commit_id or made, manifest if manifest is not None else built
        async with object_store_from_url(url, **(options or {})) as store:
            await store.put(manifest_key(commit_id), manifest)
        return commit_id

    def grant(self, commit_id: str, *, project: str = "team", dataset: str = "ds", **changes: Any) -> str:
        """A source grant for ``project/dataset@commit_id`` at its lake location (``changes``
        override any of ``source_grant``'s arguments)."""
        fields = {"project": project, "dataset": dataset, "dataset_id": f"id-{dataset}", "commit_id": commit_id,
                  "location": self.dataset_url(project, dataset), "parents": [], **changes}
        return source_grant(self.home, **fields)

    async def request(self, commit_id: str, *, project: str = "team", dataset: str = "ds",
                      volume: str | None = None, request_id: str | None = None, site: str = SITE,
                      grant: str | None = "default") -> str:
        """Send ``cache.requested`` as the gateway would (with a grant, unless ``grant`` says otherwise)."""
        request_id = request_id or uuid.uuid4().hex
        if grant == "default":
            grant = self.grant(commit_id, project=project, dataset=dataset)
        manifest_url = join_url(self.dataset_url(project, dataset), manifest_key(commit_id))
        await self.running.resources.publisher.emit(CacheRequested(
            request_id=request_id, project=project, dataset_id=f"id-{dataset}", dataset=dataset,
            commit_id=commit_id, site=site, volume=volume, requester="ada", manifest_url=manifest_url,
            source_grant=grant))
        return request_id

    def of(self, event_type: type, subject: str | None = None) -> list[Any]:
        return [e for e in self.events if isinstance(e.data, event_type)
                and (subject is None or e.subject == subject)]

    async def copy(self, commit_id: str, project: str = "team", volume: str | None = None) -> dict[str, Any]:
        reply = await self.call("GET", copy_path(commit_id, project), params={"volume": volume})
        assert reply.status == 200, reply.body
        return reply.body


def copy_path(commit_id: str, project: str = "team", site: str = SITE) -> str:
    """The API path of ``project``'s copy of ``commit_id`` at ``site``."""
    return f"/api/v1/projects/{project}/sites/{site}/copies/{commit_id}"


def cacher_settings(home: Path, volume: Path | None, **section: Any):
    volumes = [{"name": "nfs1", "path": str(volume)}] if volume else []
    home.mkdir(parents=True, exist_ok=True)
    return SERVICE.settings_type(home=home, bus_url=f"memory://cacher-{uuid.uuid4().hex[:8]}",
                                 cacher={"port": 0, "site": SITE, "volumes": volumes, **section})


@contextlib.asynccontextmanager
async def running_cacher(settings, delay: float = 0.0) -> AsyncIterator[CacherClient]:
    lake_url = settings.resolved_lake_url()
    if lake_url.startswith("file:"):  # the lake exists before the cacher reads it (the catalog makes it)
        async with object_store_from_url(lake_url):
            pass
    async with start_service(SERVICE, settings) as running, \
            internal_session(settings.home, "cacher", ROUTES) as session:
        client = CacherClient(running, session, settings.resolved_lake_url(), settings.home, delay=delay)
        original = client.cacher.open_store

        def counting(url: str):
            store = WrappedStore(original(url), delay=client.delay)
            client.stores.append(store)
            return store

        client.cacher.open_store = counting

        async def collect(event: Event) -> None:
            client.events.append(event)

        handler = dispatcher({model: collect for model in EVENTS.types().values()})
        subscription = await running.resources.bus.subscribe(
            ["lakecache.cache.events", "lakecache.cache.progress", "lakecache.usage"], group="collector",
            handler=handler)
        try:
            yield client
        finally:
            await subscription.stop()
            await asyncio.sleep(0)


@pytest.fixture
def volume(tmp_path) -> Path:
    root = tmp_path / "nfs1"
    root.mkdir()
    return root


@pytest.fixture
async def api(tmp_path, volume) -> AsyncIterator[CacherClient]:
    async with running_cacher(cacher_settings(tmp_path / "home", volume)) as client:
        yield client
