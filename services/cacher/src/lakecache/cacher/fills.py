"""Running fills: at most one per copy, a bounded number per volume, resumed after a restart.

The command handler only records the request (``copies.record_request``) and calls
``schedule``; the fill runs in a task of this runner, so the bus offset is committed at once.
A copy left ``requested`` or ``filling`` by a stopped process is scheduled again by
``resume`` at start-up; ``fill_commit`` reuses what the pool already holds.

When a fill lacks space it announces ``cache.space.requested`` once (for the evictor), waits
up to ``space_wait_seconds`` for free space to appear and tries once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from lakecache.cacher import volumes
from lakecache.cacher.copies import ACTIVE, transition
from lakecache.cacher.fill import FillError, FillProgress, FillResult, fill_commit
from lakecache.cacher.fill.fetcher import NO_SPACE
from lakecache.cacher.lake import Source, manifest_chunks
from lakecache.cacher.storage import Cacher, now
from lakecache.core.contracts.cache import CacheFailed, CacheFillProgress, CacheReady, CacheSpaceRequested
from lakecache.core.errors import ConfigurationError, InvalidArgument, LakeCacheError, NotFound, Unavailable

log = logging.getLogger(__name__)


def ready_event(doc: dict[str, Any]) -> CacheReady:
    return CacheReady(
        fill_id=doc["fill_id"], project=doc["project"], dataset_id=doc["dataset_id"], commit_id=doc["commit_id"],
        site=doc["site"], volume=doc["volume"], path=doc["path"], files=doc["files"], size_bytes=doc["size_bytes"],
        bytes_fetched=doc["bytes_fetched"], bytes_deduplicated=doc["bytes_deduplicated"],
        duration_seconds=doc["duration_seconds"], generation=doc.get("generation", 0))


def failed_event(doc: dict[str, Any], reason: str, retryable: bool, paths: list[str],
                 volume: str | None) -> CacheFailed:
    return CacheFailed(fill_id=doc.get("fill_id") or "none", project=doc["project"], dataset_id=doc["dataset_id"],
                       commit_id=doc["commit_id"], site=doc["site"], volume=volume, reason=reason,
                       retryable=retryable, failed_paths=paths)


def _per_request(doc: dict[str, Any], data) -> list[tuple[Any, str | None]]:
    # One event per waiting request, its id as the CloudEvents subject, so each requester
    # (the gateway's status URL) sees its own answer.
    return [(data, rid) for rid in doc.get("requests", [])] or [(data, None)]


class FillRunner:
    def __init__(self, cacher: Cacher) -> None:
        self._cacher = cacher
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}

    def schedule(self, key: str) -> None:
        """Make sure a task drives copy ``key`` (no second task if one runs)."""
        task = self._tasks.get(key)
        if task is not None and not task.done():
            return
        self._tasks[key] = asyncio.create_task(self._drive(key), name=f"fill {key}")

    async def resume(self) -> int:
        """Schedule every copy of this site left ``requested`` or ``filling``."""
        found = await self._cacher.copies.find_list({"site": self._cacher.site, "state": {"$in": list(ACTIVE)}})
        for doc in found:
            log.info("resuming the fill of %s (left %s)", doc["_id"], doc["state"])
            self.schedule(doc["_id"])
        return len(found)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drive(self, key: str) -> None:
        # Loop: a request may reset a copy that failed while this task was finishing.
        while True:
            doc = await self._cacher.copies.find_one({"_id": key})
            if doc is None or doc["state"] not in ACTIVE:
                return
            try:
                await self._attempt(doc)
            except LakeCacheError as exc:  # the store is unreachable: the copy stays, resumed at restart
                log.warning("fill of %s interrupted, it resumes at the next start: %s", key, exc)
                return

    async def _attempt(self, doc: dict[str, Any]) -> None:
        cacher, key, fill_id = self._cacher, doc["_id"], doc["fill_id"]
        try:
            volume = volumes.usable(await volumes.get_volume(cacher, doc["volume"]))
        except NotFound as exc:
            await self._failed(key, fill_id, FillError(str(exc), retryable=False))
            return
        async with self._slots.setdefault(volume["name"], asyncio.Semaphore(cacher.section.fills_per_volume)):
            started = await transition(
                cacher, key, lambda d: d["state"] in ACTIVE and d["fill_id"] == fill_id,
                lambda d: {"$set": {"state": "filling", "started_at": now()}})
            if started is None:
                return
            try:
                result = await self._fill_with_space(started, volume)
            except FillError as exc:
                await self._failed(key, fill_id, exc)
                return
            except (Unavailable, NotFound) as exc:
                await self._failed(key, fill_id, FillError(
                    f"reading the manifest {started['manifest_url']} failed: {exc}",
                    retryable=isinstance(exc, Unavailable)))
                return
            except (ConfigurationError, InvalidArgument) as exc:  # refused by the lake or the grant: for good
                await self._failed(key, fill_id, FillError(
                    f"reading commit {started['commit_id']} from {started['lake_url']} was refused: {exc}",
                    retryable=False))
                return
        await self._ready(key, fill_id, result)

    async def _fill(self, doc: dict[str, Any], volume: dict[str, Any]) -> FillResult:
        cacher = self._cacher
        if "source" not in doc:
            raise FillError("this copy was requested before requests carried source grants; request the commit "
                            "again", retryable=False)
        source = Source.from_document(doc["source"], cacher.lake_roots)

        async def on_progress(p: FillProgress) -> None:
            progress = {"phase": p.phase, "files": p.files_total, "objects_done": p.objects_done,
                        "objects_total": p.objects_total, "bytes": p.bytes_done, "bytes_total": p.bytes_total,
                        "rate": p.rate_bytes_per_s, "eta": p.eta_seconds}
            try:
                await cacher.copies.update_one({"_id": doc["_id"], "fill_id": doc["fill_id"]},
                                               {"$set": {"progress": progress}})
                await cacher.publisher.emit(CacheFillProgress(
                    fill_id=doc["fill_id"], site=doc["site"], volume=doc["volume"], commit_id=doc["commit_id"],
                    project=doc["project"], files_done=p.files_total if p.phase == "done" else 0,
                    files_total=p.files_total, bytes_done=p.bytes_done, bytes_total=p.bytes_total,
                    rate_bytes_per_s=p.rate_bytes_per_s, eta_seconds=p.eta_seconds))
            except LakeCacheError as exc:  # progress is best effort; the fill goes on
                log.warning("progress of %s not published: %s", doc["_id"], exc)

        return await fill_commit(
            volume["path"], doc["project"], doc["dataset"], doc["commit_id"],
            manifest_chunks(cacher.open_store, source, doc["commit_id"]), cacher.open_store,
            lake_url=source.lake_url, parents=source.grant.parents, check_object=source.check_object,
            on_progress=on_progress, capacity_bytes=volume.get("capacity_bytes"),
            progress_interval=cacher.section.progress_interval_seconds, view_mode=cacher.section.view_mode)

    async def _fill_with_space(self, doc: dict[str, Any], volume: dict[str, Any]) -> FillResult:
        try:
            return await self._fill(doc, volume)
        except FillError as exc:
            needed = _bytes_needed(exc, doc)
            if needed is None:
                raise
        await self._request_space(doc, volume, needed)
        free = await self._wait_for_space(volume, needed)
        if free < needed:
            raise FillError(
                f"commit {doc['commit_id']} needs {needed} bytes on volume {volume['name']} ({volume['path']}) "
                f"but only {free} were free after waiting {self._cacher.section.space_wait_seconds:.0f}s for "
                "eviction; evict or unpin copies, or enlarge the volume, then request it again", retryable=True)
        try:
            return await self._fill(doc, volume)
        except FillError as exc:
            if _bytes_needed(exc, doc) is None:
                raise
            free = await volumes.free_bytes(volume)
            raise FillError(f"commit {doc['commit_id']} needs {needed} bytes on volume {volume['name']} but only "
                            f"{free} are free (space ran out again on the retry): {exc.reason}",
                            retryable=True, failed_paths=exc.failed_paths) from exc

    async def _request_space(self, doc: dict[str, Any], volume: dict[str, Any], needed: int) -> None:
        free = await volumes.free_bytes(volume)
        data = CacheSpaceRequested(site=doc["site"], volume=doc["volume"], bytes_needed=max(needed - free, 1),
                                   fill_id=doc["fill_id"], commit_id=doc["commit_id"], project=doc["project"])
        await transition(
            self._cacher, doc["_id"],
            lambda d: d["fill_id"] == doc["fill_id"] and d["state"] == "filling" and not d.get("space_requested"),
            lambda d: {"$set": {"space_requested": True}}, lambda d: [(data, None)])

    async def _wait_for_space(self, volume: dict[str, Any], needed: int) -> int:
        section = self._cacher.section
        deadline = time.monotonic() + section.space_wait_seconds
        free = await volumes.free_bytes(volume)
        while free < needed and time.monotonic() < deadline:
            await asyncio.sleep(min(section.space_poll_seconds, max(deadline - time.monotonic(), 0)))
            free = await volumes.free_bytes(volume)
        return free

    async def _ready(self, key: str, fill_id: str, result: FillResult) -> None:
        fields = {"state": "ready", "path": str(result.view_path), "files": result.files,
                  "size_bytes": result.size_bytes, "bytes_fetched": result.bytes_fetched,
                  "bytes_deduplicated": result.bytes_deduplicated, "duration_seconds": result.duration_seconds,
                  "ready_at": now(), "requests": [], "progress": None, "error": None}
        done = await transition(
            self._cacher, key, lambda d: d["state"] == "filling" and d["fill_id"] == fill_id,
            lambda d: {"$set": fields}, lambda d: _per_request(d, ready_event({**d, **fields})))
        if done is not None:
            self._cacher.metrics.fills.labels("ready").inc()
            await volumes.report_by_name(self._cacher, done["volume"])
            log.info("%s ready: %d files, %d bytes fetched, %d deduplicated, %.1fs", key, result.files,
                     result.bytes_fetched, result.bytes_deduplicated, result.duration_seconds)

    async def _failed(self, key: str, fill_id: str, exc: FillError) -> None:
        error = {"reason": exc.reason, "retryable": exc.retryable, "failed_paths": exc.failed_paths}
        done = await transition(
            self._cacher, key, lambda d: d["state"] in ACTIVE and d["fill_id"] == fill_id,
            lambda d: {"$set": {"state": "failed", "error": error, "requests": [], "progress": None}},
            lambda d: _per_request(d, failed_event(d, exc.reason, exc.retryable, exc.failed_paths, d["volume"])))
        if done is not None:
            self._cacher.metrics.fills.labels("failed").inc()
            log.warning("%s failed (retryable: %s): %s", key, exc.retryable, exc.reason)


def _bytes_needed(exc: FillError, doc: dict[str, Any]) -> int | None:
    """Bytes the fill needs when it failed for lack of space, else None."""
    if not exc.retryable:
        return None
    if exc.bytes_needed is not None:
        return exc.bytes_needed
    # ENOSPC in the middle of a fill: what is left of the fill is the best estimate.
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.errno in NO_SPACE:
        progress = doc.get("progress") or {}
        return max(progress.get("bytes_total", 0) - progress.get("bytes", 0), 1)
    return None
