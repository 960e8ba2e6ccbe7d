"""Authentication on the embedded SQLite document store, with a clock the tests move."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from lakecache.core.adapters.bus.memory import InMemoryEventBus
from lakecache.core.adapters.registry import document_store_from_url
from lakecache.core.outbox import Outbox
from lakecache.core.publishing import EventPublisher
from lakecache.core.runtime.http import create_app
from lakecache.core.telemetry import configure_telemetry
from lakecache.gateway.app import GatewayDependencies, gateway_parts
from lakecache.gateway.auth import Actor, AuthSettings, AuthStore, Role
from lakecache.gateway.auth.memberships import grant_role
from lakecache.gateway.auth.tokens import issue_user_token
from lakecache.gateway.auth.users import create_user
from lakecache.gateway.copies import CopyStatusView
from lakecache.gateway.repositories import RunIdRepository, SiteVolumeRepository
from tests.gateway.stack import gateway_client, running_backends, unreachable_upstreams

TEAM_A, TEAM_B = "vision", "speech"
COLLECTIONS = ("users", "memberships", "tokens", "audit", "copy_status", "site_volumes", "outbox")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/gateway.db"


@pytest.fixture
def settings() -> AuthSettings:
    return AuthSettings()


@pytest.fixture
async def store(store_url):
    async with document_store_from_url(store_url) as store:
        yield store


@pytest.fixture
async def auth(store, clock, settings) -> AuthStore:
    auth = AuthStore.open(store, settings, clock=clock)
    await auth.create_indexes()
    return auth


@dataclass
class Someone:
    """A user of the tests with one live token."""

    id: str
    name: str
    token: str

    @property
    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_user(auth: AuthStore, name: str, roles: dict[str, Role] | None = None, *,
                    admin: bool = False) -> Someone:
    system = Actor.system()
    doc = await create_user(auth, name, system, global_admin=admin)
    for project, role in (roles or {}).items():
        await grant_role(auth, project, doc["_id"], role, system)
    issued = await issue_user_token(auth, doc["_id"], system, name="tests")
    return Someone(doc["_id"], name, issued.token)


async def handed_out(store, project: str, run_id: str) -> str:
    """Record ``run_id`` as a run the gateway handed out in ``project`` (as starting it does), so
    routes about that run find it; the id."""
    assert await RunIdRepository(store).bind("run", run_id, project)
    return run_id


async def everything_stored(store) -> str:
    """Every document of the gateway's collections, as one JSON text."""
    docs: dict[str, Any] = {name: await store.collection(name).find_list({}) for name in COLLECTIONS}
    return json.dumps(docs, default=str)


async def audit_records(auth: AuthStore, **filters: Any) -> list[dict[str, Any]]:
    return await auth.audit.find(limit=1000, **filters)


def gateway_app(auth: AuthStore, store) -> web.Application:
    """The gateway's app on ``auth``, as its bootstrap builds it, without the service runtime
    (for its route table: its backends and bus are unreachable)."""
    publisher = EventPublisher(InMemoryEventBus.from_url("memory://unopened"), "gateway")
    deps = GatewayDependencies(auth, CopyStatusView.open(store, Outbox(store, publisher)), SiteVolumeRepository(store),
                               unreachable_upstreams(), publisher, configure_telemetry("gateway"),
                               run_ids=RunIdRepository(store))
    parts = gateway_parts(deps)
    app = create_app("gateway", deps.telemetry, {}, parts.routes)
    assert parts.app_setup is not None
    parts.app_setup(app)
    return app


@pytest.fixture
async def api(auth, store):
    """A client of the gateway's API on the test store (backends unreachable)."""
    bus_url = f"memory://gateway-{uuid.uuid4().hex[:8]}"
    async with gateway_client(auth, store, unreachable_upstreams(), bus_url) as client:
        yield client


@pytest.fixture
async def backends(tmp_path):
    """The real catalog, cacher (site dgx) and evictor on one in-memory bus."""
    async with running_backends(tmp_path) as running:
        yield running


@pytest.fixture
async def gateway(auth, store, backends):
    """A client of the gateway in front of ``backends``."""
    async with gateway_client(auth, store, backends.upstreams(), backends.bus_url) as client:
        yield client


@pytest.fixture
async def people(auth) -> dict[str, Someone]:
    """alice edits vision, bob administers speech, root administers the installation."""
    return {"alice": await make_user(auth, "alice", {TEAM_A: Role.EDITOR}),
            "bob": await make_user(auth, "bob", {TEAM_B: Role.ADMIN}),
            "root": await make_user(auth, "root", admin=True)}
