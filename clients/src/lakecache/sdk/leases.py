"""Leasing a cached copy from a training job: the copy is not evicted while the lease lives.

    async with CopyLease("dgx", commit_id) as copy:
        train(copy.path)          # read the commit's files from the site's volume

A copy is one project's (another project's copy of the same commit is another copy), so the
lease names the project: the ``project`` argument, else the project of the job token in use
(a job token acts in one project only), else ``LAKECACHE_PROJECT`` (``ClientSettings.project``,
default ``default``) for a user token. The lease is taken through the gateway, renewed in the
background at a third of its time to live, and released on exit, also when the job fails. If
the job dies without releasing, the lease simply expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from lakecache.sdk.catalog import API, CatalogConflict, CatalogError, CatalogUnavailable, request_json
from lakecache.sdk.settings import ClientSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeasedCopy:
    """Where a leased copy is, and the lease that protects it."""

    path: Path
    site: str
    volume: str
    commit_id: str
    lease_id: str
    project: str


async def token_project(session: aiohttp.ClientSession, settings: ClientSettings) -> str:
    """The project a lease is for when none is named: the job token's, else ``settings.project``."""
    me = await request_json(session, settings.gateway_url, "GET", f"{API}/me", what="find the token's project")
    if isinstance(me, dict) and me.get("kind") == "job" and me.get("project"):
        return str(me["project"])
    return settings.project


class CopyLease:
    """An async context manager holding a lease on ``project``'s ready copy of ``commit_id`` at
    ``site`` (the project: see the module)."""

    def __init__(self, site: str, commit_id: str, *, project: str | None = None,
                 settings: ClientSettings | None = None, holder: str | None = None, ttl_seconds: int = 600,
                 volume: str | None = None) -> None:
        self.settings = settings or ClientSettings()
        self.site, self.commit_id, self.volume, self.project = site, commit_id, volume, project
        self.holder, self.ttl_seconds = holder, ttl_seconds
        self.copy: LeasedCopy | None = None
        #: The lease could not be renewed (it expired or was released elsewhere).
        self.lost = False
        self._session: aiohttp.ClientSession | None = None
        self._renewing: asyncio.Task[None] | None = None

    @property
    def _copy_path(self) -> str:
        parts = (self.project or "", self.site, self.commit_id)
        project, site, commit_id = (quote(part, safe="") for part in parts)
        return f"{API}/projects/{project}/sites/{site}/copies/{commit_id}"

    async def _call(self, method: str, path: str, what: str, json_body: Any = None) -> Any:
        assert self._session is not None
        return await request_json(self._session, self.settings.gateway_url, method, path, what=what,
                                  json_body=json_body)

    async def __aenter__(self) -> LeasedCopy:
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout)
        self._session = aiohttp.ClientSession(timeout=timeout, headers={"Accept": "application/json",
                                                                        **self.settings.auth_headers()})
        try:
            if self.project is None:
                self.project = await token_project(self._session, self.settings)
            what = f"lease project {self.project}'s copy of commit {self.commit_id} at site {self.site}"
            status = await self._call("GET", self._copy_path, what)
            if status["state"] != "ready":
                raise CatalogConflict(f"{what}: the copy is {status['state']}, not ready; request it with "
                                      f"`lakecache cache request` and wait for it", status=409)
            body = {"ttl_seconds": self.ttl_seconds, "holder": self.holder, "volume": self.volume}
            lease = await self._call("POST", self._copy_path + "/leases", what,
                                     {k: v for k, v in body.items() if v is not None})
            [volume] = [v for v in status["volumes"] if v["volume"] == lease["volume"]] or [None]
            if volume is None or not volume.get("path"):
                raise CatalogConflict(f"{what}: the lease is on volume {lease['volume']!r}, which has no ready "
                                      "copy in the status", status=409)
            self.copy = LeasedCopy(Path(volume["path"]), self.site, lease["volume"], self.commit_id, lease["id"],
                                   self.project)
        except BaseException:
            await self._session.close()
            raise
        self._renewing = asyncio.create_task(self._renew_forever(), name=f"lease-{lease['id']}")
        return self.copy

    async def _renew_forever(self) -> None:
        assert self.copy is not None
        path = f"{self._copy_path}/leases/{self.copy.lease_id}"
        while True:
            await asyncio.sleep(self.ttl_seconds / 3)
            try:
                await self._call("PUT", path, f"renew lease {self.copy.lease_id}", {})
            except CatalogUnavailable as exc:  # transient: two more tries before it expires
                log.warning("%s; retrying", exc)
            except CatalogError as exc:  # expired or released elsewhere: nothing left to renew
                log.error("%s; the copy is no longer protected from eviction", exc)
                self.lost = True
                return

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
        try:
            if self.copy is not None:
                path = f"{self._copy_path}/leases/{self.copy.lease_id}"
                try:
                    await self._call("DELETE", path, f"release lease {self.copy.lease_id}")
                except CatalogUnavailable as exc:  # it expires on its own
                    log.warning("%s; the lease expires by itself in at most %d s", exc, self.ttl_seconds)
        finally:
            assert self._session is not None
            await self._session.close()
