"""Who attacks whom, and what they find: the people and data of the attack modules.

A :class:`Scene` is one installation (``tests.security.conftest.installation``) with its people,
made through the gateway the way an administrator makes them (``<home>/admin-token``):

| person | holds |
|---|---|
| ``admin`` | the installation administrator's token |
| ``ada`` | editor of ``vision`` (the victim team) |
| ``vera`` | admin of ``vision`` (pins vision's copies) |
| ``bob`` | editor of ``speech`` (the attacker: a member of another team) |
| ``nobody`` | no token at all |

Requests go to the gateway as one of them (:meth:`Scene.call`), or straight to an internal
service's port with no credential but what the attacker makes up (:meth:`Scene.bare`); events
go on the bus as anyone who may write a topic would put them (:meth:`Scene.forge`). Datasets are
synced with the SDK through the gateway and copies followed until ready, as a user would.
Attackers on the host (another OS user, a user racing the CLI): ``tests.security.local_users``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from lakecache.core.contracts.topics import CACHE_COMMANDS, CACHE_EVENTS, EVICTION, USAGE
from lakecache.core.ports.bus import EventBus, Message
from lakecache.core.publishing import EventPublisher
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.security.conftest import SITE, VOLUME, Installation, installation
from tests.support.waiting import bus_settled, eventually

VICTIM, ATTACKER = "vision", "speech"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Person:
    name: str
    token: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


NOBODY = Person("nobody", None)


@dataclass
class Answer:
    status: int
    body: Any
    content_type: str
    text: str

    @property
    def problem_type(self) -> str | None:
        """The problem's kind (``forbidden`` of ``urn:lakecache:problem:forbidden``), if it is one."""
        if self.content_type != PROBLEM or not isinstance(self.body, dict):
            return None
        return str(self.body.get("type", "")).rsplit(":", 1)[-1]


@dataclass
class Scene:
    """One running installation, its people and an HTTP session to call it with."""

    stack: Installation
    session: aiohttp.ClientSession
    root: Path
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return self.stack.services["gateway"].base_url

    def url_of(self, service: str) -> str:
        return self.stack.services[service].base_url

    def __getitem__(self, name: str) -> Person:
        return self.people[name]

    async def call(self, who: Person, method: str, path: str, *, json_body: Any = None, data: Any = None,
                   headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                   base: str | None = None) -> Answer:
        """``method path`` at the gateway (or ``base``) as ``who``; ``path`` is sent as written
        (already encoded: dot segments and escapes stay)."""
        url = URL((base or self.gateway) + path, encoded=True)
        async with self.session.request(method, url, json=json_body, data=data, params=params,
                                        headers={**who.headers, **(headers or {})}) as response:
            text = await response.text(errors="replace")
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text
            return Answer(response.status, body, response.content_type, text)

    async def bare(self, service: str, method: str, path: str, **options: Any) -> Answer:
        """``method path`` straight at an internal service's port, with no credential but the
        ``headers`` given (a forged ``X-LakeCache-User``, a made-up token)."""
        return await self.call(NOBODY, method, path, base=self.url_of(service), **options)

    async def ok(self, who: Person, method: str, path: str, **options: Any) -> Any:
        """A legitimate call that must succeed: its decoded answer."""
        answer = await self.call(who, method, path, **options)
        assert answer.status < 300, (method, path, answer.status, answer.body)
        return answer.body

    async def run(self, who: Person, project: str) -> str:
        """A run ``who`` starts in ``project`` through the gateway (its experiment created): its id,
        which is what a job token is issued for."""
        experiment = await self.ok(who, "POST", f"/api/v1/projects/{project}/experiments",
                                   json_body={"name": f"jobs-{uuid.uuid4().hex[:8]}"})
        return (await self.ok(who, "POST", f"/api/v1/projects/{project}/runs",
                              json_body={"experiment_id": experiment["id"]}))["id"]

    async def person(self, name: str, roles: dict[str, str]) -> Person:
        """A user made by the administrator through the gateway, with ``roles`` and a token."""
        root = self.people["admin"]
        await self.ok(root, "POST", "/api/v1/users", json_body={"name": name})
        for project, role in roles.items():
            await self.ok(root, "PUT", f"/api/v1/projects/{project}/members/{quote(name)}", json_body={"role": role})
        issued = await self.ok(root, "POST", f"/api/v1/users/{quote(name)}/tokens", json_body={"name": "laptop"})
        self.people[name] = Person(name, issued["token"])
        return self.people[name]

    def client_settings(self, who: Person) -> ClientSettings:
        return ClientSettings(api_url=self.gateway, token=who.token, home=self.root / "no-home",
                              cache_dir=self.root / f"client-cache-{who.name}")

    async def synced(self, who: Person, project: str, name: str, files: dict[str, bytes], *,
                     create: bool = True) -> dict[str, Any]:
        """``project/name`` (created unless ``create`` is false) with a commit of ``files``,
        synced by ``who`` with the SDK through the gateway: the commit."""
        directory = write_tree(self.root / f"tree-{project}-{name}-{os.urandom(4).hex()}", files)
        async with CatalogClient(self.client_settings(who)) as catalog:
            if create:
                await catalog.create_dataset(project, name)
            return (await sync_directory(catalog, DatasetRef(project, name), directory, message="sync")).commit

    async def commit_entries(self, who: Person, project: str, name: str, entries: list[dict[str, Any]], *,
                             allow_empty: bool = False) -> Answer:
        """A commit of hand-written manifest ``entries`` (what a client may send, not what the
        SDK would), posted as NDJSON through the gateway."""
        lines = [{"message": "by hand", "parents": None, "allow_empty": allow_empty}, *entries]
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        return await self.call(who, "POST", f"/api/v1/datasets/{project}/{name}/commits", data=body,
                               headers={"Content-Type": "application/x-ndjson"})

    def copy_path(self, project: str, commit_id: str) -> str:
        return f"/api/v1/projects/{project}/sites/{SITE}/copies/{commit_id}"

    async def cache(self, who: Person, project: str, dataset: str) -> str:
        """Ask for ``project/dataset@latest`` at the site: the copy's status URL."""
        accepted = await self.ok(who, "POST", "/api/v1/caches",
                                 json_body={"project": project, "dataset": dataset, "site": SITE})
        return accepted["status_url"]

    async def settled_copy(self, who: Person, status_url: str, *, until: tuple[str, ...] = ("ready", "failed"),
                           timeout: float = 60) -> dict[str, Any]:
        """The copy's status once its state is one of ``until`` (ready or failed)."""
        found: dict[str, Any] = {}

        async def settled() -> bool:
            answer = await self.call(who, "GET", status_url)
            if answer.status == 200 and answer.body["state"] in until:
                found.update(answer.body)
                return True
            return False

        await eventually(settled, timeout=timeout, message=f"{status_url} to be {' or '.join(until)}")
        return found

    async def cached(self, who: Person, project: str, dataset: str) -> dict[str, Any]:
        """``project/dataset@latest`` cached at the site and ready: its status."""
        status = await self.settled_copy(who, await self.cache(who, project, dataset))
        assert status["state"] == "ready", status
        return status

    @property
    def bus(self) -> EventBus:
        """The installation's bus, as anyone who may write its topics reaches it."""
        return self.stack.services["cacher"].resources.bus

    async def settled(self, timeout: float = 30.0) -> None:
        """Wait until every consumer on the bus has handled everything published so far: what
        follows from an event (or from a refused request, nothing) has happened by then."""
        await bus_settled(self.bus, timeout=timeout)

    async def record(self) -> Recorder:
        """Every event on the cache, command, eviction and usage topics from now on: what anyone
        who may read those topics sees."""
        recorder = Recorder()
        topics = [CACHE_EVENTS.name, CACHE_COMMANDS.for_site(SITE).name, EVICTION.name, USAGE.name]
        await self.bus.subscribe(topics, group=f"eavesdropper-{os.urandom(4).hex()}", handler=recorder.handle)
        return recorder

    async def forge(self, event: Any) -> None:
        """Put ``event`` on the bus, as anyone who may write its topic could."""
        await EventPublisher(self.bus, "forger").emit(event)

    async def cacher_copy(self, who: Person, project: str, commit_id: str) -> dict[str, Any] | None:
        """The cacher's own record of the project's copy of ``commit_id`` (leases and pin)."""
        page = await self.ok(who, "GET", f"/api/v1/sites/{SITE}/copies", params={"project": project})
        found = [c for c in page["items"] if c["commit_id"] == commit_id]
        return found[0] if found else None


@dataclass
class Recorder:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def handle(self, message: Message) -> None:
        kind = (message.header("ce_type") or b"").decode()
        data = json.loads(message.value) if message.value else {}
        # A fill's answer names the request it answers as its CloudEvents subject.
        data["subject"] = (message.header("ce_subject") or b"").decode() or None
        self.events.append((kind, data))

    def of(self, kind: str, **matching: Any) -> list[dict[str, Any]]:
        """The events of type ``lakecache.<kind>`` whose data has the ``matching`` values."""
        return [data for name, data in self.events if name == f"lakecache.{kind}"
                and all(data.get(k) == v for k, v in matching.items())]


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@contextlib.asynccontextmanager
async def scene(root: Path) -> AsyncIterator[Scene]:
    """An installation under ``root`` with ``admin``, ``ada``, ``vera`` and ``bob``."""
    async with installation(root / "home", root / VOLUME) as stack, aiohttp.ClientSession() as session:
        admin_token = (stack.home / "admin-token").read_text().strip()
        world = Scene(stack, session, root, {"admin": Person("admin", admin_token), "nobody": NOBODY})
        await world.person("ada", {VICTIM: "editor"})
        await world.person("vera", {VICTIM: "admin"})
        await world.person("bob", {ATTACKER: "editor"})
        yield world


def leaks(text: str, *secrets: bytes) -> list[str]:
    """Which of the size, sha256 or bytes of ``secrets`` appear in ``text`` (nothing, we hope).
    A size counts as a number of its own, not as digits inside an id, a hash or a time."""
    found = []
    for secret in secrets:
        size = re.compile(rf"(?<![0-9A-Za-z]){len(secret)}(?![0-9A-Za-z])")
        for shown in (hashlib.sha256(secret).hexdigest(), secret.decode("latin-1")):
            if shown in text:
                found.append(shown)
        if size.search(text):
            found.append(str(len(secret)))
    return found
