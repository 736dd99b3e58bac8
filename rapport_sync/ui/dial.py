"""The phase dial: where each person is in their breath, as a hand on a clock face.

Phase 0 (end of inhalation, the top of the breath) is at 12 o'clock and the hands turn
clockwise as time goes on: down the right side while breathing out, to the end of
exhalation at 6 o'clock, and up the left side while breathing in. Person A's hand ends on
the outer ring, B's on the inner ring, so neither hides the other. Two people breathing
together have their hands pointing the same way, moving together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg

from . import theme

__all__ = ["PhaseDial", "dial_xy"]

RADIUS = {"a": 1.0, "b": 0.74}


def dial_xy(phase_rad: float, radius: float = 1.0) -> tuple[float, float]:
    """Screen position of a phase: 0 at the top, increasing clockwise."""
    return radius * math.sin(phase_rad), radius * math.cos(phase_rad)


class PhaseDial(pg.PlotWidget):
    """Both people's current breathing phase as hands on one dial."""

    def __init__(self) -> None:
        super().__init__()
        item: pg.PlotItem = self.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setAspectLocked(True)
        item.setRange(xRange=(-1.35, 1.35), yRange=(-1.3, 1.3), padding=0)
        item.setTitle("Breathing phase", color=theme.FOREGROUND, size="11pt")
        angles = np.linspace(0, 2 * np.pi, 181)
        for p, r in RADIUS.items():
            ring = pg.mkPen(theme.PERSON_COLOURS[p], width=1)
            item.plot(r * np.sin(angles), r * np.cos(angles), pen=ring)
        for text, (x, y), anchor in (("end of inhale", (0, 1.08), (0.5, 1)),
                                     ("end of exhale", (0, -1.08), (0.5, 0)),
                                     ("out\n↓", (1.05, 0), (0, 0.5)),
                                     ("↑\nin", (-1.05, 0), (1, 0.5))):
            label = pg.TextItem(text, color=theme.IDLE, anchor=anchor)
            label.setPos(x, y)
            item.addItem(label)
        self.hands = {p: item.plot(pen=theme.person_pen(p, 3)) for p in RADIUS}
        self.dots = {p: pg.ScatterPlotItem(size=20 if p == "a" else 16,
                                           brush=pg.mkBrush(theme.PERSON_COLOURS[p]),
                                           pen=pg.mkPen("w", width=1.5)) for p in RADIUS}
        for dot in self.dots.values():
            item.addItem(dot)

    def set_phases(self, phases: Mapping[str, float | None]) -> None:
        """Move the hands; a person without a current phase has no hand."""
        for p, r in RADIUS.items():
            phase = phases.get(p)
            if phase is None or not math.isfinite(phase):
                self.hands[p].setData([], [])
                self.dots[p].setData([], [])
                continue
            x, y = dial_xy(phase, r)
            self.hands[p].setData([0.0, x], [0.0, y])
            self.dots[p].setData([x], [y])
