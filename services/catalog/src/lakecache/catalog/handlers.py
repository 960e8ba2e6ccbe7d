"""Bus handlers: keep the read model of cached copies and leases that guards dataset deletion.

Plain functions of the event and the repository they write (``copies`` or ``leases``), which
``bootstrap`` offers once by name. Each is idempotent (writes keyed by the event's natural key),
as at-least-once delivery requires.
"""

from __future__ import annotations

from lakecache.catalog.repositories import CopyRepository, LeaseRepository
from lakecache.core.contracts import Event
from lakecache.core.contracts.cache import CacheEvicted, CacheReady
from lakecache.core.contracts.usage import LeaseAcquired, LeaseReleased, LeaseRenewed


async def on_cache_ready(event: Event[CacheReady], copies: CopyRepository) -> None:
    d = event.data
    await copies.record_ready(dataset_id=d.dataset_id, site=d.site, volume=d.volume, commit_id=d.commit_id,
                              project=d.project, fill_id=d.fill_id)


async def on_cache_evicted(event: Event[CacheEvicted], copies: CopyRepository) -> None:
    d = event.data
    await copies.record_evicted(dataset_id=d.dataset_id, site=d.site, volume=d.volume, commit_id=d.commit_id)


async def on_lease_acquired(event: Event[LeaseAcquired], leases: LeaseRepository) -> None:
    d = event.data
    await leases.record_acquired(lease_id=d.lease_id, dataset_id=d.dataset_id, site=d.site, volume=d.volume,
                                 commit_id=d.commit_id, holder=d.holder, expires_at=d.expires_at)


async def on_lease_renewed(event: Event[LeaseRenewed], leases: LeaseRepository) -> None:
    await leases.record_renewed(lease_id=event.data.lease_id, expires_at=event.data.expires_at)


async def on_lease_released(event: Event[LeaseReleased], leases: LeaseRepository) -> None:
    await leases.record_released(lease_id=event.data.lease_id)


HANDLERS = {
    CacheReady: on_cache_ready,
    CacheEvicted: on_cache_evicted,
    LeaseAcquired: on_lease_acquired,
    LeaseRenewed: on_lease_renewed,
    LeaseReleased: on_lease_released,
}
