"""The monitor's text panels: the verdict, one card per person, and the expert numbers.

Labels only change their text when the text changes, so a frame that redraws the same
numbers costs nothing here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pyqtgraph.Qt import QtCore, QtWidgets

from . import theme
from .readout import (
    SyncLevel,
    SyncReadout,
    heart_text,
    link_text,
    quality_text,
    rate_text,
    shows_values,
)

__all__ = ["LEVEL_COLOURS", "ExpertNumbers", "PersonCard", "TextLabel", "VerdictPanel"]

LEVEL_COLOURS = {"good": theme.GOOD, "warn": theme.WARN, "bad": theme.BAD, "idle": theme.IDLE}
_VERDICT_COLOURS = {SyncLevel.WAITING: theme.IDLE, SyncLevel.UNCLEAR: theme.WARN,
                    SyncLevel.CHANCE: theme.IDLE, SyncLevel.TOGETHER: theme.GOOD,
                    SyncLevel.DELAYED: theme.SYNC_COLOUR, SyncLevel.OPPOSITE: theme.WARN}


class TextLabel(QtWidgets.QLabel):
    """A label that touches Qt only when its text or colour changes."""

    def __init__(self, text: str = "", point_size: float = 10.0, bold: bool = False) -> None:
        super().__init__(text)
        font = self.font()
        font.setPointSizeF(point_size)
        font.setBold(bold)
        self.setFont(font)
        self._colour = ""

    def show_text(self, text: str, colour: str | None = None) -> None:
        if text != self.text():
            self.setText(text)
        if colour is not None and colour != self._colour:
            self._colour = colour
            self.setStyleSheet(f"color: {colour};")


class VerdictPanel(QtWidgets.QFrame):
    """The one-glance answer: are they breathing together, and who leads."""

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.headline = TextLabel("", 17, bold=True)
        self.headline.setWordWrap(True)
        self.detail = TextLabel("", 10)
        self.detail.setWordWrap(True)
        self.leader = TextLabel("", 13, bold=True)
        self.leader.setWordWrap(True)  # "No leader: not enough clean signal" is wider
        for w in (self.headline, self.detail, self.leader):
            layout.addWidget(w)

    def show_readout(self, readout: SyncReadout, leader: str) -> None:
        colour = _VERDICT_COLOURS[readout.level]
        self.headline.show_text(readout.headline, colour)
        self.detail.show_text(readout.detail, theme.FOREGROUND)
        self.leader.show_text(leader, theme.FOREGROUND)


class PersonCard(QtWidgets.QFrame):
    """One person: editable name, breathing rate, heart rate, signal and connection."""

    def __init__(self, person: str, label: str, on_rename: Callable[[str, str], None]) -> None:
        super().__init__()
        self.person = person
        colour = theme.PERSON_COLOURS[person]
        self.setObjectName(f"card_{person}")
        self.setStyleSheet(f"#card_{person} {{ border: 1px solid #d0d0d0; "
                           f"border-left: 6px solid {colour}; background: #fafafa; }}")
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(10, 4, 8, 4)
        grid.setVerticalSpacing(1)
        self.name = QtWidgets.QLineEdit(label)
        self.name.setObjectName(f"name_{person}")
        self.name.setToolTip("Participant's name (kept in the session file only; "
                             "exports use a pseudonymous id)")
        self.name.setStyleSheet(f"color: {colour}; font-weight: bold; font-size: 13pt; "
                                "border: none; background: transparent;")
        self.name.editingFinished.connect(lambda: on_rename(person, self.name.text()))
        self.rate = TextLabel("", 15, bold=True)
        self.heart = TextLabel("", 11)
        self.quality = TextLabel("", 10)
        self.link = TextLabel("", 10)
        grid.addWidget(self.name, 0, 0, 1, 2)
        grid.addWidget(self.rate, 1, 0)
        grid.addWidget(self.heart, 1, 1)
        grid.addWidget(self.quality, 2, 0, 1, 2)
        grid.addWidget(self.link, 3, 0, 1, 2)
        self.rate.setStyleSheet(f"color: {colour};")

    def show_person(self, person: Any | None) -> None:
        """Update from a ``PersonSnapshot`` (None before the session starts)."""
        breath = getattr(person, "breath", None)
        current = shows_values(getattr(person, "link", "waiting"))
        self.rate.show_text(rate_text(breath if current else None))
        self.heart.show_text("♥ " + heart_text(getattr(person, "heart", None) if current
                                               else None))
        quality, q_level = quality_text(breath) if person is not None else ("–", "idle")
        link, l_level = link_text(getattr(person, "link", "waiting"))
        self.quality.show_text(f"● signal: {quality}", LEVEL_COLOURS[q_level])
        self.link.show_text(f"● device: {link}", LEVEL_COLOURS[l_level])
        if person is not None and not self.name.hasFocus() and person.label != self.name.text():
            self.name.setText(person.label)


def _fmt(value: Any, fmt: str) -> str:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return format(value, fmt)
    return "–"


class ExpertNumbers(QtWidgets.QFrame):
    """The synchrony numbers behind the verdict (expert view)."""

    ROWS = (("plv", "PLV (locking, zero lag)", ".2f"),
            ("ppc", "PPC (bias-free locking²)", ".2f"),
            ("alignment", "alignment ⟨cos Δφ⟩", "+.2f"),
            ("mean_relative_phase_deg", "mean Δφ (deg, + = A ahead)", "+.0f"),
            ("chance_plv95", "  chance PLV (95th pct)", ".2f"),
            ("lag_plv", "locking at best lag", ".2f"),
            ("chance_lag_plv95", "  chance, best lag (95th pct)", ".2f"),
            ("lag_s", "best lag (s, + = A leads)", "+.2f"),
            ("wcc_r", "cross-correlation r (Boker)", "+.2f"),
            ("rate_diff_bpm", "rate A − B (breaths/min)", "+.1f"),
            ("n_breaths", "breaths in window", ".0f"),
            ("valid_fraction", "clean samples in window", ".0%"))

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.setVerticalSpacing(0)
        self.values: dict[str, TextLabel] = {}
        for row, (key, title, _) in enumerate(self.ROWS):
            grid.addWidget(TextLabel(title, 9), row, 0)
            value = TextLabel("–", 9, bold=True)
            value.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
            grid.addWidget(value, row, 1)
            self.values[key] = value

    def show_sync(self, sync: Any | None) -> None:
        for key, _, fmt in self.ROWS:
            self.values[key].show_text(_fmt(getattr(sync, key, None), fmt))
