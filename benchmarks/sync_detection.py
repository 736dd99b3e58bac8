"""Synchrony detection: false positives on independent pairs, lag and leader on coupled ones.

    python -m benchmarks.sync_detection [--surrogates N]

* Live chance band (what the monitor shows): the fraction of 60-s windows (after 90 s)
  whose best-lag locking is above ``chance_lag_plv95``, on independent simulated pairs and
  real-belt pseudo-dyads (the recording against itself shifted by >= 60 s, with a history
  too short to reach the copy, so only the Rayleigh floor; nominal 5 %),
  the same for the Rayleigh floor alone (checks the floor and its lag count), the
  detection rate on coupled pairs, and the cost of one dyad update with a full history.

* Windows' breathing rates: from the inhalation onsets the trackers find (as a session
  gives them to the dyad tracker) and from the phase's advance, against the simulator's
  own cycles per window, in windows with and without a breath hold.

* Who leads, live: simulated pairs whose B follows A by 1, 1.5, 1.8 and 2 s (about 15
  breaths/min, so up to half a breath), at two rate variabilities: the best lag in
  breaths, how often the scan's leader is B, and how often the monitor's reading
  (:func:`~rapport_sync.dsp.sync.lead`) names A, names B, or says it cannot tell.

* Null (real): the real belt recording paired with itself shifted by 60-180 s
  (circularly), so the two "people" breathe independently. Simulated null: independent
  simulated pairs, several seeds. The rate of ``significant`` should stay near alpha.
* Coupled (real): the recording paired with a copy delayed by a known lag plus noise
  (A leads for positive lags); lag and leader must be recovered.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable

import numpy as np

from rapport_sync.analysis import ALPHA, analyze_arrays
from rapport_sync.dsp import ANALYSIS_RATE_HZ
from rapport_sync.dsp.breathing import BreathTracker, track_breathing
from rapport_sync.dsp.chance_band import lag_count, rayleigh_p95
from rapport_sync.dsp.simulate import CouplingScript, PersonParams, simulate_dyad
from rapport_sync.dsp.sync import DyadTracker, SyncState, judged, lead, sync_series
from rapport_sync.ui.readout import above_chance

from .common import real_belt, table

FS = ANALYSIS_RATE_HZ


def _live_states(a: np.ndarray, b: np.ndarray, history_s: float = 600.0) -> list[SyncState]:
    """Live synchrony states after 90 s for two belts on the analysis grid."""
    oa, _, _ = track_breathing(a, FS)
    ob, _, _ = track_breathing(b, FS)
    return [s for s in sync_series(oa.phase, ob.phase, oa.signal, ob.signal, FS,
                                   history_s=history_s) if s.time_s > 90]


def _rates(groups: list[list[SyncState]]) -> list[object]:
    """Windows, fraction above the band (pooled, and range over pairs), floor-alone rates."""
    per = [np.mean([above_chance(s) for s in g]) for g in groups]
    pooled = [s for g in groups for s in g if np.isfinite(s.plv)]
    floor0 = np.mean([s.plv > rayleigh_p95(s.n_breaths) for s in pooled])
    floor_lag = np.mean([s.lag_plv > rayleigh_p95(s.n_breaths, lag_count(
        min(3.0, 0.45 * 120 / (s.rate_a_bpm + s.rate_b_bpm)), (s.rate_a_bpm + s.rate_b_bpm) / 120))
        for s in pooled])
    return [sum(map(len, groups)), float(np.mean([above_chance(s) for g in groups for s in g])),
            f"{min(per):.2f}-{max(per):.2f}", float(floor0), float(floor_lag),
            float(np.nanmedian([s.chance_lag_plv95 for g in groups for s in g]))]


def live_band(belt: np.ndarray | None) -> None:
    """False positives and detection of the live chance band; cost of a dyad update."""
    rows = []
    null = []
    for seed in range(10):
        rec = simulate_dyad(600, FS, seed=300 + seed, script=CouplingScript.constant(0.0))
        null.append(_live_states(rec.a.belt, rec.b.belt))
    rows.append(["simulated independent, 10 x 600 s", *_rates(null)])
    if belt is not None:
        # B is A rolled by d: the partner's history holds the other's present at shifts d
        # and T - d, so the library must stop short of both (here: it stays the floor)
        span = len(belt) / FS
        real = [_live_states(belt, np.roll(belt, int(d * FS)), min(d, span - d) - 5.0)
                for d in range(60, 181, 20)]
        label = f"real belt vs itself shifted 60..180 s, {len(real)} x {len(belt) / FS:.0f} s"
        rows.append([label, *_rates(real)])
    coupled = []
    for seed in range(5):
        rec = simulate_dyad(600, FS, seed=400 + seed, script=CouplingScript.constant(1.0, 1.5))
        coupled.append(_live_states(rec.a.belt, rec.b.belt))
    rows.append(["simulated coupled (A leads 1.5 s), 5 x 600 s", *_rates(coupled)])
    if belt is not None:
        d = round(1.5 * FS)
        noise = np.random.default_rng(0).normal(0, 0.05 * belt.std(), len(belt))
        rows.append(["real belt + its copy 1.5 s later (5 % noise)",
                     *_rates([_live_states(belt, np.r_[np.full(d, belt[0]), belt[:-d]] + noise)])])
    print("Live chance band: windows above it (best-lag locking > chance_lag_plv95, after 90 s)")
    print(table(["pairs", "windows", "above band", "range over pairs", "PLV > floor",
                 "lag PLV > lag floor", "median band"], rows))
    rec = simulate_dyad(900, FS, seed=1, script=CouplingScript.constant(0.0))
    oa, _, _ = track_breathing(rec.a.belt, FS)
    ob, _, _ = track_breathing(rec.b.belt, FS)
    dy, warm, hop = DyadTracker(FS), int(700 * FS), int(FS)
    dy.update(oa.phase[:warm], ob.phase[:warm], oa.signal[:warm], ob.signal[:warm])
    t0 = time.process_time()
    for i in range(warm, len(oa.phase), hop):
        dy.update(oa.phase[i:i + hop], ob.phase[i:i + hop], oa.signal[i:i + hop],
                  ob.signal[i:i + hop])
    per_update = (time.process_time() - t0) / ((len(oa.phase) - warm) // hop)
    print(f"DyadTracker with a full 10-min history: {per_update * 1e6:.0f} us CPU per update "
          "(one update per second of session)")
    print()


def window_rate_errors(seeds: Iterable[int], seconds: float = 600.0
                       ) -> dict[tuple[str, bool], list[float]]:
    """Windows' breathing rates minus the simulator's cycles per window (breaths/min), by
    ``(how, window holds a breath hold)``: ``how`` is ``"onsets"`` (the trackers' onsets
    given to the dyad tracker as found, as a session does) or ``"phase advance"`` (none
    given)."""
    errors: dict[tuple[str, bool], list[float]] = {}
    window_s = 60.0
    for seed in seeds:
        rec = simulate_dyad(seconds, FS, seed=seed)
        live = []
        for x in (rec.a, rec.b):  # the onsets carry when they were found: chunking is moot
            tr = BreathTracker(FS)
            live.append((tr.update(x.belt.astype(float)), tr.take_onsets()))
        (oa, onsets_a), (ob, onsets_b) = live
        args = (oa.phase, ob.phase, oa.signal, ob.signal, FS, window_s)
        by_how = {"onsets": sync_series(*args, onsets={"a": onsets_a, "b": onsets_b}),
                  "phase advance": sync_series(*args)}
        span = int(window_s * FS)
        for how, states in by_how.items():
            for s in states:
                end = int(round(s.time_s * FS))
                for x, rate in ((rec.a, s.rate_a_bpm), (rec.b, s.rate_b_bpm)):
                    cycles = np.unwrap(x.cycle_phase[end - span:end])
                    truth = (cycles[-1] - cycles[0]) / (2 * np.pi) * 60.0 / window_s
                    errors.setdefault((how, bool(x.paused[end - span:end].any())), []).append(
                        rate - truth)
    return errors


def window_rates() -> None:
    errors = window_rate_errors(range(6))
    rows = []
    for (how, pause), e in sorted(errors.items()):
        a = np.abs(e)
        rows.append([how, "yes" if pause else "no", len(e), float(np.median(e)),
                     float(np.median(a)), float(np.percentile(a, 90)), float(np.mean(a > 1.0))])
    print("Windows' breathing rates vs the simulator's cycles per 60-s window "
          "(6 simulated 10-min dyads, breaths/min)")
    print(table(["rate from", "breath hold in window", "windows", "median error",
                 "median |error|", "p90 |error|", "share > 1/min"], rows))
    print()


def live_lead(seeds: int = 6, seconds: float = 420.0) -> None:
    """Who leads, as the monitor says it (:func:`~rapport_sync.dsp.sync.lead`), on simulated
    pairs whose B follows A by a known lag: the measured lag in breaths, how often the
    scan's own leader is wrong, and how often the monitor names A or says it cannot tell."""
    rows: list[list[object]] = []
    for cv in (0.12, 0.03):
        a, b = PersonParams(rate_cv=cv), PersonParams(rate_bpm=12.5, inhale_fraction=0.43,
                                                      rate_cv=cv)
        for lag in (1.0, 1.5, 1.8, 2.0):
            states = []
            for seed in range(1, seeds + 1):
                rec = simulate_dyad(seconds, FS, seed=seed, a=a, b=b,
                                    script=CouplingScript.constant(1.0, lag))
                states += [s for s in _live_states(rec.a.belt, rec.b.belt)
                           if judged(s) and above_chance(s)]
            ratio = [abs(s.lag_s) / s.cycle_s for s in states]
            read = [lead(s) for s in states]
            rows.append([cv, lag, len(states), float(np.median(ratio)),
                         f"{np.percentile(ratio, 5):.2f}-{np.percentile(ratio, 95):.2f}",
                         float(np.mean([s.leader == "b" for s in states])),
                         float(np.mean([r.shown == "a" for r in read])),
                         float(np.mean([r.shown == "b" for r in read])),
                         float(np.mean([r.half_breath for r in read]))])
    print(f"Who leads, live (B follows A; {seeds} x {seconds:.0f} s per row, locked windows "
          "after 90 s)")
    print(table(["rate CV", "B follows by s", "windows", "|lag|/breath", "5-95 %",
                 "scan names B", "A named", "B named", "can't tell"], rows))
    print()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--surrogates", type=int, default=100)
    args = ap.parse_args(argv)
    n = args.surrogates
    belt = real_belt()
    live_band(belt)
    window_rates()
    live_lead()
    rows = []
    if belt is not None:
        t = np.arange(len(belt)) / FS
        sig = []
        for shift_s in range(60, 181, 10):
            r = analyze_arrays(t, belt, np.roll(belt, int(shift_s * FS)), n_surrogates=n,
                               seed=shift_s)
            sig.append(r["significant"])
        rows.append(["real belt, self shifted 60..180 s", len(sig), float(np.mean(sig))])
    sig = []
    by_type: dict[str, list[float]] = {}
    for seed in range(20):
        rec = simulate_dyad(300, FS, seed=100 + seed, script=CouplingScript.constant(0.0))
        r = analyze_arrays(rec.time_s, rec.a.belt, rec.b.belt, n_surrogates=n, seed=seed)
        sig.append(r["significant"])
        for kind, result in r["surrogates"].items():
            by_type.setdefault(kind, []).append(result["p"])
    rows.append(["simulated independent pairs, 300 s", len(sig), float(np.mean(sig))])
    print(f"False positives (alpha = {ALPHA}, circular-shift surrogates, {n} each)")
    print(table(["null pairs", "n", "fraction significant"], rows))
    print("\nThe same simulated pairs, each surrogate type's own test (the verdict uses "
          "circular_shift)")
    print(table(["surrogate type", "pairs", f"fraction p < {ALPHA}", "mean p"],
                [[kind, len(ps), float(np.mean(np.array(ps) < ALPHA)), float(np.mean(ps))]
                 for kind, ps in by_type.items()]))
    if belt is None:
        return
    rows = []
    rng = np.random.default_rng(0)
    t = np.arange(len(belt)) / FS
    for lag in (-2.5, -1.5, -0.5, 0.5, 1.5, 2.5):
        d = round(abs(lag) * FS)
        delayed = np.r_[np.full(d, belt[0]), belt[:-d]] + rng.normal(0, 0.05 * belt.std(),
                                                                      len(belt))
        a, b = (belt, delayed) if lag > 0 else (delayed, belt)
        r = analyze_arrays(t, a, b, n_surrogates=n, seed=1)
        truth = "a" if lag > 0 else "b"
        rows.append([lag, r["lag_s"], r["leader"], "yes" if r["leader"] == truth else "NO",
                     r["plv"], r["lag_plv"], r["significant"]])
    print()
    print("Coupled pseudo-dyads from the real belt (delayed copy + 5 % noise)")
    print(table(["true lag s", "found lag s", "leader", "right", "PLV", "lag PLV",
                 "significant"], rows))


if __name__ == "__main__":
    main()
