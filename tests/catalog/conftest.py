"""A catalog started through the service runtime on embedded adapters, and an HTTP client for it.

The client signs every request as the gateway would (``tests.support.identity``): the action and
project come from the catalog's own route table, ``X-LakeCache-User`` names the subject.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from lakecache.catalog.api import CATALOG_KEY, ROUTES
from lakecache.catalog.bootstrap import SERVICE
from lakecache.catalog.storage import Catalog
from lakecache.core.ports.docstore import Collection
from lakecache.core.runtime import RunningService, start_service
from tests.support.http import Reply, call
from tests.support.identity import PROJECT_HEADER, internal_session


def entry(path: str, content: bytes | str, **extra: Any) -> dict[str, Any]:
    data = content.encode() if isinstance(content, str) else content
    return {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **extra}


def ndjson(header: dict[str, Any], entries: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in [header, *entries])


@dataclass
class CatalogClient:
    running: RunningService
    session: aiohttp.ClientSession

    @property
    def catalog(self) -> Catalog:
        return self.running.app[CATALOG_KEY]

    def stored(self, collection: str) -> Collection:
        """The catalog's raw ``collection``, to check what is (or is not) stored."""
        return self.running.resources.store.collection(collection)

    async def call(self, method: str, path: str, *, json_body: Any = None, data: bytes | None = None,
                   headers: dict[str, str] | None = None, params: dict[str, Any] | None = None) -> Reply:
        if path == "/api/v1/datasets" and isinstance(json_body, dict) and isinstance(json_body.get("project"), str):
            # Creating a dataset names its project in the body: sign for that project.
            headers = {PROJECT_HEADER: json_body["project"], **(headers or {})}
        return await call(self.session, self.running.base_url, method, path, json_body=json_body, data=data,
                          headers=headers, params=params)

    async def create(self, project: str = "vision", name: str = "cats", **fields: Any) -> dict[str, Any]:
        reply = await self.call("POST", "/api/v1/datasets", json_body={"project": project, "name": name, **fields})
        assert reply.status == 201, reply.body
        return reply.body

    async def commit(self, project: str, name: str, entries: list[dict[str, Any]], *, message: str = "sync",
                     parents: list[str] | None = None, allow_empty: bool = False, user: str | None = None) -> Reply:
        header = {"message": message, "parents": parents, "allow_empty": allow_empty}
        headers = {"Content-Type": "application/x-ndjson"}
        if user:
            headers["X-LakeCache-User"] = user
        return await self.call("POST", f"/api/v1/datasets/{project}/{name}/commits",
                               data=ndjson(header, entries), headers=headers)

    async def committed(self, project: str, name: str, entries: list[dict[str, Any]], **options: Any) -> str:
        reply = await self.commit(project, name, entries, **options)
        assert reply.status == 201, reply.body
        return reply.body["commit"]["id"]

    async def register_import(self, project: str, name: str, url: str) -> Reply:
        """Register an import location for ``project``, as an installation administrator."""
        return await self.call("PUT", f"/api/v1/projects/{project}/import-locations/{name}", json_body={"url": url})

    async def manifest_keys(self) -> list[str]:
        return [o.key async for o in self.running.resources.lake.iter_objects() if "/_lakecache/manifests/" in o.key]


@pytest.fixture
async def api(tmp_path, monkeypatch) -> AsyncIterator[CatalogClient]:
    monkeypatch.setenv("LAKECACHE_CATALOG__PORT", "0")
    settings = SERVICE.settings_type(home=tmp_path, bus_url=f"memory://catalog-{uuid.uuid4().hex[:8]}")
    async with start_service(SERVICE, settings) as running, \
            internal_session(tmp_path, "catalog", ROUTES) as session:
        yield CatalogClient(running, session)
