"""Drawing progress on stderr (so ``--json`` output on stdout stays parseable): a bar per phase
of a sync or import (SDK progress callbacks), and a bar per volume of a copy being filled.

A copy's progress is the fill's own model, ``FillProgress`` (``lakecache.core.vocabulary.copies``):
the cacher records it, announces it, the gateway keeps it per volume in the copy's status, and
the fields are drawn here under the same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from lakecache.cli.units import human_size
from lakecache.core.vocabulary.copies import FillProgress
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


# --- a copy's fill ------------------------------------------------------------------------------


def fill_progress(volume: Mapping[str, Any]) -> FillProgress | None:
    """The fill progress one volume of a copy's status carries, or None when it carries none.

    Fields the status leaves out (or null) stay out of ``model_fields_set``, so an unknown total
    is not drawn as zero; a field this client cannot read (a newer gateway's phase) is dropped,
    not fatal."""
    known = {name: volume[name] for name in FillProgress.model_fields if volume.get(name) is not None}
    while known:
        try:
            return FillProgress.model_validate(known)
        except ValidationError as exc:
            unreadable = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            if not unreadable & known.keys():
                return None
            known = {name: value for name, value in known.items() if name not in unreadable}
    return None


def files_text(progress: FillProgress) -> str:
    """``104/200 files``, or nothing while the number of files is unknown."""
    return f"{progress.files_done}/{progress.files_total} files" if "files_total" in progress.model_fields_set else ""


def duration_text(seconds: float | None) -> str:
    """``eta 0:01:05``, or nothing while unknown."""
    return "" if seconds is None else f"eta {timedelta(seconds=round(seconds))}"


def rate_text(rate: float | None) -> str:
    """``12.3 MiB/s``, or nothing before anything moved."""
    return "" if not rate else f"{human_size(int(rate))}/s"


def progress_text(volume: Mapping[str, Any]) -> str:
    """One volume's progress on a line (``cache status``): files, bytes and, while it fills,
    rate and ETA; ``-`` for a copy neither filling nor ready (it keeps its last progress)."""
    progress = fill_progress(volume)
    if volume.get("state") not in ("filling", "ready") or progress is None:
        return "-"
    parts = [files_text(progress)]
    if "bytes_total" in progress.model_fields_set:
        parts.append(f"{human_size(progress.bytes_done)}/{human_size(progress.bytes_total)}")
    if volume.get("state") == "filling":
        parts += [rate_text(progress.rate_bytes_per_s), duration_text(progress.eta_seconds)]
    return ", ".join(part for part in parts if part) or "-"


class CopyBars:
    """One bar per volume of the copy (files, bytes, the cacher's rate and ETA), on stderr."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[state]:<9}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            DownloadColumn(binary_units=True),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[eta]}"),
            console=console,
            disable=not enabled,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> CopyBars:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._progress.__exit__(*exc_info)

    def update(self, status: Mapping[str, Any]) -> None:
        """Draw a copy's status (``GatewayClient.copy_status``, or a message of its live stream)."""
        volumes = status.get("volumes") or []
        waiting = f"{status.get('site')} (no volume yet)"
        if not volumes:  # requested: the cacher has not started on a volume
            self._show(waiting, str(status.get("state") or ""), None)
            return
        if waiting in self._tasks:
            self._progress.remove_task(self._tasks.pop(waiting))
        for volume in volumes:
            self._show(f"{status.get('site')}/{volume['volume']}", str(volume.get("state") or ""),
                       fill_progress(volume))

    def _show(self, name: str, state: str, progress: FillProgress | None) -> None:
        progress = progress or FillProgress()
        fields = {"state": state, "files": files_text(progress), "rate": rate_text(progress.rate_bytes_per_s),
                  "eta": duration_text(progress.eta_seconds)}
        total = progress.bytes_total if "bytes_total" in progress.model_fields_set else None
        if name not in self._tasks:
            self._tasks[name] = self._progress.add_task(name, total=total, completed=progress.bytes_done, **fields)
        else:
            self._progress.update(self._tasks[name], total=total, completed=progress.bytes_done, **fields)
