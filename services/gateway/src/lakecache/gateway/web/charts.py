"""Line charts as SVG markup, rendered on the server from the tracker's downsampled series (ADR 0015).

Pure functions from data to markup: the same series give the same bytes. Colours and strokes
come from classes (``series-0`` … ``series-7`` in app.css), never from inline styles, which the
Content-Security-Policy forbids. A point's value that is not a finite number (the tracker's
``"NaN"``, ``"Infinity"``) is left out of the line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Series colours cycle through this many classes.
PALETTE = 8
WIDTH, HEIGHT = 520, 220  # drawn at about this size, two to a row on a laptop, so text stays legible
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 12, 36


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float | str]]  # (step, value)


def finite(value: float | str | None) -> float | None:
    """A value the chart can place, or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round numbers (1, 2 or 5 × a power of ten apart) covering ``low``…``high``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high < low:
        low, high = high, low
    if high == low:
        spread = abs(low) or 1.0
        low, high = low - spread / 2, high + spread / 2
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def number(value: float) -> str:
    """A tick label or tooltip value: short, and the same on every host."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.3g}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def _coordinate(value: float) -> str:
    return f"{value:.1f}"


def line_chart(series: Iterable[Series], *, title: str, x_label: str = "step", width: int = WIDTH,
               height: int = HEIGHT) -> Markup:
    """An SVG chart with one polyline per series, axes with a few ticks, a legend and tooltips."""
    lines = [(s.name, [(float(x), y) for x, raw in s.points if (y := finite(raw)) is not None]) for s in series]
    placed = [point for _, points in lines for point in points]
    label = escape(title)
    if not placed:
        return Markup('<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}: no values">'
                      '<title>{t}: no values</title><text class="empty" x="{x}" y="{y}">no values</text></svg>'
                      ).format(w=width, h=height, t=label, x=width // 2, y=height // 2)
    x_ticks = nice_ticks(min(p[0] for p in placed), max(p[0] for p in placed))
    y_ticks = nice_ticks(min(p[1] for p in placed), max(p[1] for p in placed))
    x_low, x_high, y_low, y_high = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM

    def sx(x: float) -> float:
        return _LEFT + (x - x_low) / ((x_high - x_low) or 1) * plot_w

    def sy(y: float) -> float:
        return _TOP + plot_h - (y - y_low) / ((y_high - y_low) or 1) * plot_h

    parts = [Markup('<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}">'
                    '<title>{t}</title>').format(w=width, h=height, t=label)]
    parts.append(Markup('<g class="axis">'))
    for y in y_ticks:
        at = _coordinate(sy(y))
        parts.append(Markup('<line class="grid" x1="{a}" x2="{b}" y1="{y}" y2="{y}"></line>'
                            '<text class="tick" x="{tx}" y="{y}" text-anchor="end" dominant-baseline="middle">{v}'
                            '</text>').format(a=_LEFT, b=width - _RIGHT, y=at, tx=_LEFT - 6, v=number(y)))
    for x in x_ticks:
        at = _coordinate(sx(x))
        parts.append(Markup('<line class="tickmark" x1="{x}" x2="{x}" y1="{a}" y2="{b}"></line>'
                            '<text class="tick" x="{x}" y="{ty}" text-anchor="middle">{v}</text>').format(
            x=at, a=_TOP + plot_h, b=_TOP + plot_h + 4, ty=_TOP + plot_h + 16, v=number(x)))
    parts.append(Markup('<line class="frame" x1="{l}" x2="{l}" y1="{t}" y2="{b}"></line>'
                        '<line class="frame" x1="{l}" x2="{r}" y1="{b}" y2="{b}"></line>'
                        '<text class="label" x="{cx}" y="{ly}" text-anchor="middle">{xl}</text></g>').format(
        l=_LEFT, r=width - _RIGHT, t=_TOP, b=_TOP + plot_h, cx=_LEFT + plot_w // 2, ly=height - 4,
        xl=escape(x_label)))
    for index, (name, points) in enumerate(lines):
        if not points:
            continue
        colour = f"series-{index % PALETTE}"
        coordinates = " ".join(f"{_coordinate(sx(x))},{_coordinate(sy(y))}" for x, y in points)
        last_x, last_y = points[-1]
        summary = (f"{name}: {len(points)} points, min {number(min(p[1] for p in points))}, "
                   f"max {number(max(p[1] for p in points))}, last {number(last_y)} at step {number(last_x)}")
        parts.append(Markup('<g class="series {c}" data-series="{n}"><polyline points="{p}"><title>{s}</title>'
                            '</polyline><circle cx="{x}" cy="{y}" r="3"><title>{s}</title></circle></g>').format(
            c=colour, n=name, p=coordinates, s=summary, x=_coordinate(sx(last_x)), y=_coordinate(sy(last_y))))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def legend(names: Sequence[str]) -> Markup:
    """The series' names with their colours, as an HTML list to put under a chart."""
    items = (Markup('<li><svg class="swatch" viewBox="0 0 12 12" aria-hidden="true"><rect class="{c}" '
                    'width="12" height="12"></rect></svg>{n}</li>').format(c=f"series-{i % PALETTE}", n=name)
             for i, name in enumerate(names))
    return Markup('<ul class="legend">') + Markup("").join(items) + Markup("</ul>")


def value_text(value: float | str | None) -> str:
    """A metric's value in a table: six significant digits, or the tracker's word for a non-number."""
    if value is None:
        return "–"
    placed = finite(value)
    return str(value) if placed is None else f"{placed:.6g}"
