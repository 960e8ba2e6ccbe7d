"""Fill progress for people and events: files, objects, bytes, rate, ETA, reported at most
every ``interval`` seconds (the cacher's ``progress_interval_seconds``, at least 0.5)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

from lakecache.core.vocabulary.copies import FillPhase, FillProgress

ProgressCallback = Callable[[FillProgress], Awaitable[None] | None]


class ProgressTracker:
    """Accumulates counters; ``report`` calls the callback with a ``FillProgress`` when
    ``interval`` has passed (or always, when ``force``), so a fill of a million small files
    does not flood the bus."""

    def __init__(self, callback: ProgressCallback | None, interval: float = 0.5) -> None:
        self._callback, self._interval = callback, interval
        self.phase: FillPhase = "planning"
        self.files_done = self.files_total = 0
        self.objects_done = self.objects_total = 0
        self.bytes_done = self.bytes_total = 0
        self._started = time.monotonic()
        self._last = float("-inf")

    def add_bytes(self, count: int) -> None:
        self.bytes_done += count

    def snapshot(self) -> FillProgress:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = self.bytes_done / elapsed
        remaining = self.bytes_total - self.bytes_done
        eta = remaining / rate if rate > 0 else (0.0 if remaining <= 0 else None)
        return FillProgress(
            phase=self.phase, files_done=self.files_done, files_total=self.files_total,
            objects_done=self.objects_done, objects_total=self.objects_total, bytes_done=self.bytes_done,
            bytes_total=self.bytes_total, rate_bytes_per_s=rate, eta_seconds=eta,
        )

    async def report(self, *, force: bool = False) -> None:
        if self._callback is None:
            return
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        result = self._callback(self.snapshot())
        if inspect.isawaitable(result):
            await result
