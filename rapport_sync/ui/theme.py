"""Colours, pens and fonts of the monitor: one colour per person everywhere.

The two people's colours come from the Okabe-Ito palette (distinguishable with the common
colour-vision deficiencies and in greyscale print): person A is blue, person B is
vermillion. Every element that belongs to a person (trace, dial hand, name, rate) uses
that person's colour; synchrony, which belongs to the pair, is dark purple, and chance is grey.
"""

from __future__ import annotations

import pyqtgraph as pg
from pyqtgraph.Qt import QtGui

from ..palette import PERSON_COLOURS, SYNC_COLOUR

__all__ = [
    "ALIGN_COLOUR",
    "BACKGROUND",
    "CHANCE_EDGE",
    "CHANCE_FILL",
    "FOREGROUND",
    "MARKER_COLOUR",
    "PERSON_COLOURS",
    "SYNC_COLOUR",
    "configure_pyqtgraph",
    "person_pen",
    "qcolour",
    "style_plot",
]

ALIGN_COLOUR = "#009E73"
CHANCE_FILL = (150, 150, 150, 90)
CHANCE_EDGE = "#7a7a7a"
MARKER_COLOUR = "#333333"
BACKGROUND = "#ffffff"
FOREGROUND = "#222222"
GOOD, WARN, BAD, IDLE = "#1a7f37", "#b06000", "#c62828", "#6b6b6b"


def configure_pyqtgraph() -> None:
    """Global pyqtgraph settings: light background, no antialiasing (fast software raster)."""
    pg.setConfigOptions(background=BACKGROUND, foreground=FOREGROUND, antialias=False)


def qcolour(colour: str | tuple[int, ...]) -> QtGui.QColor:
    """A ``QColor`` from ``"#rrggbb"`` or an RGB(A) tuple."""
    return pg.mkColor(colour)


def person_pen(person: str, width: float = 2.0) -> QtGui.QPen:
    """The pen of one person's curves (opaque, cosmetic)."""
    pen = pg.mkPen(PERSON_COLOURS[person], width=width)
    pen.setCosmetic(True)
    return pen


def style_plot(plot: pg.PlotItem, title: str, left: str, bottom: str | None = None) -> None:
    """A plot's title and axis labels in the monitor's style; mouse zoom off (it scrolls)."""
    plot.setTitle(title, color=FOREGROUND, size="11pt")
    plot.setLabel("left", left)
    if bottom:
        plot.setLabel("bottom", bottom)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
