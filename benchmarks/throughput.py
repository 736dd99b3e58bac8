"""Throughput of the live pipeline for one dyad on one core.

    python -m benchmarks.throughput

Two BreathTrackers and a DyadTracker (60-s window, metrics and chance band every 1 s)
run on 600 s of simulated belts, fed in chunks of the sizes a session delivers.
"""

from __future__ import annotations

import time

from rapport_sync.dsp import ANALYSIS_RATE_HZ
from rapport_sync.dsp.breathing import BreathTracker
from rapport_sync.dsp.simulate import simulate_dyad
from rapport_sync.dsp.sync import DyadTracker

from .common import table

FS = ANALYSIS_RATE_HZ


def main() -> None:
    seconds = 600.0
    rec = simulate_dyad(seconds, FS, seed=1)
    xa, xb = rec.a.belt.astype(float), rec.b.belt.astype(float)
    rows = []
    for chunk in (1, 2, 5, 12, 25, 250):
        ta, tb, dy = BreathTracker(FS), BreathTracker(FS), DyadTracker(FS)
        calls = 0
        t0 = time.perf_counter()
        for i in range(0, len(xa), chunk):
            oa, ob = ta.update(xa[i:i + chunk]), tb.update(xb[i:i + chunk])
            dy.update(oa.phase, ob.phase, oa.signal, ob.signal)
            calls += 1
        dt = time.perf_counter() - t0
        rows.append([chunk, f"{chunk / FS * 1000:.0f} ms", seconds / dt, dt / calls * 1e6,
                     dt / seconds * 1e3])
    print(f"Live pipeline, one dyad, {seconds:.0f} s of data at {FS:.0f} Hz, one core")
    print(table(["chunk (samples)", "chunk span", "x real time", "us per dyad update",
                 "ms CPU per s of data"], rows))


if __name__ == "__main__":
    main()
