"""The evictor's defaults; volumes and TTL overrides refine them per volume, dataset or commit."""

from __future__ import annotations

from dataclasses import dataclass

# The defaults and the TTL limit are the installation's, shared with every service that validates
# or shows a volume's policy. The limit also keeps date arithmetic in range (``timedelta`` stops at
# about 2.7 million years, ``datetime`` at year 9999): a longer TTL is refused where it is set.
from lakecache.core.vocabulary.eviction import (
    DEFAULT_HIGH_WATERMARK,
    DEFAULT_LOW_WATERMARK,
    DEFAULT_TTL_SECONDS,
    MAX_TTL_SECONDS,
)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """``redecide_after_seconds`` bounds how long a decision without an answer (a lost command)
    or a refused one holds a copy back. ``forget_after_seconds`` is how long evicted copies and
    answered requests are remembered, to explain them and to recognise redelivered facts; it
    should exceed how far back the event topics may be replayed after a crash.

    With ``dry_run`` decisions are made and explained as usual but flagged, and the copy stays
    ready. So that a dry run does not repeat itself on every tick, a dry-run decision is made
    once per copy while what it rested on (incarnation, generation, last use, pin change) stays
    the same, and counts as done when reclaiming capacity; manual requests are answered each time.
    """

    default_ttl_seconds: int = DEFAULT_TTL_SECONDS
    high_watermark: float = DEFAULT_HIGH_WATERMARK
    low_watermark: float = DEFAULT_LOW_WATERMARK
    dry_run: bool = False
    redecide_after_seconds: int = 300
    forget_after_seconds: int = 7 * 86400

    def __post_init__(self) -> None:
        if not 0 < self.default_ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"default_ttl_seconds must be 1 to {MAX_TTL_SECONDS} seconds, got "
                             f"{self.default_ttl_seconds}")
        if not 0 <= self.low_watermark <= self.high_watermark <= 1:
            raise ValueError(f"watermarks must satisfy 0 <= low <= high <= 1, got low={self.low_watermark} "
                             f"high={self.high_watermark}")
        if self.redecide_after_seconds <= 0:
            raise ValueError(f"redecide_after_seconds must be positive, got {self.redecide_after_seconds}")
        if self.forget_after_seconds < self.redecide_after_seconds:
            raise ValueError(f"forget_after_seconds ({self.forget_after_seconds}) must be at least "
                             f"redecide_after_seconds ({self.redecide_after_seconds})")
