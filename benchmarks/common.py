"""Shared pieces of the benchmarks: real data lookup, grid resampling, table printing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rapport_sync.dsp import ANALYSIS_RATE_HZ

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RAPPORT_SYNC_DATA", ROOT.parent / "shared" / "data"))
TRUE_SPEED = 2.0
"""The real files' time axis runs at half the recording's speed. Their source, pyphysio's
test recording, is 2048 Hz by pyphysio's own loader, not the 1024 Hz the files were made
with: at the files' times the ECG gives a seated adult a heart rate of 35 bpm and a PR
interval of 0.35 s, at twice the speed 69 bpm and 0.17 s. ``speed=TRUE_SPEED`` gives the
recording at its own speed (120 s); the files' speed (240 s of slow breathing) stays a
valid breathing signal, and is what the tests use."""


def real_belt(fs: float = ANALYSIS_RATE_HZ, speed: float = 1.0) -> np.ndarray | None:
    """The real belt recording on the analysis grid, played ``speed`` times as fast as the
    file's time axis, or None (with a note) if absent."""
    path = DATA / "real_belt_64hz.csv"
    if not path.exists():
        print(f"(real belt data not found in {DATA}; set RAPPORT_SYNC_DATA)")
        return None
    d = np.loadtxt(path, delimiter=",", skiprows=1)
    t = d[:, 0] / speed
    grid = np.arange(t[0], t[-1], 1.0 / fs)
    return np.interp(grid, t, d[:, 1])


def real_beats(speed: float = 1.0) -> np.ndarray | None:
    """R-peak times (s) of the real ECG recorded with the belt, on the file's time axis
    played ``speed`` times as fast, or None if absent.

    A plain detector that fits this clean recording (R waves ~1 mV, everything else below
    a third of that): local maxima above half the 99.5th percentile, at least 0.4 s
    apart. Straps send RR intervals themselves; this only gives the benchmark real RR."""
    path = DATA / "real_ecg_128hz.csv"
    if not path.exists():
        print(f"(real ECG data not found in {DATA}; set RAPPORT_SYNC_DATA)")
        return None
    from scipy import signal as sps

    d = np.loadtxt(path, delimiter=",", skiprows=1)
    fs = 1.0 / float(np.median(np.diff(d[:, 0])))
    peaks, _ = sps.find_peaks(d[:, 1], height=0.5 * np.percentile(d[:, 1], 99.5),
                              distance=int(0.4 * fs))
    return d[peaks, 0] / speed


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain-text table (floats with 2 decimals, or 1 when >= 10)."""
    def cell(v: object) -> str:
        if isinstance(v, float | np.floating):
            return "n/a" if not np.isfinite(v) else (f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}")
        return str(v)
    cells = [headers] + [[cell(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
