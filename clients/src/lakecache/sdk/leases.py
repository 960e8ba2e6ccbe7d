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

from lakecache.sdk.errors import GatewayConflict, GatewayError, GatewayUnavailable
from lakecache.sdk.gateway import GatewayClient
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


async def token_project(gateway: GatewayClient) -> str:
    """The project a lease is for when none is named: the job token's, else ``settings.project``."""
    return await gateway.token_project() or gateway.settings.project


class CopyLease:
    """An async context manager holding a lease on ``project``'s ready copy of ``commit_id`` at
    ``site`` (the project: see the module). Failures raise ``GatewayError`` subclasses:
    ``GatewayConflict`` when the copy is not ready, ``GatewayForbidden`` without a role in the
    project, ``GatewayNotFound`` when the project has no copy of the commit there."""

    def __init__(self, site: str, commit_id: str, *, project: str | None = None,
                 settings: ClientSettings | None = None, holder: str | None = None, ttl_seconds: int = 600,
                 volume: str | None = None) -> None:
        self.settings = settings or ClientSettings()
        self.site, self.commit_id, self.volume, self.project = site, commit_id, volume, project
        self.holder, self.ttl_seconds = holder, ttl_seconds
        self.copy: LeasedCopy | None = None
        #: The lease could not be renewed (it expired or was released elsewhere).
        self.lost = False
        self._gateway: GatewayClient | None = None
        self._renewing: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LeasedCopy:
        self._gateway = gateway = await GatewayClient(self.settings).__aenter__()
        try:
            if self.project is None:
                self.project = await token_project(gateway)
            what = f"lease project {self.project}'s copy of commit {self.commit_id} at site {self.site}"
            status = await gateway.copy_status(self.project, self.site, self.commit_id)
            if status["state"] != "ready":
                raise GatewayConflict(f"{what}: the copy is {status['state']}, not ready; request it with "
                                      f"`lakecache cache request` and wait for it", status=409)
            lease = await gateway.acquire_lease(self.project, self.site, self.commit_id, ttl_seconds=self.ttl_seconds,
                                                holder=self.holder, volume=self.volume)
            [volume] = [v for v in status["volumes"] if v["volume"] == lease["volume"]] or [None]
            if volume is None or not volume.get("path"):
                raise GatewayConflict(f"{what}: the lease is on volume {lease['volume']!r}, which has no ready "
                                      "copy in the status", status=409)
            self.copy = LeasedCopy(Path(volume["path"]), self.site, lease["volume"], self.commit_id, lease["id"],
                                   self.project)
        except BaseException:
            await gateway.__aexit__(None, None, None)
            raise
        self._renewing = asyncio.create_task(self._renew_forever(), name=f"lease-{lease['id']}")
        return self.copy

    async def _renew_forever(self) -> None:
        assert self.copy is not None and self._gateway is not None and self.project is not None
        while True:
            await asyncio.sleep(self.ttl_seconds / 3)
            try:
                await self._gateway.renew_lease(self.project, self.site, self.commit_id, self.copy.lease_id)
            except GatewayUnavailable as exc:  # transient: two more tries before it expires
                log.warning("%s; retrying", exc)
            except GatewayError as exc:  # expired or released elsewhere: nothing left to renew
                log.error("%s; the copy is no longer protected from eviction", exc)
                self.lost = True
                return

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
        assert self._gateway is not None and self.project is not None
        try:
            if self.copy is not None:
                try:
                    await self._gateway.release_lease(self.project, self.site, self.commit_id, self.copy.lease_id)
                except GatewayUnavailable as exc:  # it expires on its own
                    log.warning("%s; the lease expires by itself in at most %d s", exc, self.ttl_seconds)
        finally:
            await self._gateway.__aexit__(None, None, None)
