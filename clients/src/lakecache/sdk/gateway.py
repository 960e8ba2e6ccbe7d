"""``GatewayClient``: the SDK's one client of LakeCache, through the gateway (``/api/v1``).

    async with GatewayClient(ClientSettings()) as gateway:
        await gateway.create_dataset("team", "images")
        accepted = await gateway.request_cache("team", "images", "dgx")

One aiohttp session sends the token (``LAKECACHE_TOKEN``, else the administrator token ``lakecache
up`` wrote). The gateway is the only public entry point — it forwards to the catalog, each site's
cacher, the evictor and the tracker — so one client covers them all: datasets, commits, uploads,
imports and import locations (``lakecache.sdk.datasets``); cache requests and status, copies,
leases, pins, eviction, volumes and TTL overrides (``lakecache.sdk.caches``); experiments, runs,
their logs and artifacts, metric histories and lineage (``lakecache.sdk.runs``); API tokens
(``lakecache.sdk.tokens``). Failures raise
``GatewayError`` subclasses by meaning (``lakecache.sdk.errors``, re-exported here).
"""

from __future__ import annotations

from typing import Any

from lakecache.sdk.caches import CacheCalls
from lakecache.sdk.datasets import DatasetCalls
from lakecache.sdk.errors import (
    TOKEN_HINT,
    GatewayConflict,
    GatewayError,
    GatewayForbidden,
    GatewayInvalid,
    GatewayNotFound,
    GatewayUnauthenticated,
    GatewayUnavailable,
)
from lakecache.sdk.http import API, stream_timeout
from lakecache.sdk.runs import RunCalls
from lakecache.sdk.tokens import TokenCalls

__all__ = ["API", "TOKEN_HINT", "GatewayClient", "GatewayConflict", "GatewayError", "GatewayForbidden",
           "GatewayInvalid", "GatewayNotFound", "GatewayUnauthenticated", "GatewayUnavailable", "stream_timeout"]


class GatewayClient(DatasetCalls, CacheCalls, RunCalls, TokenCalls):
    """Async client of the gateway; use as ``async with GatewayClient(settings) as gateway:``."""

    async def me(self) -> dict[str, Any]:
        """Who the token acts for: ``{kind: "user", name, roles, …}`` or ``{kind: "job", run_id,
        project, …}``."""
        return await self.request("GET", f"{API}/me", what="find who the token acts for")

    async def token_project(self) -> str | None:
        """The one project a job token acts in; ``None`` for a user's token (roles in many)."""
        me = await self.me()
        if isinstance(me, dict) and me.get("kind") == "job" and me.get("project"):
            return str(me["project"])
        return None
