"""Leases (a job's claim on a ready copy) and pins (an operator's), checked atomically with eviction.

Both live on the copy document: ``lease_until`` is the latest expiry of its live leases and
``pinned`` the pin; every lease taken, renewed or released and every pin change increments
the copy's ``generation``. Eviction is a compare-and-swap on ``state``, ``pinned``,
``lease_until`` and (when the evictor gives it) ``generation``, so a lease taken after the
evictor's decision makes the eviction fail. Lease documents (``leases``) keep each holder's
expiry, to recompute ``lease_until`` on release; a lease not renewed within its TTL no longer
protects the copy.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from lakecache.cacher.copies import find_copy, transition
from lakecache.cacher.problems import NotReady
from lakecache.cacher.storage import EPOCH, Cacher, iso, now
from lakecache.core.contracts.cache import CachePinChanged
from lakecache.core.contracts.usage import LeaseAcquired, LeaseReleased, LeaseRenewed
from lakecache.core.errors import InvalidArgument, NotFound

MAX_TTL = 7 * 86400


def check_ttl(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_TTL:
        raise InvalidArgument(f"ttl_seconds must be a whole number of seconds from 1 to {MAX_TTL}, got {value!r}; "
                              "renew the lease before it expires instead of asking for a long one")
    return value


async def copy_or_404(cacher: Cacher, project: str, commit_id: str, volume: str | None) -> dict[str, Any]:
    doc = await find_copy(cacher, project, commit_id, volume)
    if doc is None:
        where = f"volume {volume!r} of site {cacher.site!r}" if volume else f"site {cacher.site!r}"
        raise NotFound(f"project {project!r} has no cached copy of commit {commit_id} on {where}; request it first")
    return doc


def _next_generation(doc: dict[str, Any]) -> int:
    # The update increments the generation: announce the value it will have.
    return doc.get("generation", 0) + 1


def lease_json(lease: dict[str, Any], generation: int) -> dict[str, Any]:
    return {"id": lease["_id"], "holder": lease["holder"], "site": lease["site"], "volume": lease["volume"],
            "commit_id": lease["commit_id"], "ttl_seconds": lease["ttl_seconds"],
            "expires_at": iso(lease["expires_at"]), "generation": generation}


async def acquire(cacher: Cacher, project: str, commit_id: str, volume: str | None, holder: str,
                  ttl: int) -> dict[str, Any]:
    copy = await copy_or_404(cacher, project, commit_id, volume)
    lease_id, expires = uuid.uuid4().hex, now() + timedelta(seconds=ttl)

    def event(d: dict[str, Any]) -> LeaseAcquired:
        return LeaseAcquired(lease_id=lease_id, project=copy["project"], site=copy["site"], volume=copy["volume"],
                             dataset_id=copy["dataset_id"], commit_id=commit_id, holder=holder, ttl_seconds=ttl,
                             expires_at=expires, generation=_next_generation(d))

    lease = {"_id": lease_id, "copy_id": copy["_id"], "site": copy["site"], "volume": copy["volume"],
             "commit_id": commit_id, "holder": holder, "ttl_seconds": ttl, "expires_at": expires,
             "acquired_at": now()}
    # The lease document first: whatever ``lease_until`` protects has a document, so a release
    # that recomputes ``lease_until`` from the documents never drops a live lease.
    await cacher.leases.insert_one(lease)
    new = await transition(cacher, copy["_id"], lambda d: d["state"] == "ready",
                           lambda d: {"$inc": {"generation": 1}, "$max": {"lease_until": expires}},
                           lambda d: [(event(d), lease_id)])
    if new is None:
        await cacher.leases.delete_one({"_id": lease_id})
        raise NotReady(f"the copy of commit {commit_id} on volume {copy['volume']} is {copy['state']}, not ready; "
                       "wait for cache.ready before leasing it")
    return lease_json(lease, new["generation"])


async def _lease(cacher: Cacher, commit_id: str, lease_id: str) -> dict[str, Any]:
    lease = await cacher.leases.find_one({"_id": lease_id, "site": cacher.site, "commit_id": commit_id})
    if lease is None:
        raise NotFound(f"no lease {lease_id!r} on commit {commit_id} at site {cacher.site!r} (released, or never "
                       "taken); acquire a new one")
    return lease


async def copy_of_lease(cacher: Cacher, project: str, commit_id: str, lease_id: str) -> dict[str, Any]:
    """The copy lease ``lease_id`` protects, if it is ``project``'s (``NotFound`` otherwise: a
    lease id of another project's copy is not one this project has)."""
    lease = await _lease(cacher, commit_id, lease_id)
    copy = await cacher.copies.find_one({"_id": lease["copy_id"]})
    if copy is None or copy["project"] != project:
        raise NotFound(f"no lease {lease_id!r} on project {project!r}'s copy of commit {commit_id} at site "
                       f"{cacher.site!r} (released, or never taken); acquire a new one")
    return copy


async def renew(cacher: Cacher, commit_id: str, lease_id: str, ttl: int | None) -> dict[str, Any]:
    lease = await _lease(cacher, commit_id, lease_id)
    if lease["expires_at"] <= now():
        raise NotReady(f"lease {lease_id} expired at {iso(lease['expires_at'])} and no longer protects the copy; "
                       "acquire a new lease (the copy may have been evicted)")
    ttl = ttl or lease["ttl_seconds"]
    expires = now() + timedelta(seconds=ttl)

    def event(d: dict[str, Any]) -> LeaseRenewed:
        return LeaseRenewed(lease_id=lease_id, site=lease["site"], volume=lease["volume"], commit_id=commit_id,
                            expires_at=expires, generation=_next_generation(d), project=d["project"])

    await cacher.leases.update_one({"_id": lease_id}, {"$set": {"expires_at": expires, "ttl_seconds": ttl}})
    new = await transition(cacher, lease["copy_id"], lambda d: d["state"] == "ready",
                           lambda d: {"$inc": {"generation": 1}, "$max": {"lease_until": expires}},
                           lambda d: [(event(d), lease_id)])
    if new is None:
        raise NotReady(f"the copy of commit {commit_id} is no longer ready; lease {lease_id} cannot be renewed")
    return lease_json({**lease, "expires_at": expires, "ttl_seconds": ttl}, new["generation"])


async def release(cacher: Cacher, commit_id: str, lease_id: str) -> None:
    lease = await _lease(cacher, commit_id, lease_id)
    await cacher.leases.delete_one({"_id": lease_id})

    def event(d: dict[str, Any]) -> LeaseReleased:
        return LeaseReleased(lease_id=lease_id, site=lease["site"], volume=lease["volume"], commit_id=commit_id,
                             generation=_next_generation(d), project=d["project"])

    async def recompute(doc: dict[str, Any]) -> dict[str, Any]:
        # Read after ``doc``: a lease taken meanwhile moved ``rev`` and this runs again.
        live = await cacher.leases.find_list({"copy_id": lease["copy_id"], "expires_at": {"$gt": now()}},
                                             sort=[("expires_at", -1), ("_id", 1)], limit=1)
        return {"$inc": {"generation": 1}, "$set": {"lease_until": live[0]["expires_at"] if live else EPOCH}}

    await transition(cacher, lease["copy_id"], lambda d: True, recompute, lambda d: [(event(d), lease_id)])


async def set_pin(cacher: Cacher, project: str, commit_id: str, volume: str | None, pinned: bool,
                  by: str) -> dict[str, Any]:
    copy = await copy_or_404(cacher, project, commit_id, volume)

    def event(d: dict[str, Any]) -> CachePinChanged:
        return CachePinChanged(site=d["site"], volume=d["volume"], commit_id=commit_id, dataset_id=d["dataset_id"],
                               project=d["project"], pinned=pinned, by=by, generation=_next_generation(d))

    new = await transition(cacher, copy["_id"], lambda d: True, lambda d: {
        "$set": {"pinned": pinned, "pinned_by": by if pinned else None}, "$inc": {"generation": 1}},
        lambda d: [(event(d), None)])
    if new is None:
        raise NotFound(f"the copy of commit {commit_id} vanished; retry")
    return new
