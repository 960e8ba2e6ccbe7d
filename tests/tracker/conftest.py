"""A tracker started through the service runtime, on the embedded store or on FerretDB, with
an in-memory bus: tests send run events as the gateway does and read through the tracker's
API, signed as the gateway signs."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lakecache.core.contracts import Event
from lakecache.core.contracts.base import EventData
from lakecache.core.runtime import RunningService, runner, start_service
from lakecache.tracker.api import ROUTES
from lakecache.tracker.bootstrap import SERVICE
from lakecache.tracker.storage import TRACKER_KEY, Tracker
from tests.support.http import Reply, call
from tests.support.identity import internal_session
from tests.support.waiting import bus_settled

PROJECT = "vision"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass
class TrackerClient:
    running: RunningService
    session: aiohttp.ClientSession

    @property
    def tracker(self) -> Tracker:
        return self.running.app[TRACKER_KEY]

    async def call(self, method: str, path: str, *, json_body: Any = None, params: dict[str, Any] | None = None,
                   data: bytes | None = None) -> Reply:
        return await call(self.session, self.running.base_url, method, path, json_body=json_body, params=params,
                          data=data)

    async def send(self, *payloads: EventData, time: datetime | None = None, event_id: str | None = None) -> None:
        """Publish ``payloads`` as the gateway would, then wait until the tracker handled them."""
        for payload in payloads:
            await self.running.resources.publisher.publish(
                Event(data=payload, source="/lakecache/gateway", id=event_id or uuid.uuid4().hex,
                      time=time or datetime.now(UTC)))
        await bus_settled(self.running.resources.bus)

    async def experiment(self, name: str = "resnet", project: str = PROJECT) -> str:
        reply = await self.call("POST", f"/api/v1/projects/{project}/experiments", json_body={"name": name})
        assert reply.status == 201, reply.body
        return reply.body["id"]

    async def run(self, run_id: str, project: str = PROJECT) -> dict[str, Any]:
        reply = await self.call("GET", f"/api/v1/projects/{project}/runs/{run_id}")
        assert reply.status == 200, reply.body
        return reply.body


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@contextlib.asynccontextmanager
async def running_tracker(home: Path, store_url: str | None = None) -> AsyncIterator[TrackerClient]:
    home.mkdir(parents=True, exist_ok=True)
    section: dict[str, Any] = {"port": 0}
    if store_url is not None:
        section["store_url"] = store_url
    settings = SERVICE.settings_type(home=home, bus_url=f"memory://tracker-{uuid.uuid4().hex[:8]}", tracker=section)
    async with start_service(SERVICE, settings) as running, internal_session(home, "tracker", ROUTES) as session:
        yield TrackerClient(running, session)


@pytest.fixture(params=["embedded", pytest.param("ferretdb", marks=pytest.mark.mongo)])
async def api(request, tmp_path, monkeypatch) -> AsyncIterator[TrackerClient]:
    """The tracker on the embedded store, and on FerretDB."""
    store_url = None
    if request.param == "ferretdb":
        mongo = request.getfixturevalue("mongo_server")
        # PyMongo's command listener is process-global: leave it to the tracing test in tests/ports.
        monkeypatch.setattr(runner, "instrument_document_store", lambda url, telemetry: None)
        store_url = mongo.url.replace("/?", f"/tracker_{uuid.uuid4().hex[:8]}?", 1)
    async with running_tracker(tmp_path / "home", store_url) as client:
        yield client
