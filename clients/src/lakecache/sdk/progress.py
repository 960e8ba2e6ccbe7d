"""Progress of long SDK work (sync, import), reported to an optional callback.

The callback gets a ``Progress`` snapshot after each file; it runs on the event loop, so it
must be quick (the CLI updates a rich progress bar).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Progress:
    """Where one phase (``scan``, ``hash``, ``upload``, ``commit``) stands."""

    phase: str
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_done / self.elapsed

    @property
    def files_per_second(self) -> float:
        return self.files_done / self.elapsed

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the current byte rate, ``None`` before anything moved."""
        if self.bytes_done <= 0:
            return None
        return max(self.bytes_total - self.bytes_done, 0) / self.bytes_per_second


ProgressCallback = Callable[[Progress], None]


class Tracker:
    """Counts one phase and tells the callback; a ``None`` callback costs nothing."""

    def __init__(self, callback: ProgressCallback | None, phase: str, files_total: int, bytes_total: int) -> None:
        self._callback = callback
        self.state = Progress(phase, files_total=files_total, bytes_total=bytes_total)
        self._emit()

    def advance(self, files: int = 1, nbytes: int = 0) -> None:
        self.state = replace(self.state, files_done=self.state.files_done + files,
                             bytes_done=self.state.bytes_done + nbytes)
        self._emit()

    def _emit(self) -> None:
        if self._callback is not None:
            self._callback(self.state)
