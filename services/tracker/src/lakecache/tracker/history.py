"""Metric history for charts: a step range, thinned to at most ``max_points`` by
largest-triangle-three-buckets (LTTB), which keeps a series' peaks and troughs where evenly
spaced sampling would drop them.

Written here rather than taken from a library: the known packages (``lttb``, ``tsdownsample``)
need NumPy arrays, which the tracker does not otherwise use, and one pass over at most a few
hundred thousand points per request is cheap next to reading them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lakecache.tracker.repositories.metrics import Point


def downsample(points: Sequence[Point], max_points: int) -> list[Point]:
    """At most ``max_points`` of ``points`` (sorted by step), the first and last always kept.
    NaN and infinite values count as 0 for the choice (they are kept as they are)."""
    count = len(points)
    if max_points >= count or count <= 2:
        return list(points)
    if max_points < 3:
        return [points[0], points[-1]][:max_points]
    chosen = [points[0]]
    width = (count - 2) / (max_points - 2)
    previous = points[0]
    for bucket in range(max_points - 2):
        start = int(bucket * width) + 1
        end = min(int((bucket + 1) * width) + 1, count - 1)
        following_end = min(int((bucket + 2) * width) + 1, count)
        following = points[end:following_end] or [points[-1]]
        avg_x = sum(p.step for p in following) / len(following)
        avg_y = sum(_y(p) for p in following) / len(following)
        best, best_area = points[start], -1.0
        for point in points[start:max(end, start + 1)]:
            area = abs((previous.step - avg_x) * (_y(point) - _y(previous))
                       - (previous.step - point.step) * (avg_y - _y(previous)))
            if area > best_area:
                best, best_area = point, area
        chosen.append(best)
        previous = best
    chosen.append(points[-1])
    return chosen


def _y(point: Point) -> float:
    return point.value if math.isfinite(point.value) else 0.0
