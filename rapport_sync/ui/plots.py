"""The monitor's plots: persistent pyqtgraph items whose data are replaced each frame.

Every plot is built once; a frame only calls ``setData`` on existing curves and moves the
x range, the cheap path in pyqtgraph. Curves are opaque cosmetic pens without
antialiasing, and NaN (gaps in a person's data) breaks a line instead of bridging it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtWidgets

from . import theme
from .readout import above_chance, judged, lead, locking

__all__ = [
    "AgoAxis",
    "HeartPlot",
    "LagPlot",
    "LagProfilePlot",
    "MarkerLines",
    "RawPlot",
    "SyncMeterPlot",
    "TracePlot",
    "ago_text",
    "scale_to_unit",
    "visible_rows",
]

_EMPTY = np.empty(0)


def visible_rows(data: np.ndarray, t0: float) -> np.ndarray:
    """Rows of ``data`` (column 0 = time, ascending) from ``t0`` on."""
    if len(data) == 0:
        return data
    return data[np.searchsorted(data[:, 0], t0, side="left"):]


def scale_to_unit(y: np.ndarray, stride: int = 1) -> np.ndarray:
    """Map the 2nd..98th percentile range of ``y`` onto -1..1 (robust to spikes and sighs).

    ``stride`` estimates the range from every n-th sample (cheaper for long traces).
    """
    sample = y[::stride]
    sample = sample[np.isfinite(sample)]
    if sample.size < 2:
        return y
    lo, hi = np.percentile(sample, (2.0, 98.0))
    half = 0.5 * float(hi - lo)
    mid = 0.5 * float(hi + lo)
    return (y - mid) / half if half > 0 else y - mid


def _curve(plot: pg.PlotItem, person: str, name: str | None = None,
           width: float = 2.0) -> pg.PlotDataItem:
    curve = plot.plot(pen=theme.person_pen(person, width), name=name, connect="finite")
    curve.setClipToView(True)
    return curve


def ago_text(seconds: float) -> str:
    """Tick text of the time axis: ``now``, ``-10 s``, ``-1:30``."""
    if abs(seconds) < 1e-6:
        return "now"
    s = round(-seconds)
    return f"-{s} s" if s < 60 else f"-{s // 60}:{s % 60:02d}"


class AgoAxis(pg.AxisItem):
    """Time before now: the axis stays still while the data scroll under it."""

    def tickStrings(self, values: list[float], scale: float,
                    spacing: float) -> list[str]:
        return [ago_text(v) for v in values]


class _ScrollingPlot(pg.PlotWidget):
    """A plot of the newest ``span_s`` seconds, x in seconds before now (right edge = now).

    The x range stays fixed and the data move (``x = t - now``), so the axes never change
    and are drawn from a cache; only the curves are repainted each frame.
    """

    def __init__(self, title: str, left: str, bottom: str | None = None) -> None:
        super().__init__(axisItems={"bottom": AgoAxis("bottom")})
        self.item: pg.PlotItem = self.getPlotItem()
        theme.style_plot(self.item, title, left, bottom)
        for name in ("left", "bottom"):
            self.item.getAxis(name).setCacheMode(
                QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.markers = MarkerLines(self.item, labels=False)
        self.moving: list[pg.GraphicsObject] = []  # items in session time, shifted by -now
        self._shift = 0.0
        self.span_s = 60.0

    @property
    def span_s(self) -> float:
        return self._span_s

    @span_s.setter
    def span_s(self, value: float) -> None:
        self._span_s = float(value)
        self.item.setXRange(-self._span_s, 0.0, padding=0)
        major = next((m for m in (5, 10, 20, 30, 60, 120, 300) if value / m <= 6.5), 600)
        self.item.getAxis("bottom").setTickSpacing(major, major / 5)

    def show_rows(self, curve: pg.PlotDataItem, rows: np.ndarray, y: np.ndarray | None,
                  now_s: float, points_per_px: float = 0.0) -> None:
        """Put ``rows`` (column 0 = session time) on ``curve`` relative to now.

        With ``points_per_px``, keep every n-th row (counted back from the newest) so that
        at most that many points fall on a pixel: for smooth curves drawn with wide pens,
        whose cost grows with the number of points.
        """
        if len(rows) == 0:
            curve.setData(_EMPTY, _EMPTY)
            return
        y = rows[:, 1] if y is None else y
        if points_per_px > 0:
            stride = int(np.ceil(len(rows) / (points_per_px * max(self.width(), 100))))
            if stride > 1:
                keep = slice(len(rows) - 1 - ((len(rows) - 1) // stride) * stride, None, stride)
                rows, y = rows[keep], y[keep]
        curve.setData(rows[:, 0] - now_s, y)

    def scroll_to(self, now_s: float) -> None:
        """Move what is drawn in session time so that ``now_s`` is at the right edge.

        Items drawn in session time move in whole pixels only (a slow plot, such as five
        minutes over a thousand pixels, then repaints a few times a second, not every frame).
        """
        s_per_px = self._span_s / max(self.width(), 100)
        shift = -round(now_s / s_per_px) * s_per_px
        if shift != self._shift:
            self._shift = shift
            self.shift_items(shift)
        self.markers.scroll_to(now_s, self._span_s)

    def shift_items(self, shift: float) -> None:
        """Move the items drawn in session time by ``shift`` seconds."""
        for item in self.moving:
            item.setPos(shift, 0.0)


class TracePlot(_ScrollingPlot):
    """Both people's breathing, each scaled to its own depth, inhale up, with markers."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        super().__init__("Breathing", "inhale ↑   exhale ↓", None)
        self.curves = {p: _curve(self.item, p, labels[p], width=2.5) for p in ("a", "b")}
        self.set_labels(labels)
        self.item.setYRange(-1.35, 1.35, padding=0)
        self.item.getAxis("left").setTicks([[(-1, ""), (0, ""), (1, "")]])
        self.markers = MarkerLines(self.item)

    def set_labels(self, labels: Mapping[str, str]) -> None:
        """Title the plot with the names in their colours (a legend would cover data)."""
        names = "&nbsp;&nbsp;&nbsp;".join(
            f'<span style="color:{theme.PERSON_COLOURS[p]}">━━ {html.escape(labels[p])}</span>'
            for p in self.curves)
        self.item.setTitle(f"Breathing&nbsp;&nbsp;&nbsp;{names}", color=theme.FOREGROUND,
                           size="11pt")

    def update_traces(self, traces: Mapping[str, np.ndarray], now_s: float) -> None:
        t0 = now_s - self.span_s
        for p, curve in self.curves.items():
            rows = visible_rows(traces.get(p, np.empty((0, 3))), t0)
            self.show_rows(curve, rows, scale_to_unit(rows[:, 1]), now_s, points_per_px=0.7)
        self.scroll_to(now_s)


class RawPlot(_ScrollingPlot):
    """Each person's raw sensor value at the device's rate (expert view): A above, B below."""

    OFFSET: ClassVar[dict[str, float]] = {"a": 2.0, "b": -2.0}

    def __init__(self) -> None:
        super().__init__("Raw sensor (device rate, scaled)", "A  ·  B")
        self.curves = {p: _curve(self.item, p, width=1.0) for p in ("a", "b")}
        for curve in self.curves.values():  # min/max per pixel: 2 points per pixel at most
            curve.opts["autoDownsampleFactor"] = 1.0
            curve.setDownsampling(auto=True, method="peak")
        self.item.setYRange(-4.0, 4.0, padding=0)
        self.item.getAxis("left").setTicks([[(2.0, "A"), (-2.0, "B")]])

    def update_raw(self, raw: Mapping[str, np.ndarray], now_s: float) -> None:
        t0 = now_s - self.span_s
        for p, curve in self.curves.items():
            rows = visible_rows(raw.get(p, np.empty((0, 2))), t0)
            y = scale_to_unit(rows[:, 1], stride=max(1, len(rows) // 2000)) + self.OFFSET[p]
            self.show_rows(curve, rows, y, now_s)
        self.scroll_to(now_s)


class HeartPlot(_ScrollingPlot):
    """Both people's heart rate (expert view)."""

    def __init__(self) -> None:
        super().__init__("Heart rate", "beats/min")
        self.curves = {p: _curve(self.item, p) for p in ("a", "b")}
        self.item.enableAutoRange(axis="y")

    def update_hr(self, hr: Mapping[str, np.ndarray], now_s: float) -> None:
        t0 = now_s - self.span_s
        for p, curve in self.curves.items():
            self.show_rows(curve, visible_rows(hr.get(p, np.empty((0, 2))), t0), None, now_s)
        self.scroll_to(now_s)


class SyncMeterPlot(_ScrollingPlot):
    """Locking (PLV) over time over the shaded chance band; alignment in the expert view."""

    def __init__(self, window_s: float = 60.0) -> None:
        super().__init__("", "locking")
        self.chance = self.item.plot(pen=pg.mkPen(theme.CHANCE_EDGE, width=1,
                                                   style=QtCore.Qt.PenStyle.DashLine),
                                     fillLevel=0.0, brush=pg.mkBrush(theme.CHANCE_FILL))
        self.plv = self.item.plot(pen=pg.mkPen(theme.SYNC_COLOUR, width=3), connect="finite")
        self.alignment = self.item.plot(pen=pg.mkPen(theme.ALIGN_COLOUR, width=1.5),
                                        connect="finite")
        self.waiting = pg.TextItem(f"the first value appears once {window_s:.0f} s of both "
                                   "people's breathing is recorded",
                                   color=theme.IDLE, anchor=(0, 0.5))
        self.item.addItem(self.waiting)
        self.moving = [self.chance, self.plv, self.alignment]
        self.set_expert(False)

    def set_expert(self, expert: bool) -> None:
        """Expert: also the alignment curve (-1 opposite … +1 in step), y from -1."""
        title = (f'Synchrony over time&nbsp;&nbsp;&nbsp;<span style="color:{theme.SYNC_COLOUR}">'
                 f'━━ locking</span>&nbsp;&nbsp;&nbsp;<span style="color:{theme.CHANCE_EDGE}">'
                 "▇ chance (95% of unrelated pairs stay below)</span>")
        if expert:
            title += (f'&nbsp;&nbsp;&nbsp;<span style="color:{theme.ALIGN_COLOUR}">━━ alignment'
                      "</span>")
        self.item.setTitle(title, color=theme.FOREGROUND, size="11pt")
        self.alignment.setVisible(expert)
        self.item.setYRange(-1.0 if expert else 0.0, 1.0, padding=0.02)
        self.item.setLabel("left", "locking · alignment" if expert else "locking")

    def update_history(self, history: Sequence[Any]) -> None:
        """New data: ``SyncState``-like objects (time_s, plv, chance_plv95, alignment)."""
        if not history:
            for curve in (self.chance, self.plv, self.alignment):
                curve.setData(_EMPTY, _EMPTY)
            self.waiting.setPos(-0.98 * self.span_s, 0.5)
            self.waiting.show()
            return
        self.waiting.hide()
        t = np.fromiter((s.time_s for s in history), float, len(history))
        plv, chance = np.array([locking(s) for s in history], float).T
        align = np.fromiter((s.alignment for s in history), float, len(history))
        known = np.isfinite(chance)  # the band is drawn where the chance level is known
        self.chance.setData(t[known], chance[known])
        # locking is drawn only where the verdict judges it: a window with too little clean
        # signal (a strap off, warming up) or no chance level breaks the line
        unjudged = ~np.array([judged(s) for s in history], bool)
        plv[unjudged] = align[unjudged] = np.nan
        self.plv.setData(t, plv)
        self.alignment.setData(t, align)


class LagPlot(_ScrollingPlot):
    """The best lag of each window (expert view): filled where locking is above chance, a
    ring where it is but the lag is about half a breath, so who leads cannot be told (the
    verdict's leader line reads the lead with the same :func:`~rapport_sync.dsp.sync.lead`)."""

    def __init__(self) -> None:
        super().__init__("Who leads: best lag (+ = A leads; ● locked above chance, ○ half a "
                         "breath apart: can't tell)", "lag (s)")
        self.locked = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(theme.SYNC_COLOUR))
        self.half_breath = pg.ScatterPlotItem(size=7, pen=pg.mkPen(theme.SYNC_COLOUR, width=1.5),
                                              brush=pg.mkBrush(theme.BACKGROUND))
        self.unlocked = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(theme.CHANCE_FILL))
        for points in (self.unlocked, self.half_breath, self.locked):
            self.item.addItem(points)
        self._points = (_EMPTY, _EMPTY, np.zeros(0, bool), np.zeros(0, bool))
        self.item.addLine(y=0.0, pen=pg.mkPen(theme.CHANCE_EDGE, width=1))
        self.item.setYRange(-3.0, 3.0, padding=0.02)

    def update_history(self, history: Sequence[Any]) -> None:
        t = np.fromiter((s.time_s for s in history), float, len(history))
        lag = np.fromiter((s.lag_s for s in history), float, len(history))
        ok = np.array([judged(s) and above_chance(s) for s in history], bool) & np.isfinite(lag)
        half = np.array([lead(s).half_breath for s in history], bool)
        self._points = (t, lag, ok & ~half, half)
        self.shift_items(self._shift)

    def shift_items(self, shift: float) -> None:
        # scatter points are culled in view coordinates, so they are moved by new data
        t, lag, ok, half = self._points
        rest = ~ok & ~half & np.isfinite(lag)
        self.locked.setData(t[ok] + shift, lag[ok])
        self.half_breath.setData(t[half] + shift, lag[half])
        self.unlocked.setData(t[rest] + shift, lag[rest])


class LagProfilePlot(pg.PlotWidget):
    """Locking against lag in the newest window (expert view): the curve the lead is read
    from, its peak marked, with the chance level of the best-lag locking as a dashed line."""

    def __init__(self) -> None:
        super().__init__(background=theme.BACKGROUND)
        item = self.getPlotItem()
        item.setTitle("Lag profile now", color=theme.FOREGROUND, size="11pt")
        item.setLabel("left", "locking")
        item.setLabel("bottom", "lag (s)")
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setYRange(0.0, 1.0, padding=0.02)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        self.curve = item.plot(pen=pg.mkPen(theme.SYNC_COLOUR, width=2))
        self.peak = pg.ScatterPlotItem(size=9, pen=None, brush=pg.mkBrush(theme.SYNC_COLOUR))
        item.addItem(self.peak)
        self.chance = pg.InfiniteLine(angle=0, pen=pg.mkPen(theme.CHANCE_EDGE, width=1,
                                                            style=QtCore.Qt.PenStyle.DashLine))
        item.addItem(self.chance)
        item.addLine(x=0.0, pen=pg.mkPen(theme.CHANCE_EDGE, width=1))

    def update_profile(self, sync: Any | None) -> None:
        profile = np.asarray(getattr(sync, "lag_profile", ()), float)
        step = float(getattr(sync, "lag_step_s", np.nan))
        if profile.size == 0 or not np.isfinite(step):
            self.curve.setData(_EMPTY, _EMPTY)
            self.peak.setData([], [])
            self.chance.setVisible(False)
            return
        k = (profile.size - 1) // 2
        lags = np.arange(-k, k + 1) * step
        self.curve.setData(lags, profile)
        self.getPlotItem().setXRange(lags[0], lags[-1], padding=0.02)
        best = float(getattr(sync, "lag_s", np.nan))
        value = float(getattr(sync, "lag_plv", np.nan))
        if np.isfinite(best):
            self.peak.setData([best], [value])
        else:
            self.peak.setData([], [])
        chance = float(getattr(sync, "chance_lag_plv95", np.nan))
        self.chance.setVisible(bool(np.isfinite(chance)))
        if np.isfinite(chance):
            self.chance.setValue(chance)


class MarkerLines:
    """Vertical lines at markers' session times, added as markers appear."""

    def __init__(self, plot: pg.PlotItem, labels: bool = True) -> None:
        self.plot = plot
        self.labels = labels
        self.lines: list[tuple[float, pg.InfiniteLine]] = []

    def update_markers(self, markers: Sequence[tuple[float, str]]) -> None:
        """Add lines for markers not drawn yet (markers only ever get added)."""
        pen = pg.mkPen(theme.MARKER_COLOUR, width=1, style=QtCore.Qt.PenStyle.DashLine)
        for t_s, label in markers[len(self.lines):]:
            # the line label is a format string (of the line's value): braces typed in a
            # marker label are doubled so that they show as typed
            text = ((label or "marker").replace("{", "{{").replace("}", "}}")
                    if self.labels else None)
            line = pg.InfiniteLine(pos=0.0, angle=90, pen=pen, label=text,
                                   labelOpts={"position": 0.93, "color": theme.MARKER_COLOUR,
                                              "fill": (255, 255, 255, 200), "anchors":
                                              [(0, 0.5), (0, 0.5)]})
            line.hide()
            self.plot.addItem(line, ignoreBounds=True)
            self.lines.append((t_s, line))

    def scroll_to(self, now_s: float, span_s: float) -> None:
        """Place the lines relative to now; lines out of view are hidden, not moved."""
        for t_s, line in self.lines:
            x = t_s - now_s
            if -span_s <= x <= 0.0:
                line.setValue(x)
                line.show()
            elif line.isVisible():
                line.hide()
