"""Live RSA of a known sinusoidal RSA, through the session pipeline, at several breathing rates.

    python -m benchmarks.rsa_live [--seconds S] [--seeds N]

Person A of a simulated pair (no sighs or pauses, rate CV 0.12) gets heartbeats whose RR
interval swings 80 ms peak to trough as a sine of A's own breathing phase
(:func:`~rapport_sync.dsp.simulate.sinusoidal_rsa_beats`, 70 beats/min). Belt frames of
0.2 s and one heart-rate notification a second go into :class:`DyadPipeline` in the order
they would arrive; the live RSA is read every 5 s from 120 s on. Two rows: the heart
tracker's band centred on the breathing tracker's live rate (what ships), and the fixed
band it falls back to while no rate is known (the rate hand-over switched off).
"""

from __future__ import annotations

import argparse

import numpy as np

from rapport_sync.dsp import ANALYSIS_RATE_HZ
from rapport_sync.dsp.simulate import PersonParams, simulate_dyad, sinusoidal_rsa_beats
from rapport_sync.samples import BreathSamples, HeartBeats, SignalKind
from rapport_sync.session.pipeline import DyadPipeline

from .common import table

RATES_BPM = (4.0, 6.0, 9.0, 12.0, 15.0, 20.0, 30.0)
TRUE_RSA_MS = 80.0


def live_items(rate_bpm: float, seconds: float, seed: int = 1, rsa_ms: float = TRUE_RSA_MS,
               fs: float = ANALYSIS_RATE_HZ) -> list[tuple[float, BreathSamples | HeartBeats]]:
    """(arrival s, item) of a simulated pair whose A breathes at ``rate_bpm`` with a
    sinusoidal RSA of ``rsa_ms`` from A's own breathing phase, in arrival order: belt
    frames of 0.2 s for both, A's beats in one notification a second."""
    calm = PersonParams(rate_bpm=rate_bpm, sigh_every_breaths=1e9, pause_every_breaths=1e9)
    rec = simulate_dyad(seconds, fs, seed=seed, a=calm)
    t = rec.time_s
    beat_t, beat_rr = sinusoidal_rsa_beats(t, rec.a.cycle_phase, rsa_ms)
    frame = int(0.2 * fs)
    items: list[tuple[float, BreathSamples | HeartBeats]] = []
    for i in range(0, len(t), frame):
        for p, block in (("a", rec.a), ("b", rec.b)):
            items.append((float(t[i:i + frame][-1]) + 0.01, BreathSamples(
                p, SignalKind.BELT, t[i:i + frame], block.belt[i:i + frame].astype(float), fs)))
    for k in np.arange(1.0, seconds + 1.0):
        sel = (beat_t > k - 1) & (beat_t <= k)
        if sel.any():
            items.append((float(k) + 0.02, HeartBeats("a", beat_t[sel], beat_rr[sel])))
    items.sort(key=lambda pair: pair[0])
    return items


def live_rsa(items: list[tuple[float, BreathSamples | HeartBeats]], batch_s: float = 0.0,
             since_s: float = 120.0, follow_rate: bool = True) -> tuple[list[float], DyadPipeline]:
    """A's live RSA (ms) each time it changes after ``since_s`` of arrival time, and the
    pipeline; ``follow_rate=False`` keeps the heart tracker on its fixed band."""
    pipe = DyadPipeline(window_s=60.0, batch_s=batch_s)
    if not follow_rate:
        pipe.people["a"].heart.set_breath_hz = lambda time_s, breath_hz: None  # type: ignore[method-assign]
    readings: list[float] = []
    for arrival, item in items:
        pipe.feed(item)
        rsa = pipe.people["a"].heart.state.rsa_ms
        if arrival >= since_s and (not readings or rsa != readings[-1]):
            readings.append(rsa)
    pipe.flush()
    return readings, pipe


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=400.0)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    rows: list[list[object]] = []
    for follow in (True, False):
        for rate in RATES_BPM:
            got = np.concatenate([live_rsa(live_items(rate, args.seconds, seed), follow_rate=follow)[0]
                                  for seed in range(1, args.seeds + 1)])
            rows.append(["live rate" if follow else "fixed band", rate, len(got),
                         float(np.median(got)), float(np.percentile(got, 5)),
                         float(np.percentile(got, 95))])
    print(f"Live RSA of a {TRUE_RSA_MS:.0f}-ms sinusoidal RSA (ms), windows from 120 s on, "
          f"{args.seeds} x {args.seconds:.0f} s")
    print(table(["band", "breaths/min", "windows", "median", "p5", "p95"], rows))


if __name__ == "__main__":
    main()
