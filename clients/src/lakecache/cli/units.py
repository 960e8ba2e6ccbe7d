"""Sizes and durations as people type and read them: ``500G``, ``1.5T``, ``90m``, ``1d``."""

from __future__ import annotations

import math
import re

from lakecache.core.vocabulary.sizes import human_size as human_size  # the CLI's name for it, shared

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
}
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*")

SIZE_HELP = "K, M, G, T, P are powers of 1024 (like KiB, MiB, …); KB, MB, GB, TB, PB powers of 1000"


def parse_size(text: str) -> int:
    """Bytes in ``500G``, ``1.5T``, ``100MiB``, ``2GB`` or ``4096``; ``ValueError`` with a hint."""
    match = _NUMBER.fullmatch(text)
    unit = match and _SIZE_UNITS.get(match.group(2).lower())
    if not match or unit is None:
        raise ValueError(f"invalid size {text!r}: use a number with an optional unit, e.g. 500G, 1.5T or "
                         f"100MiB ({SIZE_HELP})")
    value = float(match.group(1)) * unit
    if value < 1 or not math.isfinite(value):
        raise ValueError(f"invalid size {text!r}: it must be at least one byte")
    if unit == 1 and not match.group(1).isdigit():
        raise ValueError(f"invalid size {text!r}: a size in bytes must be a whole number")
    return int(value)


def parse_duration(text: str) -> int:
    """Seconds in ``90m``, ``12h``, ``1d``, ``1.5h``, ``2w`` or ``3600``; ``ValueError`` with a hint."""
    match = _NUMBER.fullmatch(text)
    unit = match and _DURATION_UNITS.get(match.group(2).lower())
    if not match or unit is None:
        raise ValueError(f"invalid duration {text!r}: use a number with a unit s, m, h, d or w, e.g. 90m, 12h or 1d")
    seconds = float(match.group(1)) * unit
    if seconds < 1:
        raise ValueError(f"invalid duration {text!r}: it must be at least one second")
    if seconds != int(seconds):
        raise ValueError(f"invalid duration {text!r}: it must come to whole seconds")
    return int(seconds)




def human_duration(seconds: int) -> str:
    """The largest whole unit: ``1d`` for 86400, ``90m`` for 5400, ``45s``."""
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
