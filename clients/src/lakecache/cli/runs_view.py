"""How runs read in a terminal: values, times and durations, which params and metrics get a
column, sparklines, the rows of a run's inputs and outputs (``lakecache runs``, ``lakecache
lineage``)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from rich.table import Table

from lakecache.cli.common import short
from lakecache.cli.units import human_size

#: Characters of a run id that tables and trees show.
SHORT_ID = 8
SPARK_WIDTH = 60
_MENTIONED = re.compile(r"\b(metrics?|params?)\.(`[^`]+`|\"[^\"]+\"|[\w\-/]+(?:\.[\w\-/]+)*)")
_SPARKS = "▁▂▃▄▅▆▇█"
_STATUS_STYLE = {"finished": "green", "failed": "red", "killed": "yellow", "running": "cyan"}


def number(value: Any) -> str:
    """A metric value: 5 significant digits (``NaN``, ``Infinity`` as the tracker spells them)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    return f"{value:.5g}"


def clipped(text: Any, width: int = 24) -> str:
    text = "-" if text is None else str(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def _moment(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def local_time(text: str | None) -> str:
    """An ISO time of the tracker in the local time zone, to the second."""
    moment = _moment(text)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def short_time(text: str | None) -> str:
    """An ISO time of the tracker in the local time zone, to the minute; the year when not this one."""
    moment = _moment(text)
    if moment is None:
        return "-"
    local = moment.astimezone()
    return local.strftime("%m-%d %H:%M" if local.year == datetime.now().year else "%Y-%m-%d")


def elapsed(seconds: float | None) -> str:
    """``0s``, ``850ms``, ``12.3s``, ``4m05s``, ``2h03m``, ``3d04h``."""
    if seconds is None or seconds < 0:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms" if seconds else "0s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    for size, unit, smaller, small_unit in ((86400, "d", 3600, "h"), (3600, "h", 60, "m"), (60, "m", 1, "s")):
        if whole >= size:
            return f"{whole // size}{unit}{whole % size // smaller:02d}{small_unit}"
    return f"{seconds:.0f}s"  # unreachable


def run_duration(run: dict[str, Any]) -> str:
    """End minus start, or the time so far for a run still going."""
    start, end = _moment(run.get("start_time")), _moment(run.get("end_time"))
    if start is None:
        return "-"
    return elapsed(((end or datetime.now(UTC)) - start).total_seconds())


def status_text(status: str | None) -> str:
    style = _STATUS_STYLE.get(status or "")
    return f"[{style}]{status}[/]" if style else escape(status or "-")


def metric_values(run: dict[str, Any]) -> dict[str, Any]:
    return {key: m.get("value") for key, m in (run.get("metrics") or {}).items()}


def mentioned_keys(*texts: str | None) -> set[tuple[str, str]]:
    """The ``(params|metrics, key)`` a filter or an ordering names."""
    found = set()
    for text in texts:
        for kind, key in _MENTIONED.findall(text or ""):
            found.add(("metrics" if kind.startswith("metric") else "params", key.strip("`\"")))
    return found


def pick_columns(values: list[dict[str, Any]], kind: str, first: set[tuple[str, str]],
                 most: int) -> tuple[list[str], int]:
    """The keys worth a column: those the filter or ordering names, then those whose value
    differs across the runs, then the rest, by name; and how many were left out."""
    keys = sorted({key for row in values for key in row})

    def differs(key: str) -> bool:
        return len({repr(row.get(key)) for row in values}) > 1

    keys.sort(key=lambda key: ((kind, key) not in first, not differs(key)))
    return keys[:most], max(0, len(keys) - most)


def differing(table: dict[str, dict[str, Any]]) -> list[str]:
    return [key for key, by_run in table.items() if len({repr(v) for v in by_run.values()}) > 1]


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """``values`` in at most ``width`` block characters (the mean of each bucket); a bucket of
    only NaN or infinite values is a space."""
    if not values:
        return ""
    buckets = min(width, len(values))
    means: list[float | None] = []
    for bucket in range(buckets):
        part = [v for v in values[bucket * len(values) // buckets:(bucket + 1) * len(values) // buckets]
                if math.isfinite(v)]
        means.append(sum(part) / len(part) if part else None)
    finite = [m for m in means if m is not None]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    span = high - low
    return "".join(" " if m is None else _SPARKS[0 if span == 0 else round((m - low) / span * (len(_SPARKS) - 1))]
                   for m in means)


def as_float(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return {"Infinity": math.inf, "-Infinity": -math.inf}.get(str(value), math.nan)


def key_value_table(rows: Iterable[tuple[str, ...]], *headers: str) -> Table:
    table = Table(*headers, box=None, show_header=bool(headers))
    for row in rows:
        table.add_row(*(escape(str(cell)) for cell in row))
    return table


def run_label(run: dict[str, Any]) -> str:
    name = run.get("name")
    return f"{run['id'][:SHORT_ID]}" + (f" ({name})" if name else "")


def input_row(project: str, item: dict[str, Any]) -> tuple[str, ...]:
    cache = {True: "hit", False: "miss"}.get(item.get("cache_hit"), "-")
    waited = item.get("waited_seconds")
    where = "/".join(p for p in (item.get("site"), item.get("volume")) if p) or "-"
    return (f"{project}/{item.get('dataset')}@{short(item.get('commit_id'))}", where, cache,
            human_size(item.get("bytes")), "-" if waited is None else elapsed(waited), item.get("context") or "")


def output_row(item: dict[str, Any]) -> tuple[str, ...]:
    what = item.get("uri") or "-"
    if item.get("commit_id"):  # the tracker keeps the dataset's id, not its name: the commit says which
        what = f"commit {short(item['commit_id'])} {what}"
    return (item.get("kind") or "-", item.get("name") or "", what, human_size(item.get("size")),
            (item.get("sha256") or "-")[:12])


def logged_at(millis: Any) -> str:
    """Epoch milliseconds in the local time zone, to the second."""
    if not isinstance(millis, int | float):
        return "-"
    return datetime.fromtimestamp(millis / 1000, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
