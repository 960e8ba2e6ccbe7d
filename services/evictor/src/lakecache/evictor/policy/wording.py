"""Numbers as people read them in explanations (bytes, durations, times, ratios)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_SPANS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def size(n: int | float) -> str:
    value, unit = float(n), 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{int(value)} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def duration(span: timedelta | float) -> str:
    """Two most significant units: '1d 2h', '5m 3s', '0s'."""
    seconds = int(span.total_seconds() if isinstance(span, timedelta) else span)
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    parts = []
    for unit, length in _SPANS:
        if seconds >= length or (unit == "s" and not parts):
            parts.append(f"{seconds // length}{unit}")
            seconds %= length
        if len(parts) == 2:
            break
    return sign + " ".join(parts)


def when(at: datetime | None) -> str | None:
    """ISO 8601 in UTC: one spelling, whichever host's offset the fact carried."""
    return None if at is None else at.astimezone(UTC).isoformat()


def percent(ratio: float) -> str:
    return f"{ratio * 100:.1f}%"
