"""Catalog, cacher and evictor on one in-memory bus, as ``lakecache up`` runs them, with the evictor's
clock in the test's hands.

The evictor's own timer is set to an hour, so it never ticks during a test; ``advance`` ticks the
policy at the wall clock plus an offset that only grows, and publishes what the tick decides,
exactly as ``embedded.tick_all`` does. Facts keep their real CloudEvents times, so "an hour
later" is simply a tick an hour ahead of them.

Every HTTP call is signed as the gateway signs it (``tests/support/identity.py``), for the project
the path names (else the body's ``project``, else ``team``), and cache requests carry a source grant
signed with the catalog's key, as the gateway gets one from the catalog.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lakecache.cacher.api import ROUTES as CACHER_ROUTES
from lakecache.cacher.bootstrap import SERVICE as CACHER
from lakecache.catalog.api import ROUTES as CATALOG_ROUTES
from lakecache.catalog.bootstrap import SERVICE as CATALOG
from lakecache.core.adapters.registry import object_store_from_url
from lakecache.core.contracts import EVENTS, Event, EventData
from lakecache.core.contracts.cache import CacheReady, CacheRequested
from lakecache.core.contracts.topics import CACHE_COMMANDS, CACHE_EVENTS, EVICTION, USAGE
from lakecache.core.contracts.topics import CATALOG as CATALOG_TOPIC
from lakecache.core.dispatch import dispatcher
from lakecache.core.layout import content_key
from lakecache.core.runtime import RunningService, start_service
from lakecache.evictor.api import POLICIES_KEY
from lakecache.evictor.api import ROUTES as EVICTOR_ROUTES
from lakecache.evictor.bootstrap import SERVICE as EVICTOR
from lakecache.evictor.sites import SitePolicies
from tests.support.http import Reply, call
from tests.support.identity import PROJECT_HEADER, internal_session, source_grant
from tests.support.waiting import bus_settled, eventually

SITE = "dgx"
VOLUME = "nfs1"
PROJECT = "team"
#: The volume's idle TTL as the cacher reports it; the evictor applies it (``ttl_source`` "volume").
VOLUME_TTL = 600
#: Longer than any offset a test advances to while a lease is held, so the lease is live at every tick.
LEASE_TTL = 6 * 3600
FILES = {"train/0.bin": os.urandom(30_000), "train/1.bin": os.urandom(20_000), "labels.csv": b"file,label\n"}
FILES_BYTES = sum(len(data) for data in FILES.values())
ROUTE_TABLES = {"catalog": CATALOG_ROUTES, "cacher": CACHER_ROUTES, "evictor": EVICTOR_ROUTES}


def copy_path(commit_id: str, project: str = PROJECT) -> str:
    """One project's copy of a commit at the site (the cacher's and the evictor's routes)."""
    return f"/api/v1/projects/{project}/sites/{SITE}/copies/{commit_id}"


@dataclass
class Lake:
    """The three services of one site and a record of every event on their topics."""

    home: Path
    volume: Path
    bus_url: str
    evictor_section: dict[str, Any]
    #: Per service, a session whose requests are signed as the gateway signs them.
    sessions: dict[str, aiohttp.ClientSession]
    catalog: RunningService
    cacher: RunningService
    evictor: RunningService = field(init=False)  # set by start_evictor
    events: list[Event[EventData]] = field(default_factory=list)
    offset: timedelta = timedelta(0)
    #: The datasets created by ``commit``, by id (their lake location goes into source grants).
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    _evictor_stack: contextlib.AsyncExitStack | None = None

    # what happened

    def of(self, event_type: type[EventData], commit_id: str | None = None) -> list[Any]:
        """The events of one type seen so far, optionally only those about ``commit_id``."""
        return [e.data for e in self.events if isinstance(e.data, event_type)
                and (commit_id is None or getattr(e.data, "commit_id", None) == commit_id)]

    async def wait_for(self, event_type: type[EventData], commit_id: str | None = None, count: int = 1) -> list[Any]:
        await eventually(lambda: len(self.of(event_type, commit_id)) >= count,
                         message=f"{count} {event_type.event_type} event(s)")
        return self.of(event_type, commit_id)

    # HTTP

    async def call(self, service: RunningService, method: str, path: str, *, json_body: Any = None,
                   data: bytes | None = None, headers: dict[str, str] | None = None,
                   params: dict[str, Any] | None = None) -> Reply:
        """One request to ``service``, signed as the gateway would sign it. A route whose project
        only the handler knows (a body field) is signed for the body's ``project``, else ``team``."""
        headers = dict(headers or {})
        if isinstance(json_body, dict) and isinstance(json_body.get("project"), str):
            headers.setdefault(PROJECT_HEADER, json_body["project"])
        session = self.sessions[service.definition.name]
        return await call(session, service.base_url, method, path, json_body=json_body, data=data,
                          headers=headers, params=params)

    async def explain(self, commit_id: str, project: str = PROJECT) -> Reply:
        return await self.call(self.evictor, "GET", copy_path(commit_id, project) + "/eviction",
                               params={"volume": VOLUME})

    async def until_explained(self, commit_id: str, check: Callable[[dict[str, Any]], bool], what: str,
                              project: str = PROJECT) -> dict[str, Any]:
        """Wait until the evictor's verdict about ``project``'s copy of ``commit_id`` satisfies
        ``check`` (it consumes events on its own schedule); return that verdict."""
        seen: dict[str, Any] = {}

        async def matches() -> bool:
            reply = await self.explain(commit_id, project)
            seen.clear()
            seen.update(reply.body or {})
            return reply.status == 200 and check(reply.body)

        try:
            await eventually(matches, message=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last verdict: {seen}") from None
        return seen

    # a dataset, cached at the site, leased by a job

    async def commit(self, tmp_path: Path, files: dict[str, bytes] = FILES, dataset: str = "images",
                     project: str = PROJECT) -> dict[str, Any]:
        """Create ``<project>/<dataset>`` in the catalog and commit ``files`` as its first commit: the
        bytes go to the dataset's content store in the lake, the entries to the catalog."""
        created = await self.call(self.catalog, "POST", "/api/v1/datasets",
                                  json_body={"project": project, "name": dataset})
        assert created.status == 201, created.body
        self.datasets[created.body["id"]] = created.body
        async with object_store_from_url(created.body["lake_url"]) as store:
            for data in files.values():
                await store.put(content_key(hashlib.sha256(data).hexdigest()), data)
        lines = [json.dumps({"message": "first"})] + [
            json.dumps({"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
            for name, data in sorted(files.items())]
        reply = await self.call(self.catalog, "POST", f"/api/v1/datasets/{project}/{dataset}/commits",
                                data="\n".join(lines).encode() + b"\n",
                                headers={"Content-Type": "application/x-ndjson"})
        assert reply.status == 201 and reply.body["created"], reply.body
        return reply.body["commit"]

    async def cache(self, commit: dict[str, Any]) -> CacheReady:
        """Ask the site's cacher for the commit, as the gateway does (``cache.requested`` with the
        catalog's grant), and wait until both the cacher and the evictor know it is ready."""
        project, commit_id = commit["project"], commit["id"]
        grant = source_grant(self.home, project=project, dataset=commit["dataset"], dataset_id=commit["dataset_id"],
                             commit_id=commit_id, location=self.datasets[commit["dataset_id"]]["lake_url"],
                             parents=commit["parents"])
        await self.catalog.resources.publisher.emit(CacheRequested(
            request_id=uuid.uuid4().hex, project=project, dataset_id=commit["dataset_id"],
            dataset=commit["dataset"], commit_id=commit_id, site=SITE, volume=VOLUME, requester="ada",
            manifest_url=commit["manifest_url"], source_grant=grant))
        await eventually(lambda: any(r.project == project for r in self.of(CacheReady, commit_id)),
                         message=f"cache.ready of {project}'s copy of {commit_id}")
        ready = next(r for r in self.of(CacheReady, commit_id) if r.project == project)
        # The volume's report (its TTL) may trail cache.ready: until it arrives the evictor's default applies.
        await self.until_explained(
            commit_id, lambda v: v["state"] == "ready" and v["volume_state"]["reported_at"] is not None,
            "the evictor to see cache.ready and the volume's report", project)
        return ready

    async def lease(self, commit_id: str, holder: str = "job-7", ttl_seconds: int = LEASE_TTL,
                    project: str = PROJECT) -> dict[str, Any]:
        reply = await self.call(self.cacher, "POST", copy_path(commit_id, project) + "/leases",
                                json_body={"holder": holder, "ttl_seconds": ttl_seconds})
        assert reply.status == 201, reply.body
        await self.until_explained(commit_id, lambda v: [x["lease_id"] for x in v["live_leases"]] == [reply.body["id"]],
                                   "the evictor to see the lease", project)
        return reply.body

    async def release(self, commit_id: str, lease_id: str, project: str = PROJECT) -> None:
        reply = await self.call(self.cacher, "DELETE", copy_path(commit_id, project) + f"/leases/{lease_id}")
        assert reply.status == 204, reply.body
        await self.until_explained(commit_id, lambda v: v["live_leases"] == [], "the evictor to see the release",
                                   project)

    async def pin(self, commit_id: str, pinned: bool = True, project: str = PROJECT) -> None:
        reply = await self.call(self.cacher, "PUT" if pinned else "DELETE", copy_path(commit_id, project) + "/pin")
        assert reply.status == 200, reply.body
        await self.until_explained(commit_id, lambda v: v["pinned"] is pinned, f"the evictor to see pinned={pinned}",
                                   project)

    async def copy(self, commit_id: str, project: str = PROJECT) -> dict[str, Any]:
        """The cacher's record of the project's copy."""
        reply = await self.call(self.cacher, "GET", copy_path(commit_id, project))
        assert reply.status == 200, reply.body
        return reply.body

    # the evictor's clock

    @property
    def policies(self) -> SitePolicies:
        return self.evictor.app[POLICIES_KEY]

    def now(self) -> datetime:
        """The evictor's notion of now: the wall clock plus how far the test advanced it."""
        return datetime.now(UTC) + self.offset

    async def advance(self, seconds: float) -> list[EventData]:
        """Move the evictor's clock ``seconds`` further and tick the site once, publishing what the
        tick decides (as the embedded clock does); return that."""
        self.offset += timedelta(seconds=seconds)
        announced = await self.policies.tick(SITE, self.now())
        for data in announced:
            await self.evictor.resources.publisher.emit(data)
        return announced

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every consumer group has handled everything published on the bus so far."""
        await bus_settled(self.cacher.resources.bus, timeout=timeout)

    # restarting the evictor

    async def start_evictor(self) -> None:
        stack = contextlib.AsyncExitStack()
        self.evictor = await stack.enter_async_context(start_service(EVICTOR, evictor_settings(self)))
        self._evictor_stack = stack

    async def stop_evictor(self) -> None:
        if self._evictor_stack is not None:
            stack, self._evictor_stack = self._evictor_stack, None
            await stack.aclose()

    async def restart_evictor(self) -> None:
        await self.stop_evictor()
        await self.start_evictor()


def site_settings(definition, lake_home: Path, bus_url: str, **section: Any):
    return definition.settings_type(home=lake_home, bus_url=bus_url, **{definition.name: {"port": 0, **section}})


def evictor_settings(lake: Lake):
    # An hour between the embedded clock's ticks: during a test only ``advance`` ticks.
    return site_settings(EVICTOR, lake.home, lake.bus_url, tick_seconds=3600, **lake.evictor_section)


def volume_setting(path: Path) -> dict[str, Any]:
    # Watermarks at the top: usage is the whole filesystem's (statvfs), which on a shared test
    # disk says nothing about this test, so only TTLs and explicit requests decide here.
    return {"name": VOLUME, "path": str(path), "ttl_seconds": VOLUME_TTL, "high_watermark": 1.0,
            "low_watermark": 0.99}


@contextlib.asynccontextmanager
async def running_lake(tmp_path: Path, **evictor_section: Any) -> AsyncIterator[Lake]:
    home, volume = tmp_path / "home", tmp_path / VOLUME
    home.mkdir(parents=True, exist_ok=True)
    volume.mkdir(exist_ok=True)
    bus_url = f"memory://evictor-{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        catalog = await stack.enter_async_context(start_service(CATALOG, site_settings(CATALOG, home, bus_url)))
        cacher = await stack.enter_async_context(start_service(CACHER, site_settings(
            CACHER, home, bus_url, site=SITE, volumes=[volume_setting(volume)])))
        sessions = {name: await stack.enter_async_context(internal_session(home, name, routes, project=PROJECT))
                    for name, routes in ROUTE_TABLES.items()}
        lake = Lake(home, volume, bus_url, evictor_section, sessions, catalog, cacher)
        await lake.start_evictor()
        stack.push_async_callback(lake.stop_evictor)

        async def collect(event: Event[EventData]) -> None:
            lake.events.append(event)

        topics = [CATALOG_TOPIC.name, CACHE_EVENTS.name, USAGE.name, EVICTION.name, CACHE_COMMANDS.for_site(SITE).name]
        subscription = await catalog.resources.bus.subscribe(
            topics, group="test-collector", handler=dispatcher({model: collect for model in EVENTS.types().values()}))
        stack.push_async_callback(subscription.stop)
        yield lake


StartLake = Callable[..., Awaitable[Lake]]


@pytest.fixture
async def start_lake(tmp_path) -> AsyncIterator[StartLake]:
    """Start the site's services with the given evictor settings (``dry_run=True``…); one per test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**evictor_section: Any) -> Lake:
            return await stack.enter_async_context(running_lake(tmp_path, **evictor_section))

        yield start


@pytest.fixture
async def lake(start_lake) -> Lake:
    return await start_lake()
