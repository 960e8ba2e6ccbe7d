"""The eviction policy's defaults and limits: what "unset" means on a volume, for every service
that validates or shows a volume's policy (the evictor applies them)."""

from __future__ import annotations

#: Copies nobody used for this long may be evicted (one day).
DEFAULT_TTL_SECONDS = 86_400
#: Longest idle TTL anyone may set (ten years): beyond, "never" is what a pin is for.
MAX_TTL_SECONDS = 10 * 365 * 86_400
#: Capacity eviction starts above this fraction of a volume and stops below the low one.
DEFAULT_HIGH_WATERMARK = 0.9
DEFAULT_LOW_WATERMARK = 0.75
#: Longest lease a job may take at once (it renews before expiry instead).
MAX_LEASE_SECONDS = 7 * 86_400
