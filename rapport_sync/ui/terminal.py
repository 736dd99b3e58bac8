"""The terminal view: live figures of a session for ``--headless`` or machines without a display.

On a terminal it redraws a small block in place twice a second; when the output is a file
or a pipe it prints one line every ten seconds of session time instead, so logs stay readable.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import textwrap
import time
from typing import TextIO

from ..session.live import LiveSession, SessionSnapshot
from .readout import (above_chance, describe_sync, format_clock, judged, leader_text,
                      link_text, locking, quality_text, shows_values)

__all__ = ["display_available", "fit_to_width", "format_status", "format_summary",
           "run_terminal_view"]


def display_available() -> bool:
    """True when a window can be shown (a display server, or an explicit Qt platform)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _num(value: float | None, fmt: str, unit: str = "") -> str:
    if value is None or not math.isfinite(value):
        return "  –  "
    return format(value, fmt) + unit


def _bar(fraction: float, width: int = 24) -> str:
    """A progress bar; the session's last second past its duration (closing) shows 100 %."""
    fraction = max(0.0, min(1.0, fraction))
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "-" * (width - filled) + f"] {fraction * 100:3.0f}%"


def format_status(snap: SessionSnapshot, duration_s: float | None, title: str) -> list[str]:
    """The lines of the live view (pure: snapshot in, text out)."""
    head = f"rapport_sync {title}  {format_clock(snap.elapsed_s)}"
    if duration_s:
        head += f" / {format_clock(duration_s)}  {_bar(snap.elapsed_s / duration_s)}"
    head += "  recording" if snap.recording else "  NOT RECORDING"
    lines = [head, f"{'':10s} {'breathing':>12s} {'heart':>9s}  signal"]
    for p in snap.people.values():
        current = shows_values(p.link)
        rate = p.breath.rate_bpm if p.breath and current else None
        heart = p.heart.hr_bpm if current else None
        quality = quality_text(p.breath)[0]
        source = f" ({p.kind})" if p.kind else ""
        link = "" if p.link == "connected" else f" [{link_text(p.link)[0]}]"
        lines.append(f"{p.label[:10]:10s} {_num(rate, '5.1f', ' /min'):>12s} "
                     f"{_num(heart, '3.0f', ' bpm'):>9s}  {quality}{source}{link}")
    s = snap.sync
    verdict = describe_sync(s, getattr(s, "window_s", 60.0) if s is not None else 60.0)
    line = f"synchrony  {verdict.headline}: {verdict.detail}"
    if s is not None and above_chance(s):
        labels = {p: ps.label for p, ps in snap.people.items()}
        line += (f"  {leader_text(s, labels, verdict.level)}; "
                 f"alignment {_num(s.alignment, '+.2f')}")
    lines.append(line)
    if snap.error:
        lines.append(f"error: {snap.error}")
    return lines


LATE_DATA_S = 10.0  # data ending this much (or a tenth of the session) early is said


def format_summary(snap: SessionSnapshot, path: str) -> list[str]:
    hist = snap.sync_history
    lines = [f"session ended after {format_clock(snap.elapsed_s)}; {snap.chunks_stored} chunks stored"]
    for p in snap.people.values():
        rate = p.breath.rate_bpm if p.breath else None
        breaths = p.breath.n_breaths if p.breath else 0
        lines.append(f"  {p.label}: {breaths} breaths, last rate {_num(rate, '.1f', ' /min')}, "
                     f"heart {_num(p.heart.hr_bpm, '.0f', ' bpm')}")
        end = p.data_until_s if math.isfinite(p.data_until_s) else 0.0
        if end < snap.elapsed_s - max(LATE_DATA_S, 0.1 * snap.elapsed_s):
            lines.append(f"    data only up to {format_clock(end)}: the source stopped sending "
                         "or, simulated, could not keep up with --speed (try a lower one)")
    given = [s for s in hist if judged(s)]
    if given:
        above = sum(1 for s in given if above_chance(s))
        mean_plv = sum(locking(s)[0] for s in given) / len(given)
        lines.append(f"  synchrony: mean locking {mean_plv:.2f}; above chance in "
                     f"{above}/{len(given)} windows ({100 * above / len(given):.0f}%)")
    elif hist:
        lines.append("  synchrony: no window had enough clean breathing from both people")
    if snap.markers:
        lines.append(f"  markers: {len(snap.markers)}")
    if snap.processing_errors:
        lines.append(f"  {snap.processing_errors} chunks were stored but could not be analysed "
                     "(run with --debug to see why; the data are in the file)")
    if snap.error:
        lines.append(f"recording stopped early: {snap.error}")
        lines.append(f"what was stored is in {snap.stored_in or path}")
    else:
        lines.append(f"session saved to {path}")
    lines.append(f"  see it with: {_command()} info {path}")
    return lines


def _command() -> str:
    """How this user can call rapport-sync (it may be in a virtual environment not on PATH)."""
    import shutil

    found = shutil.which("rapport-sync")
    here = os.path.join(os.path.dirname(sys.executable), "rapport-sync")
    if found and os.path.realpath(found) == os.path.realpath(here):
        return "rapport-sync"
    return here if os.path.exists(here) else f"{sys.executable} -m rapport_sync"


def run_terminal_view(session: LiveSession, duration_s: float | None = None,
                      title: str = "session", lsl: bool = False,
                      stream: TextIO | None = None) -> int:
    """Show the session until ``duration_s`` of session time or Ctrl-C; then stop it cleanly."""
    out = stream or sys.stdout
    stopping = False

    def interrupt(signum: int, frame: object) -> None:
        """Ctrl-C or SIGTERM: the first ends the session; another while it is being
        stopped hurries the stop, which still stores everything and closes the file."""
        if not stopping:
            raise KeyboardInterrupt
        if not session.hurried:
            print("already stopping: closing the session file without waiting for the "
                  "devices", file=sys.stderr)
        session.hurry()

    previous = ({s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
                if _main_thread() else {})
    try:
        try:
            _show(session, out, duration_s, title, lsl)
        except KeyboardInterrupt:
            stopping = True
            out.write("\nstopping: storing what was recorded...\n")
        finally:
            stopping = True
            session.stop()
        snap = session.snapshot(history=None, span_s=0.0)
        out.write("\n".join(format_summary(snap, str(session.path))) + "\n")
    finally:  # until the summary is out, a Ctrl-C only hurries
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if session.error:
        print(f"rapport-sync: error: {session.error}", file=sys.stderr)
        return 1
    return 0


def _show(session: LiveSession, out: TextIO, duration_s: float | None, title: str,
          lsl: bool) -> None:
    """Draw the session until it is due, fails, or a KeyboardInterrupt comes."""
    tty = out.isatty()
    publisher = None
    drawn = 0
    next_line_s = 0.0
    try:
        if lsl:  # inside the try: if the outlets fail, the session still ends cleanly
            from ..export.lsl_outlets import SessionOutlets
            publisher = SessionOutlets(session)
        while True:
            # a text view needs no traces; LSL outlets need every new sample
            snap = session.snapshot(span_s=None if publisher is not None else 0.0)
            if publisher is not None:
                publisher.update(snap)
            done = session.due(duration_s, snap.elapsed_s)
            if tty:
                lines = fit_to_width(format_status(snap, duration_s, title), _columns(out))
                out.write(("\x1b[F\x1b[K" * drawn) + "\n".join(lines) + "\n")
                drawn = len(lines)
                out.flush()
            elif snap.elapsed_s >= next_line_s or done:
                out.write(" | ".join(format_status(snap, duration_s, title)) + "\n")
                out.flush()
                next_line_s += 10.0
            if done or session.error:
                break
            pause = 0.5 if tty else 0.1
            if duration_s is not None:  # do not overshoot the end at high --speed
                speed = getattr(session.clock, "speed", 1.0)
                remaining = (duration_s - snap.elapsed_s) / speed
                pause = min(pause, max(0.005, remaining)) if remaining > 0 else 0.05
            time.sleep(pause)
    finally:
        if publisher is not None:
            publisher.close()


def fit_to_width(lines: list[str], columns: int) -> list[str]:
    """``lines`` wrapped to rows of at most ``columns`` characters (continuations indented).

    The live block is redrawn by moving the cursor up one row per line drawn; a line the
    terminal wraps by itself takes more rows than that and leaves old copies behind.
    """
    width = max(20, columns - 1)  # a character in the last column wraps on some terminals
    rows: list[str] = []
    for line in lines:
        if len(line) <= width:
            rows.append(line)
        else:
            rows += textwrap.wrap(line, width, subsequent_indent="    ")
    return rows


def _columns(out: TextIO) -> int:
    """The width of the terminal ``out`` writes to (80 when it cannot be told)."""
    try:
        return os.get_terminal_size(out.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 80


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()
