"""Leases (a job's claim on a ready copy) and pins (an operator's), checked atomically with eviction.

Both live on the copy document: ``lease_until`` is the latest expiry of its live leases and
``pinned`` the pin; every lease taken, renewed or released and every pin change increments
the copy's ``generation`` (``CopyRepository``). Eviction is a compare-and-swap on ``state``,
``pinned``, ``lease_until`` and (when the evictor gives it) ``generation``, so a lease taken
after the evictor's decision makes the eviction fail. Lease documents (``LeaseRepository``)
keep each holder's expiry, to recompute ``lease_until`` on release; a lease not renewed within
its TTL no longer protects the copy.
"""

from __future__ import annotations

from typing import Any

from lakecache.cacher.problems import NotReady
from lakecache.cacher.storage import Cacher
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.vocabulary.clock import iso, now
from lakecache.core.vocabulary.eviction import MAX_LEASE_SECONDS


def check_ttl(value: Any) -> int:
    """``value`` if it is a lease TTL a job may ask for, else ``InvalidArgument`` saying what is."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_LEASE_SECONDS:
        raise InvalidArgument(f"ttl_seconds must be a whole number of seconds from 1 to {MAX_LEASE_SECONDS}, got "
                              f"{value!r}; renew the lease before it expires instead of asking for a long one")
    return value


async def copy_or_404(cacher: Cacher, project: str, commit_id: str, volume: str | None) -> dict[str, Any]:
    """``project``'s copy of ``commit_id`` (on ``volume`` if given), or ``NotFound`` saying so."""
    doc = await cacher.copies.find(project, commit_id, volume)
    if doc is None:
        where = f"volume {volume!r} of site {cacher.site!r}" if volume else f"site {cacher.site!r}"
        raise NotFound(f"project {project!r} has no cached copy of commit {commit_id} on {where}; request it first")
    return doc


def lease_json(lease: dict[str, Any], generation: int) -> dict[str, Any]:
    return {"id": lease["_id"], "holder": lease["holder"], "site": lease["site"], "volume": lease["volume"],
            "commit_id": lease["commit_id"], "ttl_seconds": lease["ttl_seconds"],
            "expires_at": iso(lease["expires_at"]), "generation": generation}


async def acquire(cacher: Cacher, project: str, commit_id: str, volume: str | None, holder: str,
                  ttl: int) -> dict[str, Any]:
    """A new lease of ``holder`` on the project's ready copy; ``NotReady`` unless it is ready."""
    copy = await copy_or_404(cacher, project, commit_id, volume)
    # The lease document first: whatever ``lease_until`` protects has a document, so a release
    # that recomputes ``lease_until`` from the documents never drops a live lease.
    lease = await cacher.leases.add(copy, holder, ttl)
    new = await cacher.copies.add_lease(copy["_id"], lease)
    if new is None:
        await cacher.leases.remove(lease["_id"])
        raise NotReady(f"the copy of commit {commit_id} on volume {copy['volume']} is {copy['state']}, not ready; "
                       "wait for cache.ready before leasing it")
    return lease_json(lease, new["generation"])


async def _lease(cacher: Cacher, commit_id: str, lease_id: str) -> dict[str, Any]:
    lease = await cacher.leases.get(commit_id, lease_id)
    if lease is None:
        raise NotFound(f"no lease {lease_id!r} on commit {commit_id} at site {cacher.site!r} (released, or never "
                       "taken); acquire a new one")
    return lease


async def copy_of_lease(cacher: Cacher, project: str, commit_id: str, lease_id: str) -> dict[str, Any]:
    """The copy lease ``lease_id`` protects, if it is ``project``'s (``NotFound`` otherwise: a
    lease id of another project's copy is not one this project has)."""
    lease = await _lease(cacher, commit_id, lease_id)
    copy = await cacher.copies.get(lease["copy_id"])
    if copy is None or copy["project"] != project:
        raise NotFound(f"no lease {lease_id!r} on project {project!r}'s copy of commit {commit_id} at site "
                       f"{cacher.site!r} (released, or never taken); acquire a new one")
    return copy


async def renew(cacher: Cacher, commit_id: str, lease_id: str, ttl: int | None) -> dict[str, Any]:
    """Extend a live lease by ``ttl`` (else its own TTL) from now; ``NotReady`` once it expired."""
    lease = await _lease(cacher, commit_id, lease_id)
    if lease["expires_at"] <= now():
        raise NotReady(f"lease {lease_id} expired at {iso(lease['expires_at'])} and no longer protects the copy; "
                       "acquire a new lease (the copy may have been evicted)")
    renewed = await cacher.leases.extend(lease, ttl or lease["ttl_seconds"])
    new = await cacher.copies.extend_lease(lease["copy_id"], renewed)
    if new is None:
        raise NotReady(f"the copy of commit {commit_id} is no longer ready; lease {lease_id} cannot be renewed")
    return lease_json(renewed, new["generation"])


async def release(cacher: Cacher, commit_id: str, lease_id: str) -> None:
    """Drop a lease: the copy stays protected only by the leases still live."""
    lease = await _lease(cacher, commit_id, lease_id)
    await cacher.leases.remove(lease_id)
    await cacher.copies.drop_lease(lease["copy_id"], lease, lambda: cacher.leases.live_until(lease["copy_id"]))


async def set_pin(cacher: Cacher, project: str, commit_id: str, volume: str | None, pinned: bool,
                  by: str) -> dict[str, Any]:
    """Pin or unpin the project's copy; returns the copy."""
    copy = await copy_or_404(cacher, project, commit_id, volume)
    new = await cacher.copies.set_pin(copy["_id"], pinned, by)
    if new is None:
        raise NotFound(f"the copy of commit {commit_id} vanished; retry")
    return new
