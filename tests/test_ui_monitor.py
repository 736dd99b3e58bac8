"""The monitor window on real sessions of two simulated people (offscreen Qt, pytest-qt)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from rapport_sync.dsp.sync import shown_locking
from rapport_sync.session.live import LiveSession
from rapport_sync.session.store import SessionReader
from rapport_sync.sources.base import MonotonicClock, SourceSpec
from rapport_sync.ui import theme
from rapport_sync.ui.monitor import CLOSE_QUESTION, MonitorWindow

SPEED = 20.0


def make_window(qtbot, tmp_path, script="coupled", window_s=60.0,  # type: ignore[no-untyped-def]
                **kwargs):
    theme.configure_pyqtgraph()
    spec = SourceSpec.parse(f"sim:seed=1,script={script}")
    session = LiveSession({"a": spec, "b": spec}, tmp_path / "s.rapport",
                          {"a": "Alex", "b": "Sam"}, clock=MonotonicClock(SPEED),
                          window_s=window_s)
    window = MonitorWindow(session, title="test", **kwargs)
    # a test that fails while recording must not leave a modal question open at teardown
    qtbot.addWidget(window, before_close_func=lambda w: setattr(w, "ask_before_closing", False))
    window.resize(1400, 850)
    window.show()
    qtbot.waitExposed(window)
    return window


def upward_crossings_per_min(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(y)
    x, y = x[ok], y[ok] - np.median(y[ok])
    ups = np.flatnonzero((y[:-1] < 0) & (y[1:] >= 0))
    return 60.0 * (len(ups) - 1) / (x[ups[-1]] - x[ups[0]])


def test_window_shows_both_people_breathing_and_synchrony(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    assert window.state == "ready" and window.last is None  # nothing recorded yet
    window.start_recording()
    qtbot.waitUntil(lambda: window.last is not None and window.last.sync is not None
                    and window.last.elapsed_s > 45, timeout=20_000)
    snap = window.last
    for p in ("a", "b"):
        x, y = window.traces.curves[p].getData()
        assert x[-1] <= 0.0 and x[-1] > -2.0  # the newest sample is at the right edge
        assert x[0] >= -window.traces.span_s
        rate = snap.people[p].breath.rate_bpm
        # the curve on screen breathes at the person's measured rate
        assert upward_crossings_per_min(x, y) == pytest.approx(rate, abs=2.5)
    # each person's hand is on the dial whenever their phase is followed (not in a pause)
    qtbot.waitUntil(lambda: all(window.dial.hands[p].getData()[0] is not None
                                for p in ("a", "b")), timeout=10_000)
    for p in ("a", "b"):
        hand_x, _ = window.dial.hands[p].getData()
        assert len(hand_x) == 2
    plv_x, plv_y = window.meter.plv.getData()
    history = window.last.sync_history  # what the last frame drew
    assert len(plv_x) == len(history) >= 1
    assert plv_y[-1] == pytest.approx(shown_locking(history[-1])[0])
    assert plv_x[-1] == pytest.approx(history[-1].time_s)
    # the expert view adds heart rate, raw traces, the lag profile and the numbers
    assert not window.profile.isVisible()
    window.set_expert(True)
    qtbot.waitUntil(lambda: window.profile.curve.getData()[0] is not None, timeout=5_000)
    lags, locking = window.profile.curve.getData()
    assert window.profile.isVisible() and window.heart.isVisible()
    assert lags[0] == pytest.approx(-lags[-1]) and np.nanmax(locking) <= 1.0
    assert np.nanmax(locking) == pytest.approx(window.last.sync.lag_plv, abs=0.02)
    window.stop_recording()
    assert window.state == "stopped"
    assert window.session.finished.is_set()


def test_marker_hotkey_and_labelled_marker_are_stored(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    window.start_recording()
    qtbot.wait(200)
    window.activateWindow()
    window.setFocus()
    qtbot.keyClick(window, QtCore.Qt.Key.Key_M)
    window.marker_label.setText("calm")
    qtbot.keyClick(window.marker_label, QtCore.Qt.Key.Key_Return)
    assert window.marker_label.text() == ""
    qtbot.waitUntil(lambda: len(window.last.markers) == 2, timeout=5_000)
    assert len(window.traces.markers.lines) == 2  # drawn on the traces
    window.stop_recording()
    with SessionReader(tmp_path / "s.rapport") as reader:
        assert [m.label for m in reader.markers()] == ["", "calm"]


def test_renaming_a_participant_is_stored(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    window.start_recording()
    card = window.cards["b"]
    card.name.setText("Samira")
    card.name.editingFinished.emit()
    qtbot.waitUntil(lambda: window.last is not None and window.last.people["b"].label
                    == "Samira", timeout=5_000)
    window.stop_recording()
    with SessionReader(tmp_path / "s.rapport") as reader:
        assert reader.meta["participants"]["b"] == {"label": "Samira", "id": "sub-02"}
        assert reader.meta["participants"]["a"]["label"] == "Alex"


@pytest.mark.parametrize("answer", ["no", "yes"])
def test_closing_asks_then_stores_the_session(qtbot, tmp_path, monkeypatch, answer):
    window = make_window(qtbot, tmp_path)
    window.start_recording()
    qtbot.wait(300)
    asked = []
    buttons = QtWidgets.QMessageBox.StandardButton

    def question(parent, title, text, *args):  # type: ignore[no-untyped-def]
        asked.append(text)
        return buttons.Yes if answer == "yes" else buttons.No

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", question)
    window.close()
    assert asked and asked[0].startswith(CLOSE_QUESTION)
    if answer == "no":
        assert window.isVisible() and window.state == "recording"
        window.ask_before_closing = False
        window.close()
    assert window.state == "stopped" and not window.isVisible()
    with SessionReader(tmp_path / "s.rapport") as reader:
        assert reader.ended_cleanly
        assert sum(n for n, *_ in reader.chunk_stats().values()) > 0


def person_pixels(image: QtGui.QImage, person: str) -> int:
    """Pixels of a person's colour in the image (the traces, hand, name)."""
    width, height = image.width(), image.height()
    ptr = image.convertToFormat(QtGui.QImage.Format.Format_RGB888).constBits()
    rgb = np.frombuffer(ptr, np.uint8, count=width * height * 3).reshape(height, width, 3)
    target = np.array(theme.qcolour(theme.PERSON_COLOURS[person]).getRgb()[:3])
    return int((np.abs(rgb.astype(int) - target).sum(axis=2) < 40).sum())


def test_duration_ends_the_session_and_saves_a_screenshot_with_traces(qtbot, tmp_path):
    png = tmp_path / "shot" / "monitor.png"
    window = make_window(qtbot, tmp_path, duration_s=40.0, screenshot=png)
    window.start_recording()
    qtbot.waitUntil(lambda: window.state == "stopped", timeout=20_000)
    assert not window.isVisible()
    image = QtGui.QImage(str(png))
    assert (image.width(), image.height()) == (1400, 850)
    traces = window.traces.geometry()
    top_left = window.traces.mapTo(window, QtCore.QPoint(0, 0))
    plot_area = image.copy(QtCore.QRect(top_left, traces.size()))
    for p in ("a", "b"):  # each person's trace is drawn, not a blank plot
        assert person_pixels(plot_area, p) > 2000


def view_area(window, plot) -> QtCore.QRect:  # type: ignore[no-untyped-def]
    """Where a plot's data area (its view box, no title or axes) is in the window."""
    box = plot.getPlotItem().getViewBox().sceneBoundingRect()
    rect = plot.mapFromScene(box).boundingRect()
    return QtCore.QRect(plot.mapTo(window, rect.topLeft()), rect.size())


@pytest.mark.parametrize("moment", ["first frame", "expert view just switched on"])
def test_the_screenshot_waits_for_the_layout_and_shows_the_curves(qtbot, tmp_path, moment):
    """The PNG was grabbed as soon as it was asked for: on the first frame the verdict read
    "Collecting the first" (the second line of the wrapped headline not laid out yet), and
    plots just shown or relabelled had their axes at the old widths. The saved picture is
    now the window as it stays once Qt has laid it out (the same pixels as a grab after
    the event loop has run), with both people's curves drawn in every plot shown."""
    png = tmp_path / "shot.png"
    window = make_window(qtbot, tmp_path, screenshot=png)
    window.start_recording()
    if moment != "first frame":
        qtbot.waitUntil(lambda: window.last is not None and window.last.elapsed_s > 45,
                        timeout=20_000)
    window.timer.stop()  # no new frame from here on: the picture can only settle
    if moment != "first frame":
        window.set_expert(True)
    window.save_screenshot()
    saved = QtGui.QImage(str(png)).convertToFormat(QtGui.QImage.Format.Format_RGB32)
    for _ in range(10):
        QtWidgets.QApplication.processEvents()
        qtbot.wait(10)
    settled = window.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    assert saved == settled
    if moment != "first frame":
        for plot in (window.traces, window.raw, window.heart):
            area = saved.copy(view_area(window, plot))
            for p in ("a", "b"):  # a curve across much of the plot (46 s of its 60)
                assert person_pixels(area, p) > 0.3 * area.width(), (plot, p)
    window.stop_recording()


def test_run_monitor_from_the_command_line(tmp_path, capsys):
    from rapport_sync.cli import main

    out, png = tmp_path / "demo.rapport", tmp_path / "demo.png"
    code = main(["demo", "--duration", "35", "--speed", str(SPEED), "--out", str(out),
                 "--screenshot", str(png), "--name-a", "Ann"])
    assert code == 0
    assert png.stat().st_size > 10_000
    text = capsys.readouterr().out
    assert f"session saved to {out}" in text and "Ann:" in text
    with SessionReader(out) as reader:
        assert reader.ended_cleanly


def test_marker_labels_with_braces_are_shown_as_typed_and_the_monitor_keeps_drawing(
        qtbot, tmp_path):
    # a marker label went to the line label as a format string: "step {1} of 3" raised
    # in every frame (nothing after the markers was drawn, a --duration never ended) and
    # "{value}" showed the line's position instead of the text typed
    window = make_window(qtbot, tmp_path)
    window.start_recording()
    qtbot.wait(200)
    typed = ["step {1} of 3", "{value}", "a { b"]
    for text in typed:
        window.add_marker(text)
    qtbot.waitUntil(lambda: len(window.traces.markers.lines) == 3, timeout=5_000)
    clock = window.clock.text()
    qtbot.waitUntil(lambda: window.clock.text() != clock, timeout=5_000)  # still drawing
    shown = [line.label.toPlainText() for _, line in window.traces.markers.lines]
    assert shown == typed
    window.stop_recording()
    with SessionReader(tmp_path / "s.rapport") as reader:
        assert [m.label for m in reader.markers()] == typed


def test_who_leads_plot_shows_the_newest_windows_up_to_now(qtbot, tmp_path):
    # the lag plot (narrower, beside the lag profile) was x-linked to the synchrony plot,
    # which maps the range pixel by pixel: it showed -5:00 to about -1:20, so the newest
    # windows, the ones the verdict speaks about, were off its right edge
    window = make_window(qtbot, tmp_path)
    window.set_expert(True)
    window.start_recording()
    qtbot.waitUntil(lambda: window.last is not None and len(window.last.sync_history) >= 5,
                    timeout=20_000)
    window.stop_recording()
    (x0, x1), _ = window.lag.getPlotItem().viewRange()
    assert (x0, x1) == pytest.approx((-window.lag.span_s, 0.0), abs=1.0)
    newest = window.last.sync_history[-1]
    xs = np.concatenate([points.getData()[0] for points in
                         (window.lag.locked, window.lag.half_breath, window.lag.unlocked)])
    assert 0 < xs.size <= len(window.last.sync_history)
    assert x0 <= xs.max() <= x1
    assert xs.max() == pytest.approx(newest.time_s - window.last.elapsed_s, abs=2.0)


def test_synchrony_plot_draws_no_locking_where_the_verdict_gives_none(qtbot):
    # after a strap came back, windows with a third of clean signal were drawn as a dip of
    # the locking line to 0.05 (low synchrony) while the headline said "not enough clean
    # signal"; a window without its chance level was drawn without the band
    import dataclasses

    from rapport_sync.dsp.sync import window_sync
    from rapport_sync.ui.plots import LagPlot, SyncMeterPlot
    from rapport_sync.ui.readout import MIN_VALID_FRACTION, SyncLevel, describe_sync

    fs = 5.0
    t = np.arange(0, 60, 1 / fs)
    pa = 2 * np.pi * 0.25 * t
    pb = pa - 2 * np.pi * 0.25 * 1.2  # B follows A by 1.2 s: locked above chance
    wrap = lambda p: np.angle(np.exp(1j * p))
    base = window_sync(wrap(pa), wrap(pb), np.cos(pa), np.cos(pb), fs, time_s=60.0)
    history = [dataclasses.replace(base, time_s=60.0 + i,
                                   valid_fraction=0.3 if 3 <= i < 6 else 0.9)
               for i in range(10)]
    history[8] = dataclasses.replace(history[8], lag_plv=np.nan, chance_plv95=np.nan)
    meter, lag = SyncMeterPlot(), LagPlot()
    for w in (meter, lag):
        qtbot.addWidget(w)
    meter.update_history(history)
    lag.update_history(history)
    _, y = meter.plv.getData()
    _, align = meter.alignment.getData()
    for i, s in enumerate(history):
        level = describe_sync(s, 60.0).level
        drawn = bool(np.isfinite(y[i]))
        assert drawn == (level not in (SyncLevel.WAITING, SyncLevel.UNCLEAR)), i
        assert drawn == bool(np.isfinite(align[i]))
        assert drawn == (s.valid_fraction >= MIN_VALID_FRACTION and i != 8)
    assert np.isfinite(y).sum() == 6
    # the lag plot fills a point (locked above chance) only where a verdict is given
    assert len(lag.locked.getData()[0]) == 6


@pytest.mark.parametrize("leader", ["No leader: not enough clean signal",
                                    "No leader: half a breath apart",
                                    "Alexandra-Marie leads by 1.2 s",
                                    ("Can't tell who leads: Alexandra-Marie 1.8\u00a0s ahead "
                                     "or Sam 2.3\u00a0s ahead")])
def test_the_whole_leader_line_is_shown(qtbot, tmp_path, leader):
    # the leader line did not wrap: in the 370 px side panel "No leader: not enough clean
    # signal" needed 335 px of 326 and was shown as "...clean signa"
    from rapport_sync.ui.readout import SyncLevel, SyncReadout

    window = make_window(qtbot, tmp_path)
    window.verdict.show_readout(SyncReadout(SyncLevel.UNCLEAR, "Not enough clean signal",
                                            "Only 36% of the last window is usable; check "
                                            "the straps."), leader)
    qtbot.wait(50)  # the layout settles
    label = window.verdict.leader
    room = label.contentsRect()
    flags = QtCore.Qt.TextFlag.TextWordWrap if label.wordWrap() else 0
    needed = label.fontMetrics().boundingRect(
        QtCore.QRect(0, 0, room.width(), 10_000), int(flags), label.text())
    assert label.text() == leader
    assert needed.width() <= room.width() and needed.height() <= room.height()


def test_synchrony_plot_says_when_its_first_value_comes(qtbot, tmp_path):
    # the empty plot promised a first value "once half a window is recorded"; it comes
    # once a whole window has been seen (as the headline says), twice as late
    window = make_window(qtbot, tmp_path, script="together", window_s=20.0)
    window.start_recording()
    qtbot.waitUntil(lambda: window.last is not None, timeout=5_000)
    waiting = window.meter.waiting
    assert waiting.isVisible() and "20 s of both people's breathing" in waiting.toPlainText()
    qtbot.waitUntil(lambda: bool(window.last.sync_history), timeout=20_000)
    assert not waiting.isVisible()
    assert window.last.sync_history[0].time_s >= 20.0 - 0.5
    window.stop_recording()


@pytest.mark.parametrize("link", ["connected", "reconnecting", "disconnected"])
def test_a_reconnecting_strap_shows_no_stale_rates(qtbot, link):
    """While a strap is being reconnected the card and the terminal view kept showing its
    last breathing and heart rate (14.7/min, 70 beats/min) as if live; they now show a
    dash next to "reconnecting…". A strap that has disconnected for good (also every
    strap when a session ends) keeps its last values, marked disconnected."""
    from types import SimpleNamespace

    from rapport_sync.dsp.breathing import BreathState, Quality
    from rapport_sync.dsp.heart import HeartState
    from rapport_sync.ui.panels import PersonCard
    from rapport_sync.ui.terminal import format_status

    person = SimpleNamespace(
        breath=BreathState(14.7, 300.0, Quality.GOOD, 20, 40.0, False),
        heart=HeartState(70.0, 60.0, 90, 0.0), link=link, label="Alex", kind="acc")
    card = PersonCard("a", "Alex", lambda p, name: None)
    qtbot.addWidget(card)
    card.show_person(person)
    snap = SimpleNamespace(elapsed_s=80.0, recording=True, people={"a": person}, sync=None,
                           error=None)
    row = format_status(snap, None, "record")[2]  # type: ignore[arg-type]
    if link == "reconnecting":
        assert card.rate.text() == "– breaths/min" and card.heart.text() == "♥ – beats/min"
        assert "14.7" not in row and "70" not in row and "reconnecting" in row
    else:
        assert card.rate.text() == "14.7 breaths/min" and card.heart.text() == "♥ 70 beats/min"
        assert "14.7 /min" in row and "70 bpm" in row


@pytest.mark.parametrize("lag_s", [1.0, 1.5, 2.0])
def test_the_verdict_and_the_lag_plot_tell_the_same_lead(qtbot, tmp_path, lag_s):
    """The coupled demo (A leads by 1.5 s: about 0.4 of a 4-s breath) said "Locked in
    opposite phase / No leader: half a breath apart" while the expert lag plot drew the
    same window as a filled point at +1.6 s, locked with A leading. Both now read the lead
    with one rule: window by window of simulated pairs whose B follows A by 1, 1.5 and 2 s
    (a quarter, 0.375 and half a 4-s breath), the leader line names A exactly where the
    newest point is filled above zero, says "Can't tell who leads" exactly where it is a
    ring, and never names B."""
    import dataclasses

    from rapport_sync.dsp.breathing import track_breathing
    from rapport_sync.dsp.simulate import CouplingScript, simulate_dyad
    from rapport_sync.dsp.sync import sync_series

    fs = 25.0
    rec = simulate_dyad(200.0, fs, seed=2, script=CouplingScript.constant(1.0, lag_s))
    (ta, _, _), (tb, _, _) = (track_breathing(x, fs) for x in (rec.a.belt, rec.b.belt))
    history = [s for s in sync_series(ta.phase, tb.phase, ta.signal, tb.signal, fs)
               if s.time_s >= 90.0]
    window = make_window(qtbot, tmp_path)
    window.set_expert(True)
    base = window.session.snapshot(span_s=70.0)
    lines = []
    for k in range(0, len(history), 3):
        newest = history[k]
        window.render(dataclasses.replace(base, elapsed_s=newest.time_s, sync=newest,
                                          sync_history=history[:k + 1]))
        drawn = {name: getattr(window.lag, name).getData() for name in
                 ("locked", "half_breath", "unlocked")}
        right = max(float(np.max(x)) for x, _ in drawn.values() if x is not None and len(x))
        kind = next(name for name, (x, _) in drawn.items()
                    if x is not None and len(x) and np.max(x) == right)
        y = next(float(y[np.argmax(x)]) for x, y in drawn.values()
                 if x is not None and len(x) and np.max(x) == right)
        line = window.verdict.leader.text()
        lines.append(line)
        assert line.startswith("Alex leads by ") == (kind == "locked" and y >= 0.2), (line, y)
        assert line.startswith("Can't tell who leads: ") == (kind == "half_breath"), line
        assert not line.startswith("Sam leads")
    named = sum(line.startswith("Alex leads") for line in lines)
    unclear = sum(line.startswith("Can't tell") for line in lines)
    assert named + unclear >= 0.75 * len(lines)  # locked with a lag in most windows
    if lag_s == 1.0:  # a quarter of a breath: A is named
        assert named >= 0.95 * (named + unclear)
    if lag_s == 2.0:  # half a breath: who leads is not claimed
        assert unclear >= 0.9 * (named + unclear)
