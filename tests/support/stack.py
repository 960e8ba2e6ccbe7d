"""The whole stack behind the gateway — catalog, a cacher of one site, evictor, tracker, gateway — as
`lakecache up` runs it, on its own event loop in a background thread, for tests that call it
synchronously (the CLI's runner, schemathesis); and the gateway calls an administrator makes to
give someone a token (:func:`create_user`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lakecache.cacher.bootstrap import SERVICE as CACHER
from lakecache.catalog.bootstrap import SERVICE as CATALOG
from lakecache.core.runtime import run_until_stopped
from lakecache.evictor.bootstrap import SERVICE as EVICTOR
from lakecache.gateway.bootstrap import SERVICE as GATEWAY
from lakecache.gateway.settings import GatewaySection, GatewaySettings
from lakecache.tracker.bootstrap import SERVICE as TRACKER

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


def stack_settings(home: Path, volume: Path, *, cacher: dict[str, Any] | None = None, **shared: Any) -> list:
    """The catalog, a cacher of site ``dgx`` with volume ``nfs1``, the evictor and the gateway,
    as `lakecache up` runs them (the gateway last: it reaches the others wherever they listen).
    ``shared`` settings go to every service (e.g. an S3 ``lake_url`` and its ``s3_*`` options),
    ``cacher`` to the cacher's section (e.g. ``read_sampling_seconds``)."""
    home.mkdir(parents=True, exist_ok=True)
    volume.mkdir(parents=True, exist_ok=True)
    bus_url = f"memory://clients-stack-{uuid.uuid4().hex[:8]}"
    return [
        (CATALOG, CATALOG.settings_type(home=home, bus_url=bus_url, catalog={"port": 0}, **shared)),
        # Watermarks at the top: the volume's usage is the shared test disk's, not this test's.
        (CACHER, CACHER.settings_type(home=home, bus_url=bus_url, cacher={
            "port": 0, "site": STACK_SITE, "volumes": [{"name": STACK_VOLUME, "path": str(volume),
                                                        "high_watermark": 1.0, "low_watermark": 0.99}],
            **(cacher or {})}, **shared)),
        (EVICTOR, EVICTOR.settings_type(home=home, bus_url=bus_url, evictor={"port": 0}, **shared)),
        (TRACKER, TRACKER.settings_type(home=home, bus_url=bus_url, tracker={"port": 0}, **shared)),
        (GATEWAY, GatewaySettings(home=home, bus_url=bus_url, gateway=GatewaySection(port=0), **shared)),
    ]


@contextlib.contextmanager
def served_stack(home: Path, volume: Path, *, cacher: dict[str, Any] | None = None, **shared: Any) -> Iterator[Stack]:
    """The stack of :func:`stack_settings` on its own event loop in a background thread."""
    started: queue.Queue[str | BaseException] = queue.Queue()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        await run_until_stopped(stack_settings(home, volume, cacher=cacher, **shared), stop=stop,
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


def gateway_call(base_url: str, token: str, method: str, path: str, body: Any = None) -> Any:
    """One JSON request to the gateway as the holder of ``token``; the decoded answer (an HTTP
    error raises ``urllib.error.HTTPError``). Synchronous: usable with any running stack."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        text = reply.read()
    return json.loads(text) if text else None


def create_user(base_url: str, admin_token: str, name: str, roles: dict[str, str]) -> str:
    """What an administrator does for a new user through the gateway API: create the user, give
    them ``roles`` (project → ``viewer``/``editor``/``admin``) and a token, which is returned."""
    gateway_call(base_url, admin_token, "POST", "/api/v1/users", {"name": name})
    for project, role in roles.items():
        gateway_call(base_url, admin_token, "PUT",
                     f"/api/v1/projects/{quote(project, safe='')}/members/{quote(name, safe='')}", {"role": role})
    issued = gateway_call(base_url, admin_token, "POST", f"/api/v1/users/{quote(name, safe='')}/tokens",
                          {"name": "tests"})
    return issued["token"]


def started_run(base_url: str, token: str, project: str, experiment: str = "jobs") -> str:
    """A run started through the gateway in ``project`` (its experiment created), as the holder of
    ``token``; its id — what a job token is issued for."""
    made = gateway_call(base_url, token, "POST", f"/api/v1/projects/{quote(project, safe='')}/experiments",
                        {"name": f"{experiment}-{uuid.uuid4().hex[:8]}"})
    run = gateway_call(base_url, token, "POST", f"/api/v1/projects/{quote(project, safe='')}/runs",
                       {"experiment_id": made["id"]})
    return run["id"]
