"""Causal phase accuracy vs the offline reference, next to published alternatives.

    python -m benchmarks.phase_accuracy [--quick]

Methods (all causal, fed sample by sample or in short windows, no look-ahead):

* ``rapport_sync``: :class:`BreathTracker`: the causal filter it learns from the person's
  own past (:class:`~rapport_sync.dsp.phase.PhaseFilter`) where that agrees with its
  band-pass, the band-pass otherwise (rate-centred first-order band-pass and low-pass, as
  wide as the input's noise allows, + quadrature + the learned correction c(phi)), gated
  where it reports invalid;
* ``rapport_sync, band-pass + c(phi) only``: the same without the learned filter;
* ``rapport_sync, no calibration``: the band-pass without anything learned;
* ``BPF 0.1-0.6 + quadrature``: fixed causal Butterworth band-pass, derivative quadrature
  (the ~15 deg baseline of the reference notes);
* ``ecHT``: endpoint-corrected Hilbert transform (Schreglmann et al. 2021), 20-s window,
  causal 2nd-order band-pass f0/2...2 f0 applied in the frequency domain, recomputed
  every sample; f0 from a causal 32-s periodogram updated every second;
* ``AR + Hilbert``: phastimate-like (Zrenner et al. 2018/2020): 20-s window, zero-phase
  band-pass, 2 s edge dropped, Yule-Walker AR(25) forward prediction, Hilbert on the
  stitched series, phase at "now"; updated every 0.2 s and extrapolated with f0 between.

For scale, two rows that are not estimators: the best causal FIR over the last 20 s,
fitted by least squares on the very recording it is scored on (an optimistic bound for
every linear time-invariant causal method: band-passes, quadratures, Hilbert on a
window, a learned filter), and the offline reference itself computed on the recording
up to 2 s and 5 s after "now" (once per second, not causal): how much of the reference
at a moment is decided by breathing that has not happened yet.

The real belt is scored twice: at its files' time axis (240 s) and at the recording's own
speed, twice as fast (120 s; see :data:`benchmarks.common.TRUE_SPEED`).

All methods are scored on the same samples: after 60 s, where rapport_sync's phase is
valid (breath holds, warm-up and bad quality excluded; the share scored is printed),
against two offline references of the whole recording, identical for every method:

* ``fixed``: zero-phase 0.05-0.8 Hz Butterworth + Hilbert (the documented reference);
* ``adaptive``: zero-phase Butterworth 0.6-1.6 x f_peak + Hilbert, f_peak the Welch
  peak (120-s segments) of the whole recording within 4-40 breaths/min (the adaptive
  band of the synchrony literature).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import linalg
from scipy import signal as sps

from rapport_sync.dsp import ANALYSIS_RATE_HZ
from rapport_sync.dsp.breathing import BreathTracker, EventKind
from rapport_sync.dsp.filters import BREATH_RATE_LIMITS_HZ, band_sos, dominant_frequency
from rapport_sync.dsp.phase import REFERENCE_BAND_HZ, phase_error_deg, reference_phase
from rapport_sync.dsp.simulate import CouplingScript, PersonParams, simulate_dyad

from .common import TRUE_SPEED, real_beats, real_belt, table

FS = ANALYSIS_RATE_HZ
NAN = float("nan")


def ours(x: np.ndarray, calibrate: bool = True, learn_filter: bool = True) -> np.ndarray:
    tr = BreathTracker(FS, calibrate=calibrate, learn_filter=learn_filter)
    return np.concatenate([tr.update(x[i:i + 5]).phase for i in range(0, len(x), 5)])


def bpf_quadrature(x: np.ndarray, lo: float = 0.1, hi: float = 0.6) -> np.ndarray:
    sos = band_sos(lo, hi, FS)
    y, _ = sps.sosfilt(sos, x, zi=sps.sosfilt_zi(sos) * x[0])
    prev = np.r_[y[0], y[:-1]]
    w = 2 * np.pi * np.sqrt(lo * hi)
    return np.angle(0.5 * (y + prev) - 1j * (y - prev) * FS / w) + w / (2 * FS)


def causal_f0(x: np.ndarray, window_s: float = 32.0) -> np.ndarray:
    """f0 known at each sample from the periodogram of the past ``window_s`` (every 1 s)."""
    f0 = np.full(len(x), 0.25)
    hop, w = int(FS), int(window_s * FS)
    cur = 0.25
    for i in range(0, len(x), hop):
        if i >= 10 * FS:
            f, _ = dominant_frequency(x[max(0, i - w):i] - np.mean(x[max(0, i - w):i]), FS)
            cur = f if np.isfinite(f) else cur
        f0[i:i + hop] = cur
    return f0


def echt(x: np.ndarray, f0: np.ndarray, window_s: float = 20.0) -> np.ndarray:
    n = int(window_s * FS)
    out = np.full(len(x), np.nan)
    freqs = np.fft.fftfreq(n, 1 / FS)
    h_cache: dict[float, np.ndarray] = {}
    analytic = np.zeros(n)
    analytic[0] = 1
    analytic[1:(n + 1) // 2] = 2
    if n % 2 == 0:
        analytic[n // 2] = 1
    for i in range(n, len(x) + 1):
        fc = round(float(f0[i - 1]), 3)
        if fc not in h_cache:
            sos = band_sos(fc / 2, fc * 2, FS)
            h_cache[fc] = sps.sosfreqz(sos, worN=np.abs(freqs), fs=FS)[1]
            h_cache[fc] = np.where(freqs >= 0, h_cache[fc], 0)
        seg = x[i - n:i] - x[i - n:i].mean()
        z = np.fft.ifft(np.fft.fft(seg) * analytic * h_cache[fc])
        out[i - 1] = np.angle(z[-1])
    return out


def ar_hilbert(x: np.ndarray, f0: np.ndarray, order: int = 25, window_s: float = 20.0,
               edge_s: float = 2.0, every: int = 5) -> np.ndarray:
    n, edge, hw = int(window_s * FS), int(edge_s * FS), int(6.4 * FS)
    sos = band_sos(0.1, 0.6, FS)
    out = np.full(len(x), np.nan)
    for i in range(n, len(x) + 1, every):
        y = sps.sosfiltfilt(sos, x[i - n:i] - x[i - n:i].mean())[:-edge]
        r = np.correlate(y, y, "full")[len(y) - 1:len(y) + order] / len(y)
        a = linalg.solve_toeplitz(r[:order], r[1:order + 1])
        ext = list(y[-order:])
        for _ in range(edge + hw // 2):
            ext.append(float(np.dot(a, ext[-1:-order - 1:-1])))
        stitched = np.r_[y, ext[order:]]
        ph = np.angle(sps.hilbert(stitched[-hw:]))
        phase_now = ph[hw - hw // 2 - 1]  # "now" sits half a Hilbert window before the end
        w = 2 * np.pi * f0[i - 1] / FS
        k = np.arange(min(every, len(x) - i + 1))
        out[i - 1:i - 1 + len(k)] = np.angle(np.exp(1j * (phase_now + w * k)))
    return out


def best_causal_fir(x: np.ndarray, past_s: float = 20.0) -> np.ndarray:
    """An oracle bound for linear causal estimators: the FIR over the last ``past_s`` (taps
    every 2nd sample) whose output best matches the reference's analytic signal, fitted by
    least squares on the whole recording it is then scored on (knowing the answer)."""
    y = sps.sosfiltfilt(band_sos(*REFERENCE_BAND_HZ, FS), x - x.mean())
    target = sps.hilbert(y)
    taps = np.arange(-int(past_s * FS) + 1, 1, 2)
    t = np.arange(-taps[0], len(x))
    design = np.column_stack((x[t[:, None] + taps[None, :]] - x.mean(), np.ones(len(t))))
    coef = linalg.lstsq(design, target[t])[0]
    out = np.full(len(x), np.nan)
    out[t] = np.angle(design @ coef)
    return out


def reference_knowing(x: np.ndarray, future_s: float, every_s: float = 1.0) -> np.ndarray:
    """The fixed reference at each whole second, computed on the data up to ``future_s``
    after it (NaN elsewhere)."""
    out = np.full(len(x), np.nan)
    ahead = int(future_s * FS)
    for i in range(int(60 * FS), len(x), int(every_s * FS)):
        out[i] = reference_phase(x[:i + ahead + 1], FS)[i]
    return out


METHODS = ("rapport_sync", "rapport_sync, band-pass + c(phi) only",
           "rapport_sync, no calibration", "BPF 0.1-0.6 + quadrature",
           "ecHT (f0/2..2f0)", "AR(25) + Hilbert", "(oracle) best causal FIR, fitted in-sample",
           "(not causal) reference, 2 s ahead", "(not causal) reference, 5 s ahead")


def adaptive_band(x: np.ndarray) -> tuple[float, float]:
    """0.6-1.6 x the whole recording's Welch peak within 4-40 breaths/min."""
    f, p = sps.welch(x - np.mean(x), FS, nperseg=min(len(x), int(120 * FS)))
    lo, hi = BREATH_RATE_LIMITS_HZ
    band = (f >= lo) & (f <= hi)
    f_peak = float(f[band][np.argmax(p[band])])
    return 0.6 * f_peak, 1.6 * f_peak


REFERENCES = ("fixed", "adaptive")


def score(x: np.ndarray) -> dict[tuple[str, str], tuple[float, float, float, float]]:
    refs = {"fixed": reference_phase(x, FS), "adaptive": reference_phase(x, FS, adaptive_band(x))}
    t0 = time.perf_counter()
    mine = ours(x)
    cost = (time.perf_counter() - t0) / len(x) * 1e6
    mask = np.isfinite(mine)
    mask[: int(60 * FS)] = False
    f0 = causal_f0(x)
    scored = float(mask[int(60 * FS):].mean())
    res: dict[tuple[str, str], tuple[float, float, float, float]] = {}
    for name, fn in ((METHODS[0], lambda: mine), (METHODS[1], lambda: ours(x, True, False)),
                     (METHODS[2], lambda: ours(x, False)),
                     (METHODS[3], lambda: bpf_quadrature(x)), (METHODS[4], lambda: echt(x, f0)),
                     (METHODS[5], lambda: ar_hilbert(x, f0)),
                     (METHODS[6], lambda: best_causal_fir(x)),
                     (METHODS[7], lambda: reference_knowing(x, 2.0)),
                     (METHODS[8], lambda: reference_knowing(x, 5.0))):
        t0 = time.perf_counter()
        est = fn()
        c = cost if name == METHODS[0] else (time.perf_counter() - t0) / len(x) * 1e6
        for ref_name, ref in refs.items():
            e = phase_error_deg(np.where(mask, est, np.nan), ref)
            res[(ref_name, name)] = (e["median"], e["p95"], c, scored)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="300 s, one seed")
    args = ap.parse_args(argv)
    seconds, seeds = (300.0, (1,)) if args.quick else (600.0, (1, 2, 3))
    conditions: list[tuple[str, list[np.ndarray]]] = []
    alone = CouplingScript.constant(0.0)
    for label, noise, script, rate_cv in (
            ("sim clean (noise 0.01)", 0.01, alone, 0.12),
            ("sim typical (noise 0.03)", 0.03, alone, 0.12),
            ("sim noisy (noise 0.1)", 0.1, alone, 0.12),
            ("sim very noisy (noise 0.3)", 0.3, alone, 0.12),
            ("sim irregular (rate CV 0.35, 10/min)", 0.03, alone, 0.35),
            ("sim default script (coupled 2-7 min)", 0.03, None, 0.12)):
        xs = []
        slow = rate_cv > 0.2  # the irregular breathers are slow too, like the real belt
        for seed in seeds:
            kw = {} if script is None else {"script": script}
            rec = simulate_dyad(seconds, FS, seed=seed,
                                a=PersonParams(rate_bpm=10.0 if slow else 15.0, rate_cv=rate_cv,
                                               noise=noise),
                                b=PersonParams(rate_bpm=8.5 if slow else 12.5, rate_cv=rate_cv,
                                               inhale_fraction=0.43, belt_gain=520.0,
                                               noise=noise), **kw)
            xs += [rec.a.belt.astype(float), rec.b.belt.astype(float)]
        conditions.append((label, xs))
    belt = real_belt()
    if belt is not None:
        conditions.append(("real belt, file's speed (240 s)", [belt]))
        fast = real_belt(speed=TRUE_SPEED)
        assert fast is not None
        conditions.append(("real belt, own speed (120 s)", [fast]))
    rows = []
    for label, xs in conditions:
        scores = [score(x) for x in xs]
        for name in METHODS:
            row: list[object] = [label if name == METHODS[0] else "", name]
            for ref_name in REFERENCES:
                row += [float(np.mean([s[(ref_name, name)][k] for s in scores])) for k in (0, 1)]
            cost = float(np.mean([s[("fixed", name)][2] for s in scores]))
            scored = float(np.mean([s[("fixed", name)][3] for s in scores]))
            rows.append(row + [cost, f"{scored:.0%}" if name == METHODS[0] else ""])
    print("Causal phase vs offline reference, degrees (median / p95 of |error|); references:")
    print("  fixed = zero-phase 0.05-0.8 Hz + Hilbert; adaptive = zero-phase 0.6-1.6 x f_peak")
    print(f"simulator: {int(seconds)} s x seeds {list(seeds)} x 2 people, first 60 s excluded;")
    print("scored = share of samples after 60 s where the live phase is valid (all methods)")
    print(table(["condition", "method", "fixed med", "fixed p95", "adapt med", "adapt p95",
                 "us/sample", "scored"], rows))
    if belt is not None:
        rr_fallback(belt)


def rr_fallback(belt: np.ndarray) -> list[list[object]]:
    """The weakest source on real data: breathing from the RR intervals of the ECG recorded
    with the belt (a strap that sends heart rate only), scored against the belt. Returns
    the table's rows (source, median, p95, PLV vs the belt, breaths, breaths per minute)."""
    beats = real_beats()
    if beats is None:
        return []
    grid = np.arange(len(belt)) / FS
    rr = np.interp(grid, beats[1:], np.diff(beats))  # as the session puts RR on the grid
    ref = reference_phase(belt, FS)
    rows: list[list[object]] = []
    for label, x, kind in (("belt", belt, "belt"), ("RR of the ECG", rr, "rr")):
        tr = BreathTracker(FS, kind, max_events=10**6)
        live = np.concatenate([tr.update(x[i:i + 5]).phase for i in range(0, len(x), 5)])
        live[: int(60 * FS)] = np.nan
        e = phase_error_deg(live, ref)
        ok = np.isfinite(live) & np.isfinite(ref)
        plv = float(abs(np.mean(np.exp(1j * (live[ok] - ref[ok])))))
        onsets = [ev.time_s for ev in tr.events if ev.kind == EventKind.INHALE]
        rate = 60.0 * (len(onsets) - 1) / (onsets[-1] - onsets[0]) if len(onsets) > 2 else NAN
        rows.append([label, e["median"], e["p95"], plv, len(onsets), rate])
    offline = reference_phase(-rr, FS)[int(60 * FS):] - ref[int(60 * FS):]
    beats_per_breath = (len(beats) - 1) / (beats[-1] - beats[0]) / (rows[0][5] / 60.0)
    print(f"\nReal data, weakest source: breathing from the RR intervals of the ECG recorded"
          f" with the belt ({len(beats)} beats, {beats_per_breath:.1f} per breath),")
    print("scored against the belt's reference phase (after 60 s); the offline references "
          f"of -RR and of the belt agree with PLV {abs(np.mean(np.exp(1j * offline))):.2f}")
    print(table(["breathing from", "median", "p95", "PLV vs belt", "breaths", "per min"], rows))
    return rows


if __name__ == "__main__":
    main()
