"""The read model behind the delete rule: which cached copies and live leases a dataset has.

Fed by the cacher's and the jobs' events (see ``handlers.py``). Every write is keyed by the
event's natural key, so a redelivered event changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lakecache.catalog.domain import now
from lakecache.catalog.storage import Catalog

_LISTED = 5


@dataclass(frozen=True)
class Usage:
    copies: list[dict[str, Any]]
    leases: list[dict[str, Any]]

    def describe(self) -> str:
        parts = []
        if self.copies:
            where = ", ".join(
                f"{c['site']}/{c['volume']} (commit {c['commit_id'][:12]})" for c in self.copies[:_LISTED]
            )
            parts.append(f"{len(self.copies)} cached cop{'y' if len(self.copies) == 1 else 'ies'} on {where}")
        if self.leases:
            who = ", ".join(f"{x['holder']} on {x['site']}/{x['volume']}" for x in self.leases[:_LISTED])
            parts.append(f"{len(self.leases)} live lease(s) held by {who}")
        return "; ".join(parts)


def _copy_id(dataset_id: str, site: str, volume: str, commit_id: str) -> str:
    # Two datasets may hold the same commit id (same content), so the dataset is part of the key.
    return f"{dataset_id}/{site}/{volume}/{commit_id}"


async def copy_ready(catalog: Catalog, *, dataset_id: str, site: str, volume: str, commit_id: str,
                     project: str, fill_id: str) -> None:
    await catalog.copies.update_one(
        {"_id": _copy_id(dataset_id, site, volume, commit_id)},
        {"$set": {"dataset_id": dataset_id, "project": project, "site": site, "volume": volume,
                  "commit_id": commit_id, "fill_id": fill_id, "ready_at": now()}},
        upsert=True,
    )


async def copy_evicted(catalog: Catalog, *, dataset_id: str, site: str, volume: str, commit_id: str) -> None:
    await catalog.copies.delete_one({"_id": _copy_id(dataset_id, site, volume, commit_id)})


async def lease_acquired(catalog: Catalog, *, lease_id: str, dataset_id: str, site: str, volume: str,
                         commit_id: str, holder: str, expires_at: datetime) -> None:
    await catalog.leases.update_one(
        {"_id": lease_id},
        {"$set": {"dataset_id": dataset_id, "site": site, "volume": volume, "commit_id": commit_id,
                  "holder": holder},
         # A redelivered acquisition must not shorten a lease a later renewal extended.
         "$max": {"expires_at": expires_at}},
        upsert=True,
    )


async def lease_renewed(catalog: Catalog, *, lease_id: str, expires_at: datetime) -> None:
    # A renewal without a known acquisition carries no dataset id and is ignored.
    await catalog.leases.update_one({"_id": lease_id}, {"$max": {"expires_at": expires_at}})


async def lease_released(catalog: Catalog, *, lease_id: str) -> None:
    await catalog.leases.delete_one({"_id": lease_id})


async def usage(catalog: Catalog, dataset_id: str) -> Usage:
    """Cached copies and unexpired leases of ``dataset_id`` (expired leases do not count)."""
    held = await catalog.copies.find_list({"dataset_id": dataset_id}, sort=[("_id", 1)], limit=100)
    live = await catalog.leases.find_list(
        {"dataset_id": dataset_id, "expires_at": {"$gt": now()}}, sort=[("_id", 1)], limit=100
    )
    return Usage(held, live)
