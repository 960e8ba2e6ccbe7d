"""Byte counts as people read them, the same in the CLI, the SDK's progress lines and the dashboard."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(count: float | None, *, unknown: str = "-") -> str:
    """``12.3 MiB`` for a byte count (powers of 1024), ``unknown`` for none."""
    if count is None:
        return unknown
    value, unit = float(count), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:.0f} {_UNITS[unit]}" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"
