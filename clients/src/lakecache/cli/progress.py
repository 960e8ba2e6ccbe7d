"""A rich progress display for SDK progress callbacks: one bar per phase, on stderr so
``--json`` output on stdout stays parseable."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from lakecache.sdk.progress import Progress as SdkProgress

_LABELS = {"scan": "scanning", "list": "listing", "hash": "hashing", "upload": "uploading", "commit": "committing"}


class PhaseBars:
    """Use as ``with PhaseBars(console) as bars: sdk_call(on_progress=bars.update)``."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> PhaseBars:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._progress.__exit__(*exc_info)

    def update(self, state: SdkProgress) -> None:
        files = f"{state.files_done}/{state.files_total} files"
        if state.phase in ("scan", "list"):
            files = f"{state.files_done} files"
        task = self._tasks.get(state.phase)
        total = state.bytes_total or None
        if task is None:
            self._tasks[state.phase] = self._progress.add_task(
                _LABELS.get(state.phase, state.phase), total=total, completed=state.bytes_done, files=files)
            return
        self._progress.update(task, total=total, completed=state.bytes_done, files=files)
