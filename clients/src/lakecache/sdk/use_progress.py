"""What a job waiting for its copy (``lakecache.use``) shows on stderr: a line every
``PROGRESS_SECONDS`` with the state and the fill's files and bytes (the copy status's
``FillProgress`` fields), or a rich progress bar when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any

from lakecache.core.vocabulary.sizes import human_size

#: Seconds between two progress lines while a job waits for its copy (stderr not a terminal).
PROGRESS_SECONDS = 5.0


def _volume_progress(status: dict[str, Any]) -> dict[str, Any]:
    """The entry of the volume being filled (else the newest): the cacher's ``FillProgress``."""
    volumes = status.get("volumes") or []
    filling = [v for v in volumes if v["state"] in ("requested", "filling")]
    return max(filling or volumes, key=lambda v: v.get("updated_at") or "", default={})




class WaitProgress:
    """The wait's progress on stderr: a rich bar on a terminal, else a line every ``PROGRESS_SECONDS``."""

    def __init__(self, what: str) -> None:
        self.what, self.started, self.last_line = what, time.monotonic(), -float("inf")
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> WaitProgress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True))
            self.bar.start()
            self.task = self.bar.add_task(f"waiting for {self.what}", total=None)
        return self

    def show(self, status: dict[str, Any]) -> None:
        entry = _volume_progress(status)
        state, phase = status["state"], entry.get("phase")
        if self.bar is not None:
            self.bar.update(self.task, description=f"{self.what}: {state}" + (f" ({phase})" if phase else ""),
                            completed=entry.get("bytes_done") or 0, total=entry.get("bytes_total"))
            return
        now = time.monotonic()
        if now - self.last_line < PROGRESS_SECONDS and state != "ready":
            return
        self.last_line = now
        total = entry.get("files_total")
        files = f"{entry.get('files_done') or 0}/{'?' if total is None else total} files"
        size = f"{human_size(entry.get('bytes_done') or 0)}/{human_size(entry.get('bytes_total'), unknown='?')}"
        print(f"lakecache: waiting for {self.what}: {state}" + (f" ({phase})" if phase else "") +
              f", {files}, {size}, {now - self.started:.0f} s", file=sys.stderr, flush=True)

    def __exit__(self, *exc_info: Any) -> None:
        if self.bar is not None:
            self.bar.stop()
