"""Monitor window: frame time with long full-rate traces, and sample-arrival → pixel delay.

Both parts use the real window on real sessions of two simulated Polar H10 straps through
the real BLE path (``ble-sim``), accelerometer at the H10's full 200 Hz:

1. **frame time** — a session is run (virtual clock, as fast as the CPU allows) until
   more than ``--span`` seconds are buffered; then the window draws ``--frames`` frames,
   each from a snapshot cut a little later (so every frame scrolls and replaces all data):
   ``render`` (every ``setData``) plus the event processing in which every view of the
   1400×850 window paints, in the expert view (breathing, raw 200 Hz traces of both people over the span,
   heart rate, synchrony meter, lag plot, dial, numbers) and in the simple view.
2. **display delay** — a session in real time with the window's own 30 FPS timer; for
   every batch of samples, the time from the chunk's arrival stamp on the host to the
   end of the first paint of the breathing plot that shows it. What the sensor adds before
   arrival (BLE packets of 36 accelerometer samples, 0.18 s at 200 Hz) is not included;
   it is reported separately as "sample age at arrival".

Run:  QT_QPA_PLATFORM=offscreen python benchmarks/bench_monitor.py [--frames 300] [--live-s 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from pyqtgraph.Qt import QtCore, QtWidgets

from rapport_sync.session.live import LiveSession, SessionSnapshot
from rapport_sync.sources.base import MonotonicClock, SourceSpec, VirtualClock
from rapport_sync.ui import theme
from rapport_sync.ui.monitor import MonitorWindow
from rapport_sync.ui.plots import TracePlot

SOURCE = "ble-sim:seed=1,script=coupled,acc=200"


def _session(folder: Path, name: str, clock: object) -> LiveSession:
    spec = SourceSpec.parse(SOURCE)
    return LiveSession({"a": spec, "b": spec}, folder / f"{name}.rapport",
                       {"a": "Alex", "b": "Sam"}, clock=clock)  # type: ignore[arg-type]


def _window(session: LiveSession, span_s: float, expert: bool) -> MonitorWindow:
    window = MonitorWindow(session, title="bench", span_s=span_s)
    window.ask_before_closing = False
    window.timer.stop()
    window.resize(1400, 850)
    window.set_expert(expert)
    window.show()
    return window


def _cut(snap: SessionSnapshot, t_s: float) -> SessionSnapshot:
    """The snapshot as it would have looked at session time ``t_s``."""
    def upto(a: np.ndarray) -> np.ndarray:
        return a[: np.searchsorted(a[:, 0], t_s, side="right")] if len(a) else a
    people = {p: dataclasses.replace(ps, trace=upto(ps.trace), raw=upto(ps.raw),
                                     hr_trace=upto(ps.hr_trace))
              for p, ps in snap.people.items()}
    history = [s for s in snap.sync_history if s.time_s <= t_s]
    return dataclasses.replace(snap, elapsed_s=t_s, people=people, sync_history=history,
                               sync=history[-1] if history else None)


def frame_times(app: QtWidgets.QApplication, folder: Path, span_s: float, frames: int
                ) -> dict[str, object]:
    """Fill a session past the span, then time render + repaint per frame in both views."""
    session = _session(folder, "frames", VirtualClock())
    session.start()
    fill_s = span_s + 15.0 + frames / 30.0
    while session.snapshot().people["a"].raw[-1:, 0].tolist() < [fill_s]:
        time.sleep(0.01)
    session.stop()
    full = session.snapshot(history=100_000)
    t_end = float(full.people["a"].raw[-1, 0])
    out: dict[str, object] = {"points": {
        p: int(np.sum(np.abs(ps.raw[:, 0] - (t_end - span_s / 2)) <= span_s / 2))
        for p, ps in full.people.items()}}
    for expert in (True, False):
        window = _window(session, span_s, expert)
        times = []
        for k in range(frames + 10):
            snap = _cut(full, t_end - (frames + 10 - k) / 30.0)
            start = time.perf_counter()
            window.render(snap)
            app.processEvents()  # the scene changes reach the views, which paint
            times.append(time.perf_counter() - start)
        window.close()
        out["expert" if expert else "simple"] = np.array(times[10:]) * 1e3
    return out


def display_delay(app: QtWidgets.QApplication, folder: Path, span_s: float, live_s: float
                  ) -> dict[str, np.ndarray]:
    """Real-time session in the window (its own timer); arrival → painted, per sample batch."""
    session = _session(folder, "live", MonotonicClock())
    clock = session.clock
    batches: list[tuple[int, str, float]] = []  # arrival ns, person, newest sample time
    current = {"arrival": 0}
    process, feed = session._process, session.pipeline.feed

    def traced_process(item: object, *args: object) -> None:
        current["arrival"] = getattr(item, "host_time_ns", 0)
        process(item, *args)

    def traced_feed(item: object) -> None:
        feed(item)
        t = getattr(item, "time_s", None)
        if getattr(item, "kind", None) is not None and hasattr(item, "value") and len(t):
            batches.append((current["arrival"], item.person, float(t[-1])))  # type: ignore

    session._process = traced_process  # type: ignore[method-assign]
    session.pipeline.feed = traced_feed  # type: ignore[method-assign]
    window = _window(session, span_s, expert=True)
    window.timer.start()
    frames: list[tuple[int, dict[str, float]]] = []
    shown: dict[str, float] = {}
    render, paint = window.render, TracePlot.paintEvent

    def traced_render(snap: SessionSnapshot) -> None:
        start = time.perf_counter()
        render(snap)
        render_ms.append((time.perf_counter() - start) * 1e3)
        shown.clear()
        shown.update({p: float(ps.trace[-1, 0]) if len(ps.trace) else -1.0
                      for p, ps in snap.people.items()})
        if not warm and all(len(ps.trace) and np.isfinite(ps.trace[-1, 1])
                            for ps in snap.people.values()):
            warm.append(clock.now_ns())

    def traced_paint(view: TracePlot, ev: object) -> None:
        paint(view, ev)
        if view is window.traces and shown:
            frames.append((clock.now_ns(), dict(shown)))

    render_ms: list[float] = []
    warm: list[int] = []  # when both breathing traces first have a value to draw
    window.render = traced_render  # type: ignore[method-assign]
    TracePlot.paintEvent = traced_paint  # type: ignore[method-assign]
    try:
        window.start_recording()
        deadline = time.monotonic() + live_s
        while time.monotonic() < deadline:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        window.finish()
    finally:
        TracePlot.paintEvent = paint  # type: ignore[method-assign]
    paint_ns = np.array([f[0] for f in frames])
    delays, ages = [], []
    # skip the start-up (connection, warm-up: the breathing trace is NaN, nothing to paint)
    first = warm[0] + 1e9 if warm else np.inf
    for arrival, person, t in batches:
        if arrival < first:
            continue
        newest = np.array([f[1].get(person, -1.0) for f in frames])
        # the trace is on the 25 Hz grid: it shows t once a grid tick at or after t exists
        hit = np.flatnonzero((newest >= t - 1 / 25.0) & (paint_ns >= arrival))
        if hit.size:
            delays.append((paint_ns[hit[0]] - arrival) / 1e6)
            ages.append((arrival - session.start_ns) / 1e9 - t)
    return {"delay": np.array(delays), "age": np.array(ages) * 1e3,
            "render": np.array(render_ms),
            "fps": np.array([len(frames) / max(1e-9, (paint_ns[-1] - paint_ns[0]) / 1e9)]),
            "pulls": np.array([len(render_ms) / live_s])}


def _row(name: str, values: np.ndarray, unit: str = "ms") -> str:
    if not len(values):
        return f"| {name:<52s} | no data (run longer: --live-s) | | | 0 | {unit} |"
    return (f"| {name:<52s} | {np.median(values):8.1f} | {np.percentile(values, 95):8.1f} | "
            f"{values.max():8.1f} | {len(values):6d} | {unit} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--span", type=float, default=120.0)
    parser.add_argument("--live-s", type=float, default=20.0)
    args = parser.parse_args(argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    theme.configure_pyqtgraph()
    with tempfile.TemporaryDirectory() as tmp:
        ft = frame_times(app, Path(tmp), args.span, args.frames)
        dd = display_delay(app, Path(tmp), args.span, args.live_s)
    import pyqtgraph
    from PySide6 import __version__ as pyside
    print(f"python {platform.python_version()}, PySide6 {pyside}, pyqtgraph "
          f"{pyqtgraph.__version__}, Qt platform {os.environ['QT_QPA_PLATFORM']}, "
          f"{os.cpu_count()} cores; source {SOURCE}; span {args.span:.0f} s; raw points "
          f"per person in span: {ft['points']}")
    print("| measure | median | p95 | max | n | unit |")
    print("|---|---|---|---|---|---|")
    print(_row("frame, expert view (render + paint, 1400x850)", ft["expert"]))  # type: ignore
    print(_row("frame, simple view (render + paint)", ft["simple"]))  # type: ignore
    print(_row("live: render per timer frame (acquisition running)", dd["render"]))
    print(_row("live: chunk arrival -> painted on screen", dd["delay"]))
    print(_row("live: sample age at arrival (sensor + BLE, not ours)", dd["age"]))
    print(f"live: the timer pulled {dd['pulls'][0]:.1f} snapshots/s; the breathing plot was "
          f"painted {dd['fps'][0]:.1f} times/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
