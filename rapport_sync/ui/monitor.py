"""The live monitor window: both people's breathing, the phase dial and synchrony vs chance.

The window never blocks acquisition. Sources, the store and the DSP run on the session's
own threads; a QTimer on the Qt thread pulls :meth:`LiveSession.snapshot` (copies of the
ring buffers and the latest states) and replaces the data of persistent curves. A slow
frame only delays the picture: every sample is already queued, stored and analysed
without the window.

Life cycle: the window opens *ready* (sources named, nothing recorded) unless told to
start at once (demo, or a ``--duration``); *Start recording* starts the session, *Stop*
stops it (everything is stored and the file closed) and the window then shows the
summary. Closing the window while recording asks first, then stops cleanly.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from ..session.live import LiveSession, SessionSnapshot
from . import theme
from .dial import PhaseDial
from .panels import ExpertNumbers, PersonCard, TextLabel, VerdictPanel
from .plots import HeartPlot, LagPlot, LagProfilePlot, RawPlot, SyncMeterPlot, TracePlot
from .readout import describe_sync, format_clock, latest_phase, leader_text
from .terminal import format_summary

__all__ = ["CLOSE_QUESTION", "FRAME_MS", "MonitorWindow", "run_monitor", "settle_layout"]

FRAME_MS = 33  # about 30 frames per second
METER_MIN_SPAN_S = 300.0  # the synchrony meter shows at least the last five minutes
SPANS_S = (30.0, 60.0, 120.0, 300.0)
CLOSE_QUESTION = "Stop the recording and save the session?"


class MonitorWindow(QtWidgets.QMainWindow):
    """The monitor of one :class:`LiveSession` (which it starts and stops).

    Parameters
    ----------
    session : LiveSession
        Not yet started.
    title : str
        Shown in the window title ("demo", "record").
    duration_s : float, optional
        End the session by itself after this much session time.
    span_s : float
        Seconds of breathing shown.
    screenshot : path, optional
        Save a PNG of the window when the session ends.
    lsl : bool
        Publish the session as Lab Streaming Layer outlets while recording.
    """

    def __init__(self, session: LiveSession, title: str = "session",
                 duration_s: float | None = None, span_s: float = 60.0,
                 screenshot: str | Path | None = None, lsl: bool = False) -> None:
        super().__init__()
        self.session = session
        self.title = title
        self.duration_s = duration_s
        self.screenshot = Path(screenshot) if screenshot else None
        self.lsl = lsl
        self.state = "ready"  # "recording", "stopped" or "failed"
        self.ask_before_closing = True
        self.last: SessionSnapshot | None = None
        self.frames = 0
        self.publisher: Any = None
        self._history_key: tuple[int, float] | None = None
        self._status_s = -1
        self.start_error: Exception | None = None
        self._labels = self._current_labels()
        self.setWindowTitle(f"rapport_sync · {title}")
        self._build(span_s)
        self.set_expert(False)
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(FRAME_MS)
        self._show_state()

    # ---- layout ------------------------------------------------------------------------
    def _build(self, span_s: float) -> None:
        central = QtWidgets.QWidget()
        root = QtWidgets.QVBoxLayout(central)
        root.setContentsMargins(8, 6, 8, 4)
        root.addLayout(self._build_header(span_s))
        body = QtWidgets.QHBoxLayout()
        root.addLayout(body, 1)

        plots = QtWidgets.QVBoxLayout()
        self.traces = TracePlot(self._labels)
        self.raw = RawPlot()
        self.heart = HeartPlot()
        self.meter = SyncMeterPlot(self.session.window_s)
        self.lag = LagPlot()
        plots.addWidget(self.traces, 4)
        plots.addWidget(self.raw, 2)
        plots.addWidget(self.heart, 2)
        plots.addWidget(self.meter, 3)
        self.profile = LagProfilePlot()
        lag_row = QtWidgets.QHBoxLayout()
        lag_row.addWidget(self.lag, 3)
        lag_row.addWidget(self.profile, 1)
        plots.addLayout(lag_row, 2)
        self.raw.setXLink(self.traces)
        self.heart.setXLink(self.traces)
        # the lag plot is narrower than the synchrony plot (the lag profile sits beside
        # it): x-linked, it would show the synchrony plot's range pixel for pixel, which
        # leaves the newest windows off its right edge; each keeps its own -span..now
        body.addLayout(plots, 1)

        side = QtWidgets.QVBoxLayout()
        self.verdict = VerdictPanel()
        self.dial = PhaseDial()
        self.dial.setMinimumHeight(230)
        self.cards = {p: PersonCard(p, self._labels[p], self.rename) for p in ("a", "b")}
        self.numbers = ExpertNumbers()
        side.addWidget(self.verdict)
        side.addWidget(self.dial, 1)
        for card in self.cards.values():
            side.addWidget(card)
        side.addWidget(self.numbers)
        panel = QtWidgets.QWidget()
        panel.setLayout(side)
        panel.setFixedWidth(370)
        body.addWidget(panel)
        self.setCentralWidget(central)
        self.status = TextLabel("", 9)
        self.statusBar().addWidget(self.status, 1)
        self.set_span(span_s)

    def _build_header(self, span_s: float) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        self.clock = TextLabel("00:00", 20, bold=True)
        self.rec_state = TextLabel("", 12, bold=True)
        self.record_button = QtWidgets.QPushButton("Start recording")
        self.record_button.clicked.connect(self._record_clicked)
        self.marker_label = QtWidgets.QLineEdit()
        self.marker_label.setPlaceholderText("marker label (optional)")
        self.marker_label.setMaximumWidth(220)
        self.marker_label.returnPressed.connect(self.add_marker)
        self.marker_button = QtWidgets.QPushButton("Add marker (M)")
        self.marker_button.clicked.connect(self.add_marker)
        for key in ("M", "Ctrl+M"):
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            shortcut.activated.connect(self.add_marker)
        self.span_box = QtWidgets.QComboBox()
        for s in sorted(set(SPANS_S) | {float(span_s)}):
            self.span_box.addItem(f"show {format_clock(s)}", s)
        self.span_box.currentIndexChanged.connect(
            lambda i: self.set_span(float(self.span_box.itemData(i))))
        self.expert_box = QtWidgets.QCheckBox("Expert view")
        self.expert_box.toggled.connect(self.set_expert)
        row.addWidget(self.clock)
        row.addSpacing(12)
        row.addWidget(self.rec_state)
        row.addStretch(1)
        for w in (self.record_button, self.marker_label, self.marker_button, self.span_box,
                  self.expert_box):
            row.addWidget(w)
        return row

    # ---- controls ----------------------------------------------------------------------
    def set_span(self, span_s: float) -> None:
        """Show the newest ``span_s`` seconds of breathing (the meter at least 5 min)."""
        for plot in (self.traces, self.raw, self.heart):
            plot.span_s = span_s
        self.meter.span_s = self.lag.span_s = max(METER_MIN_SPAN_S, span_s)
        self._history_key = None  # redraw the history on the new span
        index = self.span_box.findData(span_s)
        if index >= 0 and index != self.span_box.currentIndex():
            self.span_box.setCurrentIndex(index)
        if self.last is not None:
            self.render(self.last)

    def set_expert(self, expert: bool) -> None:
        """Simple view: breathing, dial, meter. Expert adds raw and heart traces, the lag
        profile and the numbers behind the verdict."""
        self.expert = bool(expert)
        for w in (self.raw, self.heart, self.lag, self.profile, self.numbers):
            w.setVisible(self.expert)
        self.meter.set_expert(self.expert)
        if self.expert_box.isChecked() != self.expert:
            self.expert_box.setChecked(self.expert)
        if self.last is not None:
            self.render(self.last)

    def start_recording(self) -> None:
        """Start the session: sources open, the file is created, data are stored."""
        if self.state != "ready":
            return
        try:
            self.session.start()
        except Exception as exc:  # a source or the file could not be opened: say so, once
            self.state = "failed"
            self.start_error = exc
            self._show_state()
            self.status.show_text(f"could not start: {exc}", theme.BAD)
            return
        self.state = "recording"
        if self.lsl:
            from ..export.lsl_outlets import SessionOutlets
            self.publisher = SessionOutlets(self.session)
        self._show_state()
        self.refresh()

    def stop_recording(self) -> None:
        """Stop the session: everything still queued is stored and the file closed."""
        if self.state != "recording":
            return
        self.pull()
        self.session.stop()
        self.state = "stopped"
        if self.publisher is not None:
            self.publisher.close()
            self.publisher = None
        self.last = self.session.snapshot(span_s=self._shown_s())
        self.render(self.last)
        self._show_state()

    def _record_clicked(self) -> None:
        if self.state == "ready":
            self.start_recording()
        elif self.state == "recording":
            self.stop_recording()

    def add_marker(self, label: str | None = None) -> float | None:
        """Mark this moment (with the label typed in the marker box); returns its time."""
        if self.state != "recording":
            return None
        if not isinstance(label, str):
            label = self.marker_label.text().strip()
        t_s = self.session.add_marker(label)
        self.marker_label.clear()
        self.status.show_text(f"marker {label!r} at {format_clock(t_s)}" if label
                              else f"marker at {format_clock(t_s)}", theme.FOREGROUND)
        return t_s

    def rename(self, person: str, label: str) -> None:
        """Change a participant's label (stored in the session file)."""
        label = label.strip()
        if not label or label == self._labels.get(person):
            return
        self.session.set_participant_label(person, label)
        self._labels = self._current_labels()
        self.traces.set_labels(self._labels)

    def _shown_s(self) -> float:
        """Seconds of traces a frame needs: the span on screen, with a margin for the
        newest rows still arriving (and for the LSL outlets' newest samples)."""
        return self.traces.span_s + 10.0

    def _current_labels(self) -> dict[str, str]:
        return {p: v["label"] for p, v in self.session.participants.items()}

    # ---- frames ------------------------------------------------------------------------
    def pull(self) -> SessionSnapshot:
        """Pull a snapshot of the running session, draw it and publish it."""
        snap = self.session.snapshot(span_s=self._shown_s())
        self.last = snap
        self.render(snap)
        if self.publisher is not None:
            self.publisher.update(snap)
        return snap

    def refresh(self) -> None:
        """One frame (the timer's slot): pull and draw; end the session when due."""
        if self.state != "recording":
            return
        snap = self.pull()
        if snap.error:
            self.status.show_text(f"error: {snap.error}", theme.BAD)
            self.stop_recording()
            if self.duration_s is not None:
                self.finish()
        elif self.due(snap):
            self.finish()

    def due(self, snap: SessionSnapshot) -> bool:
        """The session has reached ``duration_s`` (see :meth:`LiveSession.due`)."""
        return self.session.due(self.duration_s, snap.elapsed_s)

    def render(self, snap: SessionSnapshot) -> None:
        """Draw a snapshot (persistent items, new data)."""
        self.frames += 1
        now = snap.elapsed_s
        people = snap.people
        labels = {p: ps.label for p, ps in people.items()}
        if labels != self._labels and all(labels.values()):
            self._labels = labels
            self.traces.set_labels(labels)
        self.traces.update_traces({p: ps.trace for p, ps in people.items()}, now)
        self.traces.markers.update_markers(snap.markers)
        self.meter.markers.update_markers(snap.markers)
        history = snap.sync_history
        key = (len(history), history[-1].time_s if history else -1.0)
        if key != self._history_key:
            self._history_key = key
            self.meter.update_history(history)
            self.lag.update_history(history)
        self.meter.scroll_to(now)
        self.lag.scroll_to(now)
        self.dial.set_phases({p: latest_phase(ps.trace, max_age_s=1.0)
                              for p, ps in people.items()})
        sync = snap.sync
        readout = describe_sync(sync, self.session.window_s)
        self.verdict.show_readout(readout, leader_text(sync, self._labels, readout.level))
        for p, card in self.cards.items():
            card.show_person(people.get(p))
        self.clock.show_text(format_clock(now) + (f" / {format_clock(self.duration_s)}"
                                                  if self.duration_s else ""))
        if self.expert:
            self.raw.update_raw({p: ps.raw for p, ps in people.items()}, now)
            self.heart.update_hr({p: ps.hr_trace for p, ps in people.items()}, now)
            self.numbers.show_sync(sync)
            self.profile.update_profile(sync)
        if self.state == "recording" and int(now) != self._status_s:
            self._status_s = int(now)  # once a second: a label that changes resizes
            self.status.show_text(f"{snap.chunks_stored} chunks stored in "
                                  f"{self.session.path.name}")

    def _show_state(self) -> None:
        s = self.state
        text, colour = {"ready": ("○ Ready, not recording", theme.IDLE),
                        "recording": ("● Recording", theme.BAD),
                        "stopped": ("■ Stopped, session saved", theme.GOOD),
                        "failed": ("✕ Could not start", theme.BAD)}[s]
        self.rec_state.show_text(text, colour)
        self.record_button.setText("Stop recording" if s == "recording" else "Start recording")
        self.record_button.setEnabled(s in ("ready", "recording"))
        self.marker_button.setEnabled(s == "recording")
        self.marker_label.setEnabled(s == "recording")
        for card in self.cards.values():
            card.name.setReadOnly(s in ("stopped", "failed"))
        if s == "ready":
            sources = ", ".join(f"{self._labels[p]} ← {spec}"
                                for p, spec in self.session.specs.items())
            self.status.show_text(f"ready: {sources}. Press Start recording.", theme.IDLE)
        elif s == "stopped":
            self.status.show_text(f"session saved to {self.session.path}", theme.GOOD)

    # ---- ending ------------------------------------------------------------------------
    def save_screenshot(self) -> None:
        """Save the window as PNG to the ``screenshot`` path (once), with the newest data
        drawn and the layout settled.

        A label whose text just changed, or plots just shown, take their new size only
        when the layout requests Qt has posted are handled, and pyqtgraph sizes an axis
        to its tick labels while painting it, which asks for another layout: grabbed at
        once, the verdict of the first frame read "Collecting the first" (its wrapped
        second line cut off) and the axes had their old widths. So the window is painted
        until two paints in a row give the same picture, with only layout requests
        handled in between (no timer or input, so no frame or close runs meanwhile).
        """
        path, self.screenshot = self.screenshot, None  # once, even if asked again meanwhile
        if path is None:
            return
        if self.state == "recording":
            self.pull()
        shot = self._settled_grab()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not shot.save(str(path), "PNG"):
            self.status.show_text(f"could not save {path}", theme.BAD)

    def _settled_grab(self, most: int = 5) -> QtGui.QPixmap:
        """The window painted once the layout has stopped moving (at most ``most`` paints)."""
        settle_layout()
        shot = self.grab()
        for _ in range(most - 1):
            settle_layout()
            again = self.grab()
            if again.toImage() == shot.toImage():
                break
            shot = again
        return shot

    def finish(self) -> None:
        """End without asking: screenshot, stop and store, close."""
        self.save_screenshot()
        self.stop_recording()
        self.ask_before_closing = False
        self.timer.stop()
        self.close()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if self.state == "recording" and self.ask_before_closing:
            answer = QtWidgets.QMessageBox.question(
                self, "rapport_sync", CLOSE_QUESTION + "\n\nEverything recorded so far is "
                f"already saved in {self.session.path.name}; stopping ends the recording and "
                "closes the file.",
                QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
                QtWidgets.QMessageBox.StandardButton.No)
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.save_screenshot()
        self.stop_recording()
        self.timer.stop()
        event.accept()


def settle_layout(rounds: int = 5) -> None:
    """Handle the layout requests Qt has posted (widgets and pyqtgraph's graphics layouts):
    a layout that resizes a word-wrapped label posts another, hence a few rounds."""
    for _ in range(rounds):
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.LayoutRequest)


def run_monitor(session: LiveSession, args: argparse.Namespace) -> int:
    """Run ``session`` in the monitor window until its duration ends or the window closes.

    Prints the same summary as the terminal view and returns 0, or 1 if the session
    failed. Demo sessions and sessions with a ``--duration`` start recording at once.
    """
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0]])
    theme.configure_pyqtgraph()
    window = MonitorWindow(session, title=str(session.config.get("mode", "session")),
                           duration_s=args.duration,
                           span_s=float(getattr(args, "span", None) or 60.0),
                           screenshot=args.screenshot, lsl=bool(args.lsl))
    window.resize(1400, 850)
    window.show()
    previous = signal.signal(signal.SIGINT, lambda *_: QtCore.QTimer.singleShot(0, window.finish))
    try:
        if args.duration is not None or session.config.get("mode") == "demo":
            window.start_recording()
        if window.state != "failed":
            app.exec()
    finally:
        signal.signal(signal.SIGINT, previous)
        window.finish()
    if window.state == "failed" and window.start_error is not None:
        raise window.start_error  # the command line prints it as one line
    if window.state == "ready":
        print("nothing was recorded")
        return 0
    whole = session.snapshot(history=None, span_s=0.0)  # every window, no traces
    print("\n".join(format_summary(whole, str(session.path))))
    if session.error:
        print(f"rapport-sync: error: {session.error}", file=sys.stderr)
        return 1
    return 0
