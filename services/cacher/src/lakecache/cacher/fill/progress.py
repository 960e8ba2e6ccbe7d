"""Fill progress for people and events: files, bytes, rate, ETA, reported at most twice a second."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FillProgress:
    commit_id: str
    phase: str  # "planning", "fetching", "linking", "done"
    objects_done: int
    objects_total: int
    bytes_done: int  # bytes fetched so far (this fill)
    bytes_total: int  # bytes this fill has to fetch (pool dedup counted)
    files_total: int
    rate_bytes_per_s: float
    eta_seconds: float | None


ProgressCallback = Callable[[FillProgress], Awaitable[None] | None]


class ProgressTracker:
    """Accumulates counters; ``report`` calls the callback when ``interval`` has passed (or
    always, when ``force``), so a fill of a million small files does not flood the bus."""

    def __init__(self, commit_id: str, callback: ProgressCallback | None, interval: float = 0.5) -> None:
        self.commit_id, self._callback, self._interval = commit_id, callback, interval
        self.phase = "planning"
        self.objects_done = self.objects_total = self.files_total = 0
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
            self.commit_id, self.phase, self.objects_done, self.objects_total, self.bytes_done,
            self.bytes_total, self.files_total, rate, eta,
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
