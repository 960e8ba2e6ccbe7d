"""Reads seen on the volume: jobs that read a view without the SDK still count as use.

Every ``cacher.read_sampling_seconds`` the cacher looks at the view of each ready copy of its
usable volumes (``volume.reads``: access times of the view's directories and of the files only
that copy holds, armed after each look so that the next read moves them again) and announces a
copy whose view was read since the last look as ``cache.reads.observed``; the evictor counts it
as a read at the access time found. The first look at a view in this process only arms it:
what came before includes the cacher's own work (a fill checks pooled content by reading it).

Looks run one copy at a time in a worker thread, and the next sample starts a full period after
the last one ended, so a slow volume (NFS, millions of files) never has two walks at once.
Observations are published directly (they change nothing of the cacher's): one whose publishing
failed is kept and sent with the next sample; one lost with a crash is a read the evictor does
not hear of, and the copy's next read after the restart's first look counts again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lakecache.cacher.storage import Cacher
from lakecache.cacher.volume import VolumeLayout
from lakecache.cacher.volume.reads import Look, look
from lakecache.cacher.volume.safety import UnsafeVolumePath
from lakecache.cacher.volumes import list_volumes
from lakecache.core.contracts.cache import CacheReadsObserved
from lakecache.core.errors import LakeCacheError

log = logging.getLogger(__name__)
_PAGE = 1000

Doc = dict[str, Any]


@dataclass
class _Pending:
    event: CacheReadsObserved

    def merge(self, newer: CacheReadsObserved) -> None:
        self.event = newer.model_copy(update={
            "read_at": max(self.event.read_at, newer.read_at),
            "directories_read": self.event.directories_read + newer.directories_read,
            "files_read": self.event.files_read + newer.files_read})


class ReadSampler:
    """The copies looked at so far (their views' inodes) and reads not yet announced."""

    def __init__(self, cacher: Cacher) -> None:
        self.cacher = cacher
        self._seen: dict[str, int] = {}  # copy id -> inode of the view the baseline was taken of
        self._unsent: dict[str, _Pending] = {}

    async def sample(self) -> list[CacheReadsObserved]:
        """Look at every ready copy of the usable volumes once; announce the reads; return them."""
        started = time.monotonic()
        usable = {v["name"]: v for v in await list_volumes(self.cacher) if not v.get("refused")}
        ready: dict[str, Doc] = {}
        async for doc in self._ready_copies():
            if doc["volume"] in usable:
                ready[doc["_id"]] = doc
        for key in set(self._seen) - set(ready):  # evicted (or its volume refused): a new view next time
            del self._seen[key]
        for key, doc in ready.items():
            observed = await self._look_at(doc, usable[doc["volume"]])
            if observed is not None:
                pending = self._unsent.get(key)
                if pending is None:
                    self._unsent[key] = _Pending(observed)
                else:
                    pending.merge(observed)
        sent = await self._announce()
        self.cacher.metrics.read_sample_seconds.set(time.monotonic() - started)
        return sent

    async def _ready_copies(self):
        cursor = None
        while True:
            page, cursor = await self.cacher.copies.page(volume=None, state="ready", project=None, limit=_PAGE,
                                                         cursor=cursor)
            for doc in page:
                yield doc
            if cursor is None:
                return

    async def _look_at(self, doc: Doc, volume: Doc) -> CacheReadsObserved | None:
        key = doc["_id"]
        layout = VolumeLayout.at(volume["path"], self.cacher.section.view_mode)
        seen = self._seen.get(key)
        try:
            found: Look = await asyncio.to_thread(look, layout, doc["project"], doc["dataset"], doc["commit_id"],
                                                  baseline=seen is None)
        except FileNotFoundError:
            return None  # evicted since the copies were listed
        except (UnsafeVolumePath, OSError) as exc:
            log.warning("reads of copy %s not sampled: %s", key, exc)
            return None
        if seen is not None and seen != found.view_inode:
            # Evicted and filled again between two looks: what this look armed is its baseline.
            self._seen[key] = found.view_inode
            return None
        self._seen[key] = found.view_inode
        if found.read_at_ns is None:
            return None
        self.cacher.metrics.reads_observed.inc()
        return CacheReadsObserved(
            site=self.cacher.site, volume=doc["volume"], project=doc["project"], dataset_id=doc["dataset_id"],
            commit_id=doc["commit_id"], read_at=datetime.fromtimestamp(found.read_at_ns / 1e9, UTC),
            directories_read=found.directories_read, files_read=found.files_read)

    async def _announce(self) -> list[CacheReadsObserved]:
        sent = []
        for key, pending in list(self._unsent.items()):
            try:
                await self.cacher.publisher.emit(pending.event)
            except LakeCacheError as exc:
                log.warning("reads of copy %s not announced yet (next sample retries): %s", key, exc)
                continue
            del self._unsent[key]
            sent.append(pending.event)
        return sent


async def sample_periodically(cacher: Cacher) -> None:
    """Sample every ``read_sampling_seconds`` until cancelled (a failed sample is logged, not fatal)."""
    sampler = ReadSampler(cacher)
    while True:
        try:
            await sampler.sample()
        except asyncio.CancelledError:
            raise
        except Exception:  # the store or a volume failing now must not stop the next samples
            log.exception("sampling the reads of cached copies failed; trying again in %s s",
                          cacher.section.read_sampling_seconds)
        await asyncio.sleep(cacher.section.read_sampling_seconds)
