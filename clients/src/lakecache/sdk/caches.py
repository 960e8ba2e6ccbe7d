"""The gateway's routes about sites and cached copies (the cacher's and the evictor's, behind it):
cache requests and their status, copies, leases, pins, eviction, volumes and TTL overrides.

A copy is one project's (another project's copy of the same commit is another copy), so every
call about a copy names the project. Every method returns the decoded JSON the API answers;
failures raise ``GatewayError`` subclasses (``lakecache.sdk.errors``). ``GatewayClient`` has
these methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import quote

from lakecache.sdk.http import API, GatewaySession


def copy_path(project: str, site: str, commit_id: str, *parts: str) -> str:
    """The route of ``project``'s copy of ``commit_id`` at ``site`` (and ``parts`` below it)."""
    tail = "/".join(quote(part, safe="") for part in (commit_id, *parts))
    return f"{API}/projects/{quote(project, safe='')}/sites/{quote(site, safe='')}/copies/{tail}"


def site_path(site: str, *parts: str) -> str:
    """The route of ``site`` (and ``parts`` below it)."""
    return "/".join([f"{API}/sites/{quote(site, safe='')}", *(quote(part, safe="") for part in parts)])


def _given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


class CacheCalls(GatewaySession):
    """Cache requests, copies, leases, pins, eviction, volumes and TTLs, through the gateway."""

    # cache requests and copies

    async def request_cache(self, project: str, dataset: str, site: str, *, ref: str = "latest",
                            volume: str | None = None) -> dict[str, Any]:
        """Ask for the commit ``ref`` names to be cached at ``site`` (on ``volume``, else one the
        cacher picks); answered at once: ``{request_id, status_url, events_url, status}``. Asking
        for a commit already cached or being filled joins that copy."""
        body = _given(project=project, dataset=dataset, ref=ref, site=site, volume=volume)
        return await self.request("POST", f"{API}/caches", json_body=body,
                                  what=f"request {project}/{dataset}@{ref} at {site}")

    async def copy_status(self, project: str, site: str, commit_id: str) -> dict[str, Any]:
        """The copy's state and, per volume, its state, path, fill progress (the ``FillProgress``
        fields of ``lakecache.core.vocabulary.copies``) and pin; ``GatewayNotFound`` when the
        project never requested the commit at the site."""
        return await self.request("GET", copy_path(project, site, commit_id),
                                  what=f"show project {project}'s copy of {commit_id} at site {site}")

    async def project_copies(self, project: str, *, site: str | None = None,
                             limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield the statuses of the project's copies (at ``site``, else every site), most recently
        changed first (at most ``limit``)."""
        async for item in self._pages(f"{API}/projects/{quote(project, safe='')}/copies",
                                      _given(site=site, limit=limit), stop_after=limit,
                                      what=f"list the copies of project {project}"):
            yield item

    async def site_copies(self, site: str, *, project: str, state: str | None = None, volume: str | None = None,
                          limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield the project's copies on the site's volumes as its cacher keeps them (one per
        volume), newest request first (at most ``limit``)."""
        params = _given(project=project, state=state, volume=volume, limit=limit)
        async for item in self._pages(site_path(site, "copies"), params, stop_after=limit,
                                      what=f"list copies of project {project!r} at site {site!r}"):
            yield item

    async def evict(self, project: str, site: str, commit_id: str, *, volume: str | None = None) -> dict[str, Any]:
        """Ask the evictor to evict the ready copy now (``volume`` when it is ready on several);
        it decides like its own decisions: never a leased or pinned copy, nor in dry run.
        ``GatewayConflict`` when the copy is not ready there."""
        return await self.request("DELETE", copy_path(project, site, commit_id), params=_given(volume=volume),
                                  what=f"evict project {project}'s copy of {commit_id} at site {site}")

    async def explain_eviction(self, project: str, site: str, commit_id: str, *,
                               volume: str | None = None) -> dict[str, Any]:
        """The evictor's view of the copy: last use, live leases, pin, TTL and its source,
        watermarks, last decision and a ``verdict``."""
        return await self.request("GET", copy_path(project, site, commit_id, "eviction"),
                                  params=_given(volume=volume),
                                  what=f"explain project {project!r}'s copy of {commit_id} at {site!r}")

    async def explain_project_copies(self, project: str, site: str) -> list[dict[str, Any]]:
        """``explain_eviction`` for each of ``project``'s copies at ``site``, in one request."""
        answer = await self.request("GET", f"{API}/projects/{quote(project, safe='')}/sites/{quote(site, safe='')}"
                                           "/eviction", what=f"explain project {project!r}'s copies at {site!r}")
        return list(answer["items"])

    async def record_read(self, project: str, site: str, commit_id: str, *, volume: str | None = None,
                          bytes: int | None = None, cache_hit: bool | None = None,  # noqa: A002 - the API's name
                          reader: str | None = None) -> dict[str, Any]:
        """Report that a job reads the ready copy (on ``volume``): the evictor counts it as used
        now. ``cache_hit`` false when the job waited for a fill; ``GatewayConflict`` when the copy
        is not ready."""
        return await self.request("POST", copy_path(project, site, commit_id, "reads"),
                                  json_body=_given(volume=volume, bytes=bytes, cache_hit=cache_hit, reader=reader),
                                  what=f"report a read of project {project}'s copy of {commit_id} at site {site}")

    # leases

    async def acquire_lease(self, project: str, site: str, commit_id: str, *, ttl_seconds: int | None = None,
                            holder: str | None = None, volume: str | None = None) -> dict[str, Any]:
        """Lease the ready copy (on ``volume``, else where it is ready): it is not evicted until
        the lease is released or expires. ``GatewayConflict`` when the copy is not ready."""
        return await self.request("POST", copy_path(project, site, commit_id, "leases"),
                                  json_body=_given(ttl_seconds=ttl_seconds, holder=holder, volume=volume),
                                  what=f"lease project {project}'s copy of commit {commit_id} at site {site}")

    async def renew_lease(self, project: str, site: str, commit_id: str, lease_id: str, *,
                          ttl_seconds: int | None = None) -> dict[str, Any]:
        """Extend the lease by ``ttl_seconds`` (else its own); ``GatewayNotFound`` or
        ``GatewayConflict`` once it expired or was released."""
        return await self.request("PUT", copy_path(project, site, commit_id, "leases", lease_id),
                                  json_body=_given(ttl_seconds=ttl_seconds), what=f"renew lease {lease_id}")

    async def release_lease(self, project: str, site: str, commit_id: str, lease_id: str) -> None:
        """Release the lease (the copy may be evicted again)."""
        await self.request("DELETE", copy_path(project, site, commit_id, "leases", lease_id),
                           what=f"release lease {lease_id}")

    # pins

    async def pin(self, project: str, site: str, commit_id: str, *, volume: str | None = None) -> dict[str, Any]:
        """Pin the copy: it is never evicted until unpinned (project administrators)."""
        return await self.request("PUT", copy_path(project, site, commit_id, "pin"), params=_given(volume=volume),
                                  what=f"pin project {project}'s copy of {commit_id} at site {site}")

    async def unpin(self, project: str, site: str, commit_id: str, *, volume: str | None = None) -> dict[str, Any]:
        """Unpin the copy: the eviction policy applies to it again."""
        return await self.request("DELETE", copy_path(project, site, commit_id, "pin"), params=_given(volume=volume),
                                  what=f"unpin project {project}'s copy of {commit_id} at site {site}")

    # sites and volumes

    async def sites(self, *, site: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield every volume of every site (or of ``site``), as its cacher last reported it."""
        async for item in self._pages(f"{API}/sites", _given(site=site), what="list sites"):
            yield item

    async def add_volume(self, site: str, name: str, path: str, *, capacity_bytes: int | None = None,
                         ttl_seconds: int | None = None, high_watermark: float | None = None,
                         low_watermark: float | None = None) -> dict[str, Any]:
        """Register a cache volume at ``site``: ``path`` is an existing directory the cacher can
        write, on its host (installation administrators)."""
        body = _given(name=name, path=path, capacity_bytes=capacity_bytes, ttl_seconds=ttl_seconds,
                      high_watermark=high_watermark, low_watermark=low_watermark)
        return await self.request("POST", site_path(site, "volumes"), json_body=body,
                                  what=f"add volume {name!r} at site {site!r}")

    async def volumes(self, site: str) -> list[dict[str, Any]]:
        """The site's volumes: capacity, used and free space, ready copies, TTL and watermarks."""
        page = await self.request("GET", site_path(site, "volumes"), what=f"list volumes of site {site!r}")
        return list(page["items"])

    async def volume(self, site: str, name: str) -> dict[str, Any]:
        """One volume of the site."""
        return await self.request("GET", site_path(site, "volumes", name),
                                  what=f"show volume {name!r} at site {site!r}")

    async def remove_volume(self, site: str, name: str) -> None:
        """Unregister the volume (installation administrators): its ready copies are evicted
        first; ``GatewayConflict`` while a copy there is filling, leased or pinned, or when the
        cacher's settings declare the volume."""
        await self.request("DELETE", site_path(site, "volumes", name), what=f"remove volume {name!r} at site {site!r}")

    async def set_quota(self, site: str, volume: str, project: str, quota_bytes: int | None) -> dict[str, Any] | None:
        """Bound what ``project`` is charged on ``volume`` (the distinct content its copies there
        reference, ADR 0018); ``None`` removes the quota (installation administrators). The
        project's quota and charge there, or None once removed."""
        path = site_path(site, "volumes", volume, "quotas", project)
        if quota_bytes is None:
            await self.request("DELETE", path, what=f"remove project {project!r}'s quota on volume {volume!r}")
            return None
        return await self.request("PUT", path, json_body={"quota_bytes": quota_bytes},
                                  what=f"set project {project!r}'s quota on volume {volume!r} at site {site!r}")

    async def project_quotas(self, project: str, site: str) -> list[dict[str, Any]]:
        """``project``'s quota and charge on each volume of ``site`` (its members may read them)."""
        path = f"{API}/projects/{quote(project, safe='')}/sites/{quote(site, safe='')}/quotas"
        page = await self.request("GET", path, what=f"show project {project!r}'s quotas at site {site!r}")
        return list(page["items"])

    async def site_eviction(self, site: str) -> dict[str, Any]:
        """The evictor's view of the site."""
        return await self.request("GET", site_path(site, "eviction"), what=f"show the eviction state of site {site!r}")

    async def set_ttl(self, site: str, scope: Literal["dataset", "commit"], target: str,
                      ttl_seconds: int | None) -> dict[str, Any]:
        """Override the idle TTL of a dataset (its id) or a commit at ``site``; ``None`` clears
        the override (installation administrators). Answered once the evictor was told."""
        body = {"scope": scope, "target": target, "ttl_seconds": ttl_seconds}
        return await self.request("PUT", site_path(site, "ttl"), json_body=body,
                                  what=f"set the TTL of {scope} {target} at {site!r}")
