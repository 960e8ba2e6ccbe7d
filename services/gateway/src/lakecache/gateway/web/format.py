"""How pages show numbers and times: sizes in binary units, times in UTC, durations in words."""

from __future__ import annotations

from datetime import UTC, datetime

from lakecache.core.vocabulary.sizes import human_size


def size(value: float | None) -> str:
    return human_size(value, unknown="–")


def _moment(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def when(value: str | datetime | None) -> str:
    moment = _moment(value)
    return "–" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = abs(float(seconds))
    for unit, span in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= span:
            whole, rest = divmod(seconds, span)
            smaller = {"d": ("h", 3600), "h": ("min", 60), "min": ("s", 1)}[unit]
            part = int(rest // smaller[1])
            return f"{int(whole)} {unit}" + (f" {part} {smaller[0]}" if part else "")
    return f"{seconds:.0f} s"


def ago(value: str | datetime | None, now: datetime | None = None) -> str:
    moment = _moment(value)
    if moment is None:
        return "never"
    delta = ((now or datetime.now(UTC)) - moment).total_seconds()
    return f"in {duration(-delta)}" if delta < 0 else f"{duration(delta)} ago"


def short(commit_id: str | None) -> str:
    return (commit_id or "–")[:12]


def percent(fraction: float | None) -> str:
    return "–" if fraction is None else f"{100 * fraction:.0f} %"
