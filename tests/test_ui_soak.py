"""Soak: thousands of plot updates and repaints of the real window, offscreen.

PySide6 6.12.0 on CPython 3.11 aborts ("Fatal Python error: none_dealloc") after a few
hundred repaints; this catches a bad Qt pin before a therapist does.
"""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from pyqtgraph.Qt import QtWidgets

from rapport_sync.session.live import LiveSession
from rapport_sync.sources.base import MonotonicClock, SourceSpec
from rapport_sync.ui import theme
from rapport_sync.ui.monitor import MonitorWindow

UPDATES = 2000


@pytest.mark.slow
def test_thousands_of_updates_and_repaints(qtbot, tmp_path):
    theme.configure_pyqtgraph()
    spec = SourceSpec.parse("sim:seed=2,script=coupled")
    session = LiveSession({"a": spec, "b": spec}, tmp_path / "soak.rapport",
                          clock=MonotonicClock(40.0))
    window = MonitorWindow(session, span_s=30.0)
    # a test that fails while recording must not leave a modal question open at teardown
    qtbot.addWidget(window, before_close_func=lambda w: setattr(w, "ask_before_closing", False))
    window.resize(1000, 700)
    window.set_expert(True)
    window.show()
    window.start_recording()
    qtbot.waitUntil(lambda: window.last is not None and window.last.sync is not None
                    and window.last.elapsed_s > 50, timeout=20_000)
    window.stop_recording()
    window.timer.stop()
    full = window.last
    app = QtWidgets.QApplication.instance()
    start = full.elapsed_s - 10.0
    for k in range(UPDATES):  # scroll through the last 10 s: every frame has new data
        t = start + 10.0 * k / UPDATES
        people = {p: dataclasses.replace(
            ps, trace=ps.trace[ps.trace[:, 0] <= t], raw=ps.raw[ps.raw[:, 0] <= t])
            for p, ps in full.people.items()}
        window.render(dataclasses.replace(full, elapsed_s=t, people=people))
        app.processEvents()
    # after thousands of repaints the curve still shows exactly the last frame's data
    newest = full.people["a"].trace[full.people["a"].trace[:, 0] <= t][-1, 0]
    x, _ = window.traces.curves["a"].getData()
    assert np.isfinite(x).all() and x[-1] == pytest.approx(newest - t, abs=1e-6)
