"""Bus handlers that keep the read models: the cacher's facts about copies and volumes.

Plain functions of the event and the read model they name (``view`` for copies, ``volumes`` for
the sites' volumes); ``bootstrap`` binds them once. Each fact is applied with its event time, so
redelivered and reordered facts settle on the newest (see ``status.py``).
"""

from __future__ import annotations

from lakecache.core.contracts import Event
from lakecache.core.contracts.cache import (
    CacheEvicted,
    CacheFailed,
    CacheFillProgress,
    CachePinChanged,
    CacheReady,
    VolumeReported,
    VolumeWithdrawn,
)
from lakecache.gateway.copies.status import CopyStatusView, progress_fields, ready_fields
from lakecache.gateway.repositories.site_volumes import SiteVolumeRepository


async def on_progress(event: Event[CacheFillProgress], view: CopyStatusView) -> None:
    p = event.data
    if p.project is None:
        return  # from before copies were per project: it cannot say whose copy it is
    await view.apply_volume_fact(site=p.site, project=p.project, commit_id=p.commit_id, volume=p.volume,
                                 at=event.time, fields={"state": "filling", **progress_fields(p.progress()),
                                                        "error": None})


async def on_ready(event: Event[CacheReady], view: CopyStatusView) -> None:
    r = event.data
    await view.apply_volume_fact(site=r.site, project=r.project, commit_id=r.commit_id, volume=r.volume,
                                 at=event.time, fields={"state": "ready", "path": r.path,
                                                        **ready_fields(r.files, r.size_bytes), "error": None})


async def on_failed(event: Event[CacheFailed], view: CopyStatusView) -> None:
    f = event.data
    if f.volume is None:
        await view.record_failure(site=f.site, project=f.project, commit_id=f.commit_id, reason=f.reason,
                                  retryable=f.retryable, at=event.time)
        return
    # The progress stays: how far the fill got before it failed.
    await view.apply_volume_fact(site=f.site, project=f.project, commit_id=f.commit_id, volume=f.volume,
                                 at=event.time, fields={"state": "failed", "error": f.reason,
                                                        "retryable": f.retryable, "path": None})


async def on_evicted(event: Event[CacheEvicted], view: CopyStatusView) -> None:
    e = event.data
    if e.project is None:
        return
    await view.apply_volume_fact(site=e.site, project=e.project, commit_id=e.commit_id, volume=e.volume,
                                 at=event.time, fields={"state": "evicted", "path": None, "evicted_reason": e.reason,
                                                        **progress_fields(None)})


async def on_pin_changed(event: Event[CachePinChanged], view: CopyStatusView) -> None:
    p = event.data
    await view.set_pinned(site=p.site, project=p.project, commit_id=p.commit_id, volume=p.volume, pinned=p.pinned,
                          at=event.time)


async def on_volume_reported(event: Event[VolumeReported], volumes: SiteVolumeRepository) -> None:
    r = event.data
    await volumes.report(site=r.site, volume=r.volume, at=event.time, fields=r.model_dump(exclude={"site", "volume"}))


async def on_volume_withdrawn(event: Event[VolumeWithdrawn], volumes: SiteVolumeRepository) -> None:
    w = event.data
    await volumes.withdraw(site=w.site, volume=w.volume, at=event.time, reason=w.reason)


HANDLERS = {
    CacheFillProgress: on_progress,
    CacheReady: on_ready,
    CacheFailed: on_failed,
    CacheEvicted: on_evicted,
    CachePinChanged: on_pin_changed,
    VolumeReported: on_volume_reported,
    VolumeWithdrawn: on_volume_withdrawn,
}
