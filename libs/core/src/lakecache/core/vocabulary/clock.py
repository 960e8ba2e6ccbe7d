"""The time services record and show: UTC, to the millisecond (what every document store keeps,
so a value written and read back compares equal), shown as RFC 3339 with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time in UTC, truncated to milliseconds."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime | None) -> str | None:
    """``moment`` as ``2030-01-01T00:00:00.123000Z`` (None stays None)."""
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
