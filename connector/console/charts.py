"""Charts as inline SVG, drawn on the server: no script, nothing fetched (the CSP stays as it is).

Only numbers computed here reach the SVG's geometry; labels go through the templates' escaping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Bar", "Chart", "Line", "bar_chart", "line_chart"]

WIDTH, HEIGHT = 560, 160
_LEFT, _BOTTOM, _TOP = 44, 18, 8
_CLASSES = 8  # series colours in console.css: .s0 ... .s7


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    points: str  # "x,y x,y ..."
    css: str  # s0 .. s7, or "limit" (dashed)
    last: float


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    x: float
    y: float
    width: float
    height: float
    value: int


@dataclass
class Chart:
    title: str
    unit: str
    top: float  # the value at the top of the plot
    start: str  # the x axis's first and last labels
    end: str
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = _LEFT
    bottom: float = HEIGHT - _BOTTOM  # y of the x axis

    @property
    def empty(self) -> bool:
        return not self.lines and not self.bars


def _clock(seconds: float) -> str:
    return time.strftime("%H:%M", time.gmtime(seconds))


def _top(value: float) -> float:
    """A round value at or above ``value`` for the y axis."""
    if value <= 0:
        return 1.0
    step = float(10 ** len(str(int(value))))
    for nice in (0.1, 0.2, 0.25, 0.5, 1.0):
        if value <= step * nice:
            return step * nice
    return step


def line_chart(title: str, unit: str, series: dict[str, list[tuple[float, float]]],
               limit: list[tuple[float, float]] | None = None) -> Chart:  # fmt: skip
    """One line per label (``[(unix time, value)]``), and ``limit`` dashed."""
    everything = [p for points in series.values() for p in points] + list(limit or [])
    if not everything:
        return Chart(title, unit, 1.0, "", "")
    first, last = min(t for t, _ in everything), max(t for t, _ in everything)
    top = _top(max(v for _, v in everything))
    span = max(last - first, 1.0)
    plot_w, plot_h = WIDTH - _LEFT - 6, HEIGHT - _BOTTOM - _TOP

    def xy(t: float, v: float) -> str:
        return f"{_LEFT + (t - first) / span * plot_w:.1f},{_TOP + plot_h - v / top * plot_h:.1f}"

    chart = Chart(title, unit, top, _clock(first), _clock(last))
    for n, (label, points) in enumerate(sorted(series.items())):
        if points:
            chart.lines.append(Line(label, " ".join(xy(t, v) for t, v in points), f"s{n % _CLASSES}", points[-1][1]))
    if limit:
        chart.lines.append(Line("limit in force", " ".join(xy(t, v) for t, v in limit), "limit", limit[-1][1]))
    return chart


def bar_chart(title: str, unit: str, counts: dict[str, int]) -> Chart:
    """One bar per key, in key order (hours: ``2026-12-05 14:00``)."""
    if not counts:
        return Chart(title, unit, 1.0, "", "")
    keys = sorted(counts)
    top = _top(max(counts.values()))
    plot_w, plot_h = WIDTH - _LEFT - 6, HEIGHT - _BOTTOM - _TOP
    slot = plot_w / len(keys)
    chart = Chart(title, unit, top, keys[0], keys[-1])
    for n, key in enumerate(keys):
        height = counts[key] / top * plot_h
        chart.bars.append(
            Bar(key, _LEFT + n * slot + 1, _TOP + plot_h - height, max(slot - 2, 1.0), height, counts[key])
        )
    return chart
