"""Make the therapist guide's screenshots from the real monitor on simulated people.

Each picture is the real window (``rapport_sync.ui.monitor.MonitorWindow``) on a real
session (``LiveSession`` with two simulated belts through the real decoders and DSP),
run faster than real time and saved offscreen. Re-run it whenever the window changes:

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py [--out docs/img] [--speed 25]

It takes about a minute; sessions go to a temporary folder and are deleted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pyqtgraph.Qt import QtWidgets

from rapport_sync.session.live import LiveSession
from rapport_sync.sources.base import MonotonicClock, SourceSpec
from rapport_sync.ui import theme
from rapport_sync.ui.monitor import MonitorWindow

# name, simulator script, session seconds, expert view, markers (session s, label)
SHOTS = (
    ("monitor-locked", "a-leads", 150.0, False, ((95.0, "relaxation exercise"),)),
    ("monitor-chance", "independent", 150.0, False, ()),
    ("monitor-expert", "coupled", 150.0, True, ((95.0, "relaxation exercise"),)),
)
SIZE = (1400, 850)


def shoot(app: QtWidgets.QApplication, out: Path, name: str, script: str, seconds: float,
          expert: bool, markers: tuple[tuple[float, str], ...], speed: float,
          folder: Path) -> Path:
    """Run one simulated session in the monitor and save the window as ``out/name.png``."""
    spec = SourceSpec.parse(f"sim:seed=3,script={script},duration={seconds}")
    session = LiveSession({"a": spec, "b": spec}, folder / f"{name}.rapport",
                          {"a": "Alex", "b": "Sam"}, clock=MonotonicClock(speed),
                          config={"mode": "demo", "script": script})
    window = MonitorWindow(session, title="demo", duration_s=seconds,
                           screenshot=out / f"{name}.png")
    window.ask_before_closing = False
    window.resize(*SIZE)
    window.set_expert(expert)
    window.show()
    window.start_recording()
    pending = list(markers)
    while window.isVisible():
        app.processEvents()
        if pending and session.elapsed_s >= pending[0][0]:
            window.add_marker(pending.pop(0)[1])
        time.sleep(0.005)
    return out / f"{name}.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "img")
    parser.add_argument("--speed", type=float, default=25.0,
                        help="session seconds per wall-clock second")
    parser.add_argument("--only", help="make only the shot with this name")
    args = parser.parse_args(argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    theme.configure_pyqtgraph()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for name, script, seconds, expert, markers in SHOTS:
            if args.only and name != args.only:
                continue
            path = shoot(app, args.out, name, script, seconds, expert, markers, args.speed,
                         Path(folder))
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
