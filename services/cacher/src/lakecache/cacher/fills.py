"""Running fills: at most one per copy, a bounded number per volume, resumed after a restart.

The command handler only records the request (``CopyRepository.record_request``) and calls
``schedule``; the fill runs in a task of this runner, so the bus offset is committed at once.
A copy left ``requested`` or ``filling`` by a stopped process is scheduled again by
``resume`` at start-up; ``fill_commit`` reuses what the pool already holds.

When a fill lacks space it announces ``cache.space.requested`` once (for the evictor), waits
up to ``space_wait_seconds`` for free space to appear and tries once more. A fill of a project
with a quota on the volume is first weighed against it (``quotas``, ADR 0018): when it would
push the project's charge over, it asks the evictor for room among that project's copies
(``cache.space.requested`` with ``quota_bytes``), waits the same way and is weighed once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from lakecache.cacher import quotas, volumes
from lakecache.cacher.fill import FillError, FillResult, fill_commit
from lakecache.cacher.fill.fetcher import NO_SPACE
from lakecache.cacher.lake import Source, manifest_chunks
from lakecache.cacher.storage import Cacher
from lakecache.core.contracts.cache import CacheFillProgress, CacheSpaceRequested
from lakecache.core.errors import ConfigurationError, InvalidArgument, LakeCacheError, NotFound, Unavailable
from lakecache.core.vocabulary.copies import ACTIVE_STATES, FillProgress

log = logging.getLogger(__name__)


class FillRunner:
    """Drives the fills of this site's copies, one task per copy."""

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
        found = await self._cacher.copies.in_states(ACTIVE_STATES)
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
            doc = await self._cacher.copies.get(key)
            if doc is None or doc["state"] not in ACTIVE_STATES:
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
        charges = cacher.charges_of(volume["name"])
        reservation: int | None = None
        try:
            async with self._slots.setdefault(volume["name"], asyncio.Semaphore(cacher.section.fills_per_volume)):
                started = await cacher.copies.start_fill(key, fill_id)
                if started is None:
                    return
                try:
                    reservation = await self._admit(started, volume)
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
            await self._ready(key, fill_id, result, volume)
        finally:
            # After the view is charged (``_ready``): until then the reservation stands for it.
            charges.release(reservation)

    async def _admit(self, doc: dict[str, Any], volume: dict[str, Any]) -> int | None:
        """Weigh the fill against its project's quota on the volume, asking for room among the
        project's copies when it does not fit; the reservation it holds, or None without a quota."""
        cacher = self._cacher
        if quotas.quota_of(volume, doc["project"]) is None or "source" not in doc:
            return None  # no quota; a copy without a source grant is refused by the fill
        contents = await quotas.commit_contents(cacher, doc)
        check = await quotas.weigh(cacher, doc, volume, contents)
        if check is not None and check.adds_bytes > check.quota_bytes:
            raise FillError(f"commit {doc['commit_id']} cannot be filled within a quota: it adds {check.adds_bytes} "
                            f"bytes to project {check.project}'s charge on volume {check.volume}, more than the "
                            f"project's whole quota of {check.quota_bytes} bytes there; ask an installation "
                            "administrator to raise it (lakecache site quota) or use another volume", retryable=False)
        if check is not None and not check.fits:
            await self._request_quota_room(doc, check)
            check = await self._wait_for_quota(check, volume)
            if check.fits:  # weighed again: what the commit adds may have grown with the evictions
                check = await quotas.weigh(cacher, doc, await volumes.get_volume(cacher, volume["name"]), contents)
            if check is not None and not check.fits:
                raise FillError(
                    f"commit {doc['commit_id']} does not fit in project {check.project}'s quota on volume "
                    f"{check.volume}: {check.text()}; after waiting "
                    f"{cacher.section.space_wait_seconds:.0f}s the evictor had not freed that much from the "
                    "project's idle copies (leased and pinned copies are never evicted). Release leases, unpin or "
                    "evict the project's copies there, or ask an installation administrator to raise the quota "
                    "(lakecache site quota), then request it again", retryable=True)
        if check is None:
            return None
        # No await since it was weighed: a concurrent fill of the project sees this reservation.
        return cacher.charges_of(volume["name"]).reserve(check.project, check.adds_bytes)

    async def _request_quota_room(self, doc: dict[str, Any], check: quotas.QuotaCheck) -> None:
        log.info("%s: %s; asking the evictor", doc["_id"], check.text())
        data = CacheSpaceRequested(site=doc["site"], volume=doc["volume"], bytes_needed=check.over_bytes,
                                   fill_id=doc["fill_id"], commit_id=doc["commit_id"], project=doc["project"],
                                   quota_bytes=check.quota_bytes)
        await self._cacher.copies.note_space_requested(doc["_id"], doc["fill_id"], data)

    async def _wait_for_quota(self, check: quotas.QuotaCheck, volume: dict[str, Any]) -> quotas.QuotaCheck:
        section = self._cacher.section
        deadline = time.monotonic() + section.space_wait_seconds
        while not check.fits and time.monotonic() < deadline:
            await asyncio.sleep(min(section.space_poll_seconds, max(deadline - time.monotonic(), 0)))
            volume = await self._cacher.volumes.get(volume["name"]) or volume
            check = quotas.recheck(self._cacher, check, volume)
        return check

    async def _fill(self, doc: dict[str, Any], volume: dict[str, Any]) -> FillResult:
        cacher = self._cacher
        if "source" not in doc:
            raise FillError("this copy was requested before requests carried source grants; request the commit "
                            "again", retryable=False)
        source = Source.from_document(doc["source"], cacher.lake_roots)

        async def on_progress(progress: FillProgress) -> None:
            # Published directly, not through the outbox: progress is no state change, the next
            # report replaces a lost one, and a late relayed one would only be stale.
            try:
                await cacher.copies.set_progress(doc["_id"], doc["fill_id"], progress)
                await cacher.publisher.emit(CacheFillProgress(
                    fill_id=doc["fill_id"], site=doc["site"], volume=doc["volume"], commit_id=doc["commit_id"],
                    project=doc["project"], **progress.model_dump()))
            except LakeCacheError as exc:  # progress is best effort; the fill goes on
                log.warning("progress of %s not published: %s", doc["_id"], exc)

        return await fill_commit(
            volume["path"], doc["project"], doc["dataset"], doc["commit_id"],
            manifest_chunks(cacher.open_store, source, doc["commit_id"]), cacher.open_store,
            lake_url=source.lake_url, parents=source.grant.parents, check_object=source.check_object,
            on_progress=on_progress, capacity_bytes=volume.get("capacity_bytes"),
            usage=await volumes.counted_usage(cacher, volume),
            progress_interval=cacher.section.progress_interval_seconds, view_mode=cacher.section.view_mode)

    async def _fill_with_space(self, doc: dict[str, Any], volume: dict[str, Any]) -> FillResult:
        try:
            return await self._fill(doc, volume)
        except FillError as exc:
            # How far it got is read now: ``doc`` is the copy as it was when the fill started.
            needed = _bytes_needed(exc, await self._cacher.copies.progress_of(doc["_id"], doc["fill_id"]))
            if needed is None:
                raise
        await self._request_space(doc, volume, needed)
        free = await self._wait_for_space(volume, needed)
        if free < needed:
            raise FillError(
                f"commit {doc['commit_id']} needs {needed} bytes on volume {volume['name']} ({volume['path']}) "
                f"but only {free} were free{self._capacity_text(volume)} after waiting "
                f"{self._cacher.section.space_wait_seconds:.0f}s for eviction; evict or unpin copies, or enlarge "
                "the volume, then request it again", retryable=True)
        try:
            return await self._fill(doc, volume)
        except FillError as exc:
            if _bytes_needed(exc, None) is None:
                raise
            free = await volumes.free_bytes(self._cacher, volume)
            raise FillError(f"commit {doc['commit_id']} needs {needed} bytes on volume {volume['name']} but only "
                            f"{free} are free (space ran out again on the retry): {exc.reason}",
                            retryable=True, failed_paths=exc.failed_paths) from exc

    def _capacity_text(self, volume: dict[str, Any]) -> str:
        capacity = volume.get("capacity_bytes")
        if capacity is None:
            return ""
        held = self._cacher.usage_of(volume["name"]).held_bytes
        return f" within its configured capacity of {capacity} bytes (LakeCache holds {held})"

    async def _request_space(self, doc: dict[str, Any], volume: dict[str, Any], needed: int) -> None:
        free = await volumes.free_bytes(self._cacher, volume)
        data = CacheSpaceRequested(site=doc["site"], volume=doc["volume"], bytes_needed=max(needed - free, 1),
                                   fill_id=doc["fill_id"], commit_id=doc["commit_id"], project=doc["project"])
        await self._cacher.copies.note_space_requested(doc["_id"], doc["fill_id"], data)

    async def _wait_for_space(self, volume: dict[str, Any], needed: int) -> int:
        section = self._cacher.section
        deadline = time.monotonic() + section.space_wait_seconds
        free = await volumes.free_bytes(self._cacher, volume)
        while free < needed and time.monotonic() < deadline:
            await asyncio.sleep(min(section.space_poll_seconds, max(deadline - time.monotonic(), 0)))
            free = await volumes.free_bytes(self._cacher, volume)
        return free

    async def _ready(self, key: str, fill_id: str, result: FillResult, volume: dict[str, Any]) -> None:
        charges = self._cacher.charges_of(volume["name"])
        # One step for a count: it lists the copy ready and walks its view, or runs before both.
        async with charges.lock:
            done = await self._cacher.copies.mark_ready(key, fill_id, result)
            if done is not None:
                await quotas.add_view(self._cacher, volume, done["project"], done["dataset"], done["commit_id"])
        if done is not None:
            self._cacher.metrics.fills.labels("ready").inc()
            await volumes.report_by_name(self._cacher, done["volume"])
            log.info("%s ready: %d files, %d bytes fetched, %d deduplicated, %.1fs", key, result.files,
                     result.bytes_fetched, result.bytes_deduplicated, result.duration_seconds)

    async def _failed(self, key: str, fill_id: str, exc: FillError) -> None:
        done = await self._cacher.copies.mark_failed(key, fill_id, exc)
        if done is not None:
            self._cacher.metrics.fills.labels("failed").inc()
            log.warning("%s failed (retryable: %s): %s", key, exc.retryable, exc.reason)


def _bytes_needed(exc: FillError, progress: FillProgress | None) -> int | None:
    """Bytes the fill needs when it failed for lack of space, else None; ``progress`` is how far
    the fill got (what it still had to fetch is the best estimate of a mid-fill ENOSPC)."""
    if not exc.retryable:
        return None
    if exc.bytes_needed is not None:
        return exc.bytes_needed
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.errno in NO_SPACE:
        left = progress.bytes_total - progress.bytes_done if progress is not None else 0
        return max(left, 1)
    return None
