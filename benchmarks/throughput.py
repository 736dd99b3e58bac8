"""Throughput of the live pipeline on one core, at the chunk sizes a session delivers.

    python -m benchmarks.throughput

1. One person's :class:`BreathTracker` (per-sample chain + 1-s control), fed in chunks of
   1 grid sample, 2-3 (a belt frame at 10 frames/s on the 25 Hz grid), 5, 18 (a Polar
   H10 accelerometer notification, 3 axes), 25 (1 s) and 250.
2. The DSP of one dyad: two trackers and a :class:`DyadTracker` (60-s window, metrics
   and chance band every 1 s), with the dyad tracker's share.
3. The whole session path: belt-protocol bytes of a two-belt board (50 Hz, 10 frames/s)
   through :class:`BeltDecoder` and :class:`DyadPipeline`, split into decoding,
   per-person DSP, the dyad tracker and the rest of the pipeline (grid resampling,
   buffers); fed chunk by chunk as a live session does, and in the 1-s blocks of a
   replay (the same numbers, fewer calls).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import numpy as np

from rapport_sync.dsp import ANALYSIS_RATE_HZ
from rapport_sync.dsp.breathing import BreathTracker
from rapport_sync.dsp.simulate import chest_acceleration_mg, simulate_dyad
from rapport_sync.dsp.sync import DyadTracker
from rapport_sync.session.replay import REPLAY_BATCH_S

from .common import table

FS = ANALYSIS_RATE_HZ
SECONDS = 600.0


def chunks(n: int, size: float) -> Iterator[slice]:
    """Slices of ``n`` samples, ``size`` samples each on average (2.5 = 2, 3, 2, 3 ...)."""
    edges = np.round(np.arange(0.0, n + size, size)).astype(int)
    for lo, hi in pairwise(edges):
        if lo < n:
            yield slice(lo, min(hi, n))


def per_person(rows: list[list[object]], x: np.ndarray, kind: str, size: float,
               label: str) -> None:
    tr = BreathTracker(FS, kind)
    parts = [x[s] for s in chunks(len(x), size)]
    t0 = time.perf_counter()
    for part in parts:
        tr.update(part)
    dt = time.perf_counter() - t0
    rows.append([label, SECONDS / dt, dt / len(parts) * 1e6, dt / SECONDS * 1e6])


def dyad(rows: list[list[object]], xa: np.ndarray, xb: np.ndarray, size: float) -> None:
    ta, tb, dy = BreathTracker(FS), BreathTracker(FS), DyadTracker(FS)
    spent_dyad = 0.0
    calls = 0
    t0 = time.perf_counter()
    for s in chunks(len(xa), size):
        oa, ob = ta.update(xa[s]), tb.update(xb[s])
        t1 = time.perf_counter()
        dy.update(oa.phase, ob.phase, oa.signal, ob.signal)
        spent_dyad += time.perf_counter() - t1
        calls += 1
    dt = time.perf_counter() - t0
    rows.append([f"{size:g}", SECONDS / dt, dt / calls * 1e6, dt / SECONDS * 1e3,
                 spent_dyad / SECONDS * 1e3])


def timed(owner: Any, name: str, spent: dict[str, float], key: str) -> Callable[[], None]:
    """Wrap ``owner.name`` so its time adds to ``spent[key]``; returns the undo."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - t0

    setattr(owner, name, wrapper)
    return lambda: setattr(owner, name, original)


def session_path(batch_s: float) -> list[object]:
    from rapport_sync.samples import Chunk, PayloadKind
    from rapport_sync.session.belt_decoder import BeltDecoder
    from rapport_sync.session.pipeline import DyadPipeline
    from rapport_sync.sources.base import DeviceInfo
    from rapport_sync.sources.sim import VirtualBeltBoard

    board = VirtualBeltBoard(seed=1)
    start_ns = 10**12
    payloads = []
    while True:  # the bytes the board sends, stamped 5 ms after each frame
        board_s, data = board.next_frame_bytes()
        session_s = board.session_time_s(board_s)
        if session_s > SECONDS:
            break
        payloads.append(Chunk("sim-belt", start_ns + int((session_s + 0.005) * 1e9),
                              PayloadKind.BELT, data))
    decoder = BeltDecoder(DeviceInfo("sim-belt", "belt", {0: "a", 1: "b"}), start_ns)
    pipe = DyadPipeline(batch_s=batch_s)
    spent = {"decode": 0.0, "trackers": 0.0, "dyad": 0.0, "heart": 0.0}
    undo = [timed(BreathTracker, "update", spent, "trackers"),
            timed(DyadTracker, "update", spent, "dyad"),
            timed(pipe.people["a"].heart, "update", spent, "heart"),
            timed(pipe.people["b"].heart, "update", spent, "heart")]
    try:
        t0 = time.perf_counter()
        for chunk in payloads:
            t1 = time.perf_counter()
            items = decoder.feed(chunk)
            spent["decode"] += time.perf_counter() - t1
            for item in items:
                pipe.feed(item)
        pipe.flush()
        dt = time.perf_counter() - t0
    finally:
        for u in undo:
            u()
    rest = dt - sum(spent.values())
    ms = [v / SECONDS * 1e3 for v in (spent["decode"], spent["trackers"], spent["heart"],
                                      spent["dyad"], rest)]
    how = f"replay: {batch_s:g}-s blocks" if batch_s else "live: chunk by chunk"
    return [how, len(payloads) / SECONDS, SECONDS / dt, dt / len(payloads) * 1e6, *ms]


def main() -> None:
    rec = simulate_dyad(SECONDS, FS, seed=1)
    xa, xb = rec.a.belt.astype(float), rec.b.belt.astype(float)
    acc = chest_acceleration_mg(rec.a.resp, np.random.default_rng(1))
    rows: list[list[object]] = []
    for size in (1, 2.5, 5, 25, 250):
        per_person(rows, xa, "belt", size, f"belt, {size:g} samples")
    for size in (18, 25):
        per_person(rows, acc, "acc", size, f"acc (3 axes), {size:g} samples")
    print(f"1. One person's BreathTracker, {SECONDS:.0f} s at {FS:.0f} Hz, one core")
    print(table(["input, chunk", "x real time", "us per call", "us CPU per s of data"], rows))
    rows = []
    for size in (1, 2.5, 5, 18, 25, 250):
        dyad(rows, xa, xb, size)
    print("\n2. DSP of one dyad: two trackers + DyadTracker (each call = both people)")
    print(table(["chunk (samples)", "x real time", "us per dyad update",
                 "ms CPU per s of data", "of which DyadTracker"], rows))
    print("\n3. Whole session path: belt bytes (50 Hz, 10 frames/s) -> BeltDecoder -> "
          "DyadPipeline; ms CPU per s of data")
    print(table(["pipeline fed", "chunks/s", "x real time", "us per chunk", "decode",
                 "breath trackers", "heart", "DyadTracker", "pipeline rest"],
                [session_path(0.0), session_path(REPLAY_BATCH_S)]))


if __name__ == "__main__":
    main()
