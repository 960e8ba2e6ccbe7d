"""Bus handlers that keep the copy-status read model: the cacher's facts about copies.

Plain functions of the event and the read models (``view`` for copies, ``volumes`` for the
sites' volumes); ``bootstrap`` binds them once. Each fact is applied with
its event time, so redelivered and reordered facts settle on the newest (see ``status.py``).
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
)
from lakecache.gateway.copies.status import CopyStatusView
from lakecache.gateway.copies.volumes import SiteVolumesView

_PROGRESS = ("files_done", "files_total", "bytes_done", "bytes_total", "rate_bytes_per_s", "eta_seconds")


async def on_progress(event: Event[CacheFillProgress], view: CopyStatusView) -> None:
    p = event.data
    if p.project is None:
        return  # from before copies were per project: it cannot say whose copy it is
    await view.apply_volume_fact(site=p.site, project=p.project, commit_id=p.commit_id, volume=p.volume,
                                 at=event.time, fields={
        "state": "filling", "files_done": p.files_done, "files_total": p.files_total, "bytes_done": p.bytes_done,
        "bytes_total": p.bytes_total, "rate_bytes_per_s": p.rate_bytes_per_s, "eta_seconds": p.eta_seconds,
        "error": None})


async def on_ready(event: Event[CacheReady], view: CopyStatusView) -> None:
    r = event.data
    await view.apply_volume_fact(
        site=r.site, project=r.project, commit_id=r.commit_id, volume=r.volume, at=event.time,
        fields={"state": "ready", "path": r.path, "files_done": r.files, "files_total": r.files,
                "bytes_done": r.size_bytes, "bytes_total": r.size_bytes, "rate_bytes_per_s": None,
                "eta_seconds": None, "error": None})


async def on_failed(event: Event[CacheFailed], view: CopyStatusView) -> None:
    f = event.data
    if f.volume is None:
        await view.record_failure(site=f.site, project=f.project, commit_id=f.commit_id, reason=f.reason,
                                  retryable=f.retryable, at=event.time)
        return
    await view.apply_volume_fact(site=f.site, project=f.project, commit_id=f.commit_id, volume=f.volume,
                                 at=event.time, fields={"state": "failed", "error": f.reason,
                                                        "retryable": f.retryable, "path": None})


async def on_evicted(event: Event[CacheEvicted], view: CopyStatusView) -> None:
    e = event.data
    if e.project is None:
        return
    await view.apply_volume_fact(site=e.site, project=e.project, commit_id=e.commit_id, volume=e.volume,
                                 at=event.time, fields={"state": "evicted", "path": None, "evicted_reason": e.reason,
                                                        **dict.fromkeys(_PROGRESS)})


async def on_pin_changed(event: Event[CachePinChanged], view: CopyStatusView) -> None:
    p = event.data
    await view.set_pinned(site=p.site, project=p.project, commit_id=p.commit_id, volume=p.volume, pinned=p.pinned,
                          at=event.time)


async def on_volume_reported(event: Event[VolumeReported], volumes: SiteVolumesView) -> None:
    r = event.data
    await volumes.report(site=r.site, volume=r.volume, at=event.time, fields=r.model_dump(exclude={"site", "volume"}))


HANDLERS = {
    CacheFillProgress: on_progress,
    CacheReady: on_ready,
    CacheFailed: on_failed,
    CacheEvicted: on_evicted,
    CachePinChanged: on_pin_changed,
    VolumeReported: on_volume_reported,
}
