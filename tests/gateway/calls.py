"""What the stack tests do through the gateway as a user would: sync a tree with the SDK, ask
for a cached copy and follow its progress, call a route and read its JSON answer.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.gateway.conftest import Someone
from tests.gateway.stack import SITE


def tree(tmp_path: Path, name: str = "tree") -> Path:
    """A directory of three random files under ``train/``."""
    data = tmp_path / name
    (data / "train").mkdir(parents=True)
    for i in range(3):
        (data / "train" / f"{i}.bin").write_bytes(os.urandom(2048))
    return data


async def commit_tree(gateway: TestClient, who: Someone, tmp_path: Path, project: str, name: str,
                      data: Path | None = None) -> dict[str, Any]:
    """Dataset ``project/name`` with one commit of ``data`` (a new tree by default), made by the
    SDK through the gateway with ``who``'s token."""
    data = data or tree(tmp_path, f"data-{project}-{name}")
    settings = ClientSettings(api_url=str(gateway.make_url("")).rstrip("/"), token=who.token,
                              cache_dir=tmp_path / f"client-{project}-{who.name}", home=tmp_path / "no-home")
    async with CatalogClient(settings) as lakecache:
        await lakecache.create_dataset(project, name)
        return (await sync_directory(lakecache, DatasetRef(project, name), data, message="first")).commit


async def call_json(gateway: TestClient, method: str, path: Any, who: Someone | None,
                    **options: Any) -> tuple[int, Any]:
    """``method path`` as ``who`` (anonymous with None): (status, decoded JSON or None)."""
    headers = {**(who.header if who else {}), **options.pop("headers", {})}
    async with gateway.request(method, path, headers=headers, **options) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


async def status_events(gateway: TestClient, url: str, who: Someone) -> list[dict[str, Any]]:
    """Every status message of a live-progress stream, until the gateway ends it."""
    statuses = []
    async with gateway.get(url, headers=who.header) as response:
        assert response.status == 200 and response.content_type == "text/event-stream"
        async for line in response.content:
            if line.startswith(b"data: "):
                statuses.append(json.loads(line[len(b"data: "):]))
    return statuses


async def cache(gateway: TestClient, who: Someone, project: str, dataset: str = "cats") -> dict[str, Any]:
    """Ask for ``project/dataset@latest`` at the site and follow it until ready: the accepted answer."""
    status, accepted = await call_json(gateway, "POST", "/api/v1/caches", who,
                                       json={"project": project, "dataset": dataset, "site": SITE})
    assert status == 202, accepted
    statuses = await asyncio.wait_for(status_events(gateway, accepted["events_url"], who), 60)
    assert statuses[-1]["state"] == "ready", statuses
    return accepted


async def ready_copy(gateway: TestClient, who: Someone, tmp_path: Path,
                     project: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new dataset ``project/cats`` with one commit, cached and ready: (commit, accepted answer)."""
    commit = await commit_tree(gateway, who, tmp_path, project, "cats")
    return commit, await cache(gateway, who, project)
