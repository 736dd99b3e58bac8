"""Offline analysis: ``rapport-sync analyze INPUT [--json] [--surrogates N] [--window S]``.

The recording is replayed through the *same* live pipeline (per-person
:class:`~rapport_sync.dsp.breathing.BreathTracker`, :class:`~rapport_sync.dsp.sync.DyadTracker`),
then hindsight is added: the offline reference phase (zero-phase band-pass + Hilbert, see
docs/metrics.md), session-level locking and lag on it, and surrogate statistics.
:func:`analyze_arrays` does the work on aligned arrays; CSV files and session files both
end up there.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .dsp import ANALYSIS_RATE_HZ
from .dsp.breathing import BreathTracker, EventKind
from .dsp.events import onset_rate_bpm
from .dsp.heart import HeartTracker, correct_rr
from .dsp.phase import phase_error_deg, reference_phase
from .dsp.resample import GRID_MAX_GAP_S, RR_MAX_GAP_S, interp_with_gaps
from .dsp.surrogates import surrogate_test
from .dsp.sync import DyadTracker, lag_peak, window_sync
from .errors import ConfigError, SessionFileError
from .sources.base import MAX_DURATION_S

__all__ = [
    "ALPHA",
    "PRIMARY_SURROGATE",
    "analyze_arrays",
    "analyze_file",
    "format_summary",
    "load_csv",
    "replay_arrays",
    "run_analyze",
]

PRIMARY_SURROGATE = "circular_shift"
ALPHA = 0.05
WARMUP_S = 60.0  # live phase error is scored after this (the estimator's start-up)
MAX_GAP_S = 3600.0  # a longer pause between a CSV's rows is two recordings in one file
MAX_VALUE = 1e12  # no reading comes near (a 32-bit count is at most 4.3e9): larger is missing
OUTLIER_RANGES = 100.0  # breathing this many central ranges beyond them is a glitch


def load_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Columns of a CSV with a header row; needs ``time``, ``a_resp`` and ``b_resp``.

    Empty cells (and ``nan``, ``n/a``, ``NA``) are missing values; any other text where a
    number belongs is an error that names its line, never a silent NaN. A row of empty
    cells is skipped; every other row needs a time (see :func:`_check_time`). Numbers are
    returned as written (``inf`` too); :func:`load_dyad` decides what is a sample.
    """
    import csv

    missing_words = {"", "nan", "n/a", "na"}
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:  # Excel starts with a BOM
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") \
            from exc
    header = [h.strip() for h in rows[0]] if rows else []
    missing = {"time", "a_resp", "b_resp"} - set(header)
    if missing:
        hint = ("; the values are separated by ';': save the file with commas"
                if len(header) == 1 and ";" in header[0] else "")
        raise ConfigError(f"{path}: missing column(s) {', '.join(sorted(missing))} "
                          f"(need time, a_resp, b_resp){hint}")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise ConfigError(f"{path}: column(s) {', '.join(twice)} appear more than once")
    data = np.full((len(rows) - 1, len(header)), np.nan)
    for i, row in enumerate(rows[1:]):
        if not row:
            continue
        if len(row) != len(header):
            raise ConfigError(f"{path}, line {i + 2}: {len(row)} values for "
                              f"{len(header)} columns")
        for j, cell in enumerate(row):
            cell = cell.strip()
            if cell.lower() in missing_words:
                continue
            try:
                data[i, j] = float(cell)
            except ValueError:
                raise ConfigError(f"{path}, line {i + 2}, column {header[j]}: "
                                  f"{cell!r} is not a number") from None
    used = ~np.isnan(data).all(axis=1)
    data, lines = data[used], np.flatnonzero(used) + 2
    if not len(data):
        raise ConfigError(f"{path}: no data rows")
    _check_time(path, data[:, header.index("time")], lines)
    return {name: data[:, i] for i, name in enumerate(header)}


def _plausible(v: np.ndarray) -> np.ndarray:
    """``v`` with what cannot be a reading as NaN: infinite or beyond ±:data:`MAX_VALUE`."""
    return np.where(np.abs(v) <= MAX_VALUE, v, np.nan)  # NaN and inf fail the test


def _breathing_samples(path: Path, name: str, v: np.ndarray) -> np.ndarray:
    """Column ``name`` as breathing samples: :func:`_plausible`, and a glitch (more than
    :data:`OUTLIER_RANGES` times the column's central range, 1st to 99th percentile,
    below or above it) missing too: one 4.3e9 in a belt of a few hundred counts otherwise
    owns the whole recording's reference phase. A ConfigError naming the column if fewer
    than two values are left, or fewer than were impossible (a wrong column or unit)."""
    samples = _plausible(v)
    ok = np.isfinite(samples)
    if ok.any():
        lo, hi = np.percentile(samples[ok], [1, 99])
        reach = OUTLIER_RANGES * (hi - lo)
        samples[ok & ((samples < lo - reach) | (samples > hi + reach))] = np.nan
    n, empty = int(np.isfinite(samples).sum()), int(np.isnan(v).sum())
    if n < 2 or len(v) - n - empty > n:
        raise ConfigError(f"{path}: column {name} has {n} usable values in {len(v)} rows "
                          f"({empty} empty, {len(v) - n - empty} infinite or implausibly "
                          f"large); it must hold person {name[0].upper()}'s breathing")
    return samples


def _check_time(path: str | Path, t: np.ndarray, lines: np.ndarray) -> None:
    """A CSV's times (``lines``: their line numbers) are finite seconds, increasing, at
    most :data:`GRID_MAX_GAP_S` apart in the median (further apart nothing is joined:
    milliseconds, most likely) and never :data:`MAX_GAP_S` apart; ConfigError otherwise."""
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        i = bad[0]
        what = "no time" if np.isnan(t[i]) else f"time {t[i]} is not a finite number"
        raise ConfigError(f"{path}, line {lines[i]}: {what}")
    step = np.diff(t)
    back = np.flatnonzero(step <= 0)
    if back.size:
        i = back[0] + 1
        how = "repeats" if step[i - 1] == 0 else "is before"
        raise ConfigError(f"{path}, line {lines[i]}: time {t[i]:.10g} {how} line "
                          f"{lines[i - 1]}'s ({t[i - 1]:.10g}); rows must be in time order, "
                          "each time once")
    if step.size and np.median(step) > GRID_MAX_GAP_S:
        raise ConfigError(f"{path}: rows are {np.median(step):.4g} s apart (median), and "
                          f"breathing samples more than {GRID_MAX_GAP_S:g} s apart are gaps; "
                          "is the time column in milliseconds? It must be in seconds")
    far = np.flatnonzero(step > MAX_GAP_S)
    if far.size:
        i = far[0]
        raise ConfigError(f"{path}, line {lines[i + 1]}: {step[i]:.6g} s after line "
                          f"{lines[i]}, a gap of more than an hour; analyse the parts before "
                          "and after it as separate files")


def _analysis_grid(t: np.ndarray) -> np.ndarray:
    """The :data:`ANALYSIS_RATE_HZ` grid from the first to the last finite time of ``t``;
    a ConfigError if that is longer than :data:`MAX_DURATION_S` (a week)."""
    fs = ANALYSIS_RATE_HZ
    t = t[np.isfinite(t)]
    if t.size < 2:
        raise ConfigError("the time column is empty")
    span = t.max() - t.min()
    if span > MAX_DURATION_S:
        raise ConfigError(f"the time column spans {span:.4g} s ({span / 86400:.3g} days), "
                          f"more than a week ({MAX_DURATION_S:.0f} s); it must be in seconds")
    return np.arange(t.min(), t.max() + 0.5 / fs, 1.0 / fs)


NOT_BREATHING_RAW = ("acc", "edr", "rr")  # exported raw column is not the breathing signal


def _to_grid(t: np.ndarray, v: np.ndarray, grid: np.ndarray, max_gap_s: float = GRID_MAX_GAP_S
             ) -> np.ndarray:
    return interp_with_gaps(grid, t, v, max_gap_s)


def _beats_from_column(t: np.ndarray, rr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beats from an RR column: a row is a beat where the value is finite and new."""
    ok = np.isfinite(rr)
    new = ok & np.r_[True, (rr[1:] != rr[:-1]) | ~ok[:-1]]
    return t[new], rr[new]


def _row_rate_hz(t: np.ndarray, v: np.ndarray) -> float | None:
    """Sampling rate of a column: rows where it has values, median step."""
    ok = np.isfinite(np.asarray(v, dtype=float).reshape(len(t), -1)).all(axis=1) & np.isfinite(t)
    step = np.diff(t[ok])
    step = step[step > 0]
    return float(1.0 / np.median(step)) if step.size else None


def _replay_person(x: np.ndarray, fs: float, kind: str, source_rate_hz: float | None = None
                   ) -> dict[str, Any]:
    tr = BreathTracker(fs, kind, max_events=10**7, source_rate_hz=source_rate_hz)
    hop = int(fs)  # one second per call, as a session would deliver it
    sig, pha, states = [], [], []
    onsets = []  # (inhalation onset, time it was known)
    for i in range(0, len(x), hop):
        out = tr.update(x[i:i + hop])
        sig.append(out.signal)
        pha.append(out.phase)
        states.append(tr.state)
        onsets += tr.take_onsets()
    return {"signal": np.concatenate(sig) if sig else np.empty(0),
            "phase": np.concatenate(pha) if pha else np.empty(0),
            "events": list(tr.events), "state": tr.state, "states": states, "onsets": onsets}


def _reference_input(raw: np.ndarray, cleaned: np.ndarray, kind: str, fs: float) -> np.ndarray:
    """What the offline reference is computed from: the raw breathing signal (inhale up).

    For sources without a fixed sign or axis (accelerometer, ECG-derived) it is the live
    cleaned signal moved earlier by its low-pass delay.
    """
    if kind == "belt":
        return raw
    if kind == "rr":
        return -raw
    from .dsp.breathing import display_delay_s
    shift = round(display_delay_s(fs) * fs)
    return np.r_[cleaned[shift:], np.full(shift, np.nan)]


def _session_rate(events: list[Any]) -> float:
    return onset_rate_bpm([e.time_s for e in events if e.kind == EventKind.INHALE])


def _onset_coincidence(ev_a: list[Any], ev_b: list[Any], tol_s: float, span_s: tuple[float, float],
                       rng: np.random.Generator, n_surr: int = 200) -> dict[str, float]:
    """Share of A's inhalation onsets with one of B's within ``tol_s``, against the same
    share for B's onsets shifted circularly over the session by at least 10 s (B's own
    rhythm kept: regular breathers coincide more often than random, Poisson, onsets)."""
    nan = float("nan")
    a = np.array([e.time_s for e in ev_a if e.kind == EventKind.INHALE])
    b = np.array([e.time_s for e in ev_b if e.kind == EventKind.INHALE])
    start, duration = span_s[0], span_s[1] - span_s[0]
    if a.size == 0 or b.size == 0 or duration <= 20.0:
        return {"observed": nan, "expected": nan, "p": nan, "tolerance_s": tol_s}

    def share(b_sorted: np.ndarray) -> float:
        j = np.clip(np.searchsorted(b_sorted, a), 1, max(1, len(b_sorted) - 1))
        near = np.minimum(np.abs(a - b_sorted[j - 1]),
                          np.abs(a - b_sorted[np.minimum(j, len(b_sorted) - 1)]))
        return float(np.mean(near <= tol_s))

    observed = share(b)
    shifts = rng.uniform(10.0, duration - 10.0, n_surr)
    surr = np.array([share(np.sort((b - start + s) % duration + start)) for s in shifts])
    return {"observed": observed, "expected": float(surr.mean()),
            "p": float((1 + np.sum(surr >= observed)) / (1 + n_surr)), "tolerance_s": tol_s}


def _heart_sync(hr_a: np.ndarray, hr_b: np.ndarray, fs: float, rng: np.random.Generator,
                max_lag_s: float = 5.0, n_surr: int = 200) -> dict[str, float]:
    """Lagged correlation of the two heart-rate series (30-s trends removed; the Boker
    peak nearest lag 0, positive lag when A leads) against the same statistic of circular
    shifts of B by at least 60 s."""
    nan = float("nan")
    ok = np.isfinite(hr_a) & np.isfinite(hr_b)
    if ok.sum() < 60 * fs:
        return {"r": nan, "lag_s": nan, "p": nan}
    kernel = np.ones(max(1, int(30 * fs)))
    counts = np.maximum(np.convolve(ok.astype(float), kernel, "same"), 1.0)

    def detrend(x: np.ndarray) -> np.ndarray:
        """Minus the mean of the valid samples within ±15 s (so the edges, with half a
        window, are not pulled towards zero), and 0 where either series is missing."""
        v = np.where(ok, x, 0.0)
        return np.where(ok, v - np.convolve(v, kernel, "same") / counts, 0.0)

    a, b = detrend(hr_a), detrend(hr_b)
    n, lags = len(a), np.arange(-int(max_lag_s * fs), int(max_lag_s * fs) + 1)
    den = np.sqrt((a**2).sum() * (b**2).sum())
    if not den > 0:
        return {"r": nan, "lag_s": nan, "p": nan}
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    fa, fb = np.fft.rfft(a, nfft), np.fft.rfft(b, nfft)
    r = np.fft.irfft(np.conj(fa) * fb, nfft)[lags % nfft] / den
    peak, lag = lag_peak(r, lags / fs, nearest_zero=True)
    circ = np.fft.irfft(np.conj(np.fft.rfft(a)) * np.fft.rfft(b), n) / den
    lo = int(60 * fs)
    shifts = rng.integers(lo, max(lo + 1, n - lo), n_surr)
    surr = np.array([lag_peak(circ[(s + lags) % n], lags / fs, nearest_zero=True)[0]
                     for s in shifts])
    surr = surr[np.isfinite(surr)]  # a shift without a local peak has no statistic
    p = float((1 + np.sum(surr >= peak)) / (1 + surr.size)) if np.isfinite(peak) else nan
    return {"r": peak, "lag_s": lag, "p": p}


def _hr_grid(t: np.ndarray, hr: np.ndarray | None, rr: np.ndarray | None, grid: np.ndarray
             ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    if rr is not None and np.isfinite(rr).sum() >= 8:
        bt, brr = _beats_from_column(t, rr)
        fixed, _ = correct_rr(brr, bt)  # missed and extra beats are not heart rate
        return _to_grid(bt, 60.0 / fixed, grid, max_gap_s=3.0), (bt, brr)
    if hr is not None and np.isfinite(hr).any():
        return _to_grid(t, hr, grid, max_gap_s=3.0), None
    return np.full(len(grid), np.nan), None


def _num(x: Any) -> Any:
    if isinstance(x, float | np.floating):
        return None if not np.isfinite(x) else round(float(x), 6)
    if isinstance(x, dict):
        return {k: _num(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_num(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_num(float(v)) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    return x


def analyze_arrays(time_s: np.ndarray, a_resp: np.ndarray, b_resp: np.ndarray, *,
                   a_hr: np.ndarray | None = None, b_hr: np.ndarray | None = None,
                   a_rr: np.ndarray | None = None, b_rr: np.ndarray | None = None,
                   kind_a: str = "belt", kind_b: str = "belt", window_s: float = 60.0,
                   n_surrogates: int = 200, seed: int = 0, max_lag_s: float = 3.0,
                   max_iaaft: int = 200,
                   progress: Callable[[int, int], None] | None = None,
                   pool: Sequence[np.ndarray] = (), source_rate_a_hz: float | None = None,
                   source_rate_b_hz: float | None = None) -> dict[str, Any]:
    """Full offline analysis of one dyad (see module docstring); returns a JSON-ready dict.

    ``time_s`` are seconds; the breathing columns may be at any rate (they are put on
    the :data:`ANALYSIS_RATE_HZ` grid); ``a_rr``/``b_rr`` are RR intervals in s at the rows
    where a beat happened (NaN or repeated elsewhere); ``a_hr``/``b_hr`` heart rate in bpm.
    IAAFT surrogates (the costly type: an iterated FFT per surrogate) are capped at
    ``max_iaaft``; the ``n`` of each type is reported. ``pool`` holds other people's
    phases (:func:`pseudo_dyad_pool`); with it, ``pseudo_dyad`` surrogates are added.
    ``source_rate_a_hz``/``source_rate_b_hz``: the devices' own sampling rates (default:
    the rows' rate where that column has values), which the live phase band depends on.
    """
    fs = ANALYSIS_RATE_HZ
    t = np.asarray(time_s, dtype=float)
    grid = _analysis_grid(t)
    if len(grid) < 2 * window_s * fs:
        raise ConfigError(f"recording is {grid[-1] - grid[0]:.0f} s long; need at least two "
                          f"windows ({2 * window_s:.0f} s)")
    xa, xb = (_to_grid(t, np.asarray(v, float), grid) for v in (a_resp, b_resp))
    rates = {p: r if r is not None and math.isfinite(r) else _row_rate_hz(t, v)
             for p, r, v in (("a", source_rate_a_hz, a_resp), ("b", source_rate_b_hz, b_resp))}
    live = {p: _replay_person(x, fs, k, rates[p])
            for p, x, k in (("a", xa, kind_a), ("b", xb, kind_b))}
    dy = DyadTracker(fs, window_s, max_lag_s=max_lag_s, history_len=len(grid))
    for p in ("a", "b"):
        dy.add_onsets(p, live[p]["onsets"])
    for i in range(0, len(grid), int(fs)):
        s = slice(i, i + int(fs))
        dy.update(live["a"]["phase"][s], live["b"]["phase"][s], live["a"]["signal"][s],
                  live["b"]["signal"][s])
    ref = {p: reference_phase(_reference_input(x, live[p]["signal"], k, fs), fs)
           for p, x, k in (("a", xa, kind_a), ("b", xb, kind_b))}
    errors = {}
    for p in live:
        scored = live[p]["phase"].copy()
        scored[: int(WARMUP_S * fs)] = np.nan
        e = phase_error_deg(scored, ref[p])
        errors[p] = {"median": e["median"], "p95": e["p95"], "n": e["n"]}
    dec = round(fs / 5.0)
    fs_dec = fs / dec
    ra, rb = ref["a"][::dec], ref["b"][::dec]
    sa, sb = live["a"]["signal"][::dec], live["b"]["signal"][::dec]
    whole = window_sync(ra, rb, sa, sb, fs_dec, float(grid[-1]), max_lag_s)
    windows = DyadTracker(fs_dec, window_s, max_lag_s=max_lag_s, update_every_s=5.0,
                          analysis_hz=fs_dec, history_len=len(ra))
    for p in ("a", "b"):  # offline: every onset counts in its windows
        windows.add_onsets(p, [(onset, -math.inf) for onset, _ in live[p]["onsets"]])
    windows.update(ra, rb, sa, sb)
    win = list(windows.history)
    kinds = ("circular_shift", "segment_shuffle", "iaaft") + (("pseudo_dyad",) if pool else ())
    surr = surrogate_test(ra, rb, sb, fs_dec, window_s, n_surrogates, seed, kinds=kinds,
                          pool=pool, progress=progress, n_iaaft=min(n_surrogates, max_iaaft))
    primary = surr[PRIMARY_SURROGATE]
    significant = bool(np.isfinite(primary.p) and primary.p < ALPHA)
    lag_s = whole.lag_s
    leader = "none"
    if significant and np.isfinite(lag_s) and abs(lag_s) >= 0.2 and whole.lag_plv > (
            whole.chance_lag_plv95 if np.isfinite(whole.chance_lag_plv95) else 0.0):
        leader = "a" if lag_s > 0 else "b"
    w_lead = [w.leader for w in win]
    w_lags = np.array([w.lag_s for w in win if w.leader != "none"])
    rate_a, rate_b = _session_rate(live["a"]["events"]), _session_rate(live["b"]["events"])
    breath_rates = {"a": rate_a, "b": rate_b}
    w_diff = np.array([w.rate_diff_bpm for w in win])
    w_t = np.array([w.time_s for w in win])
    okd = np.isfinite(w_diff)
    slope = (float(np.polyfit(w_t[okd] / 60.0, np.abs(w_diff[okd]), 1)[0])
             if okd.sum() >= 3 else float("nan"))
    hr = {p: _hr_grid(t, h, r, grid) for p, h, r in (("a", a_hr, a_rr), ("b", b_hr, b_rr))}
    heart: dict[str, Any] = {}
    for p in ("a", "b"):
        beats = hr[p][1]
        if beats is not None:
            ht = HeartTracker(rsa_window_s=1e9, breath_hz=breath_rates[p] / 60.0)
            ht.update(*beats)
            heart[f"rsa_{p}_ms"] = ht.state.rsa_ms
            heart[f"artifact_fraction_{p}"] = ht.state.artifact_fraction
        heart[f"hr_{p}_bpm"] = float(np.nanmean(hr[p][0])) if np.isfinite(hr[p][0]).any() \
            else float("nan")
    heart["synchrony"] = _heart_sync(hr["a"][0][::dec], hr["b"][0][::dec], fs_dec,
                                     np.random.default_rng(seed + 1))
    duration = float(grid[-1] - grid[0])
    quality = {p: {"good_fraction": float(np.mean([s.quality.usable for s in live[p]["states"]])),
                   "final": str(live[p]["state"].quality)} for p in live}
    live_hist = list(dy.history)
    result = {
        "duration_s": duration, "window_s": window_s, "statistic": "mean windowed PLV",
        "plv": whole.plv, "ppc": whole.ppc, "alignment": whole.alignment,
        "mean_relative_phase_deg": whole.mean_relative_phase_deg,
        "lag_s": lag_s, "lag_plv": whole.lag_plv, "leader": leader,
        "mean_windowed_plv": primary.observed,
        "lead_stability": {"fraction_a": w_lead.count("a") / max(1, len(w_lead)),
                           "fraction_b": w_lead.count("b") / max(1, len(w_lead)),
                           "lag_sd_s": float(w_lags.std()) if w_lags.size > 1 else float("nan")},
        "wcc_r": whole.wcc_r, "wcc_lag_s": whole.wcc_lag_s,
        "rate_a_bpm": rate_a, "rate_b_bpm": rate_b,
        "rate": {"diff_bpm": rate_a - rate_b,
                 "mismatch": abs(rate_a - rate_b) / (0.5 * (rate_a + rate_b)),
                 "convergence_bpm_per_min": slope,
                 "matched_fraction": float(np.mean(np.abs(w_diff[okd]) < 1.0)) if okd.any()
                 else float("nan")},
        "onset_coincidence": _onset_coincidence(live["a"]["events"], live["b"]["events"], 1.0,
                                                (float(grid[0]), float(grid[-1])),
                                                np.random.default_rng(seed + 2)),
        "heart": heart,
        "surrogates": {k: {"z": v.z, "p": v.p, "effect_size": v.effect_size, "n": v.n,
                           "mean": v.mean, "p95": v.p95} for k, v in surr.items()},
        "primary_surrogate": PRIMARY_SURROGATE, "alpha": ALPHA, "significant": significant,
        "live_phase_error_deg": errors,
        "quality": quality,
        "windows": {"time_s": [w.time_s for w in win], "plv": [w.plv for w in win],
                    "ppc": [w.ppc for w in win], "alignment": [w.alignment for w in win],
                    "lag_s": [w.lag_s for w in win], "leader": w_lead,
                    "chance_plv95": [w.chance_plv95 for w in win],
                    "rate_a_bpm": [w.rate_a_bpm for w in win],
                    "rate_b_bpm": [w.rate_b_bpm for w in win]},
        "live_windows": {"time_s": [w.time_s for w in live_hist[::5]],
                         "plv": [w.plv for w in live_hist[::5]],
                         "chance_plv95": [w.chance_plv95 for w in live_hist[::5]]},
    }
    return _num(result)  # type: ignore[no-any-return]


def load_dyad(path: str | Path, window_s: float = 60.0) -> dict[str, Any]:
    """The two people of a CSV (by suffix ``.csv``) or of a stored session, as the keyword
    arguments of :func:`analyze_arrays` (``time_s``, ``a_resp``, ``b_resp``, RR/HR, kinds)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        cols = load_csv(path)
        rates, sources = _exported_sources(path, list(cols))
        resp: dict[str, Any] = {}
        for p in ("a", "b"):  # see _exported_sources: not every a_resp is breathing
            axis = sources.get(p) in NOT_BREATHING_RAW
            name = f"{p}_resp_filtered" if axis else f"{p}_resp"
            resp[f"{p}_resp"] = _breathing_samples(path, name, cols[name])
            if not axis and f"source_rate_{p}_hz" in rates:
                resp[f"source_rate_{p}_hz"] = rates[f"source_rate_{p}_hz"]
        return {"time_s": cols["time"], **resp,
                **{k: _plausible(cols[k]) if k in cols else None
                   for k in ("a_hr", "b_hr", "a_rr", "b_rr")}}
    from .session.replay import replay_session  # lazy: sessions pull in the store

    return replay_arrays(replay_session(path, window_s=window_s))


def _exported_sources(csv_path: Path, header: list[str]
                      ) -> tuple[dict[str, float], dict[str, str]]:
    """The devices' own sampling rates and each person's breathing source from the
    ``metadata.json`` that rapport_sync's CSV export writes beside ``aligned.csv``.

    Its rows are on the 25-Hz grid, which would make a slow belt look sampled at 25 Hz;
    and for a chest accelerometer ``a_resp`` is the acceleration's magnitude, for a
    heart-rate-only strap it is empty (:data:`NOT_BREATHING_RAW`): their breathing is
    the live pipeline's ``*_resp_filtered`` (the breathing axis, inhale up). Only for a
    file named ``aligned.csv`` whose ``header`` is the one that metadata documents;
    nothing otherwise, and nothing from metadata that is not rapport_sync's or is damaged."""
    if csv_path.name != "aligned.csv":
        return {}, {}
    try:
        meta = json.loads(csv_path.with_name("metadata.json").read_text())
        documented = list(meta["columns"]["aligned.csv"])
        people = meta["participants"]
        ours = str(meta["software"]).startswith("rapport_sync")
    except (OSError, ValueError, KeyError, TypeError):
        return {}, {}
    if not (ours and header == documented and isinstance(people, dict)):
        return {}, {}
    rates, sources = {}, {}
    for p in ("a", "b"):
        person = people.get(p)
        if not isinstance(person, dict):
            continue
        rate, source = person.get("raw_rate_hz"), person.get("breathing_source")
        if (isinstance(rate, int | float) and not isinstance(rate, bool)
                and math.isfinite(rate) and rate > 0):
            rates[f"source_rate_{p}_hz"] = float(rate)
        if isinstance(source, str) and f"{p}_resp_filtered" in header:
            sources[p] = source
    return rates, sources


def replay_arrays(rep: Any) -> dict[str, Any]:
    """:func:`load_dyad` of a session already replayed (a ``ReplayResult``). A person
    whose breathing came from a heart-rate-only strap is given as their RR intervals at
    the beats (``kind`` ``"rr"``), interpolated over up to 3 s as the live session does."""
    people: dict[str, tuple[np.ndarray, np.ndarray, str, float, float]] = {}
    for p in ("a", "b"):
        tr = rep.people.get(p)
        if tr is None or tr.kind is None:
            raise SessionFileError(f"{rep.path}: person {p.upper()} has no breathing data")
        kind = str(tr.kind)
        t, x = (tr.beat_time_s, tr.rr_s) if kind == "rr" else (tr.raw_time_s, tr.raw_value)
        ok = np.isfinite(np.asarray(x, dtype=float).reshape(len(t), -1)).all(axis=1)
        t, x = np.asarray(t, dtype=float)[ok], np.asarray(x, dtype=float)[ok]
        if len(t) < 2 or not t[-1] > t[0]:
            raise SessionFileError(f"{rep.path}: person {p.upper()} has no breathing data")
        rate = (len(t) - 1) / (t[-1] - t[0]) if kind == "rr" else tr.raw_rate_hz
        people[p] = (t, x, kind, rate, RR_MAX_GAP_S if kind == "rr" else GRID_MAX_GAP_S)
    t0 = max(people["a"][0][0], people["b"][0][0])
    t1 = min(people["a"][0][-1], people["b"][0][-1])
    grid = np.arange(t0, t1, 1.0 / ANALYSIS_RATE_HZ)
    out: dict[str, Any] = {"time_s": grid}
    for p, (t, x, kind, rate, max_gap) in people.items():
        out[f"kind_{p}"], out[f"source_rate_{p}_hz"] = kind, rate
        out[f"{p}_resp"] = _to_grid(t, x, grid, max_gap)
        bt, brr = rep.people[p].beat_time_s, rep.people[p].rr_s
        col = np.full(len(grid), np.nan)
        col[np.clip(np.searchsorted(grid, bt), 0, len(grid) - 1)] = brr
        out[f"{p}_rr"] = col
    return out


def pseudo_dyad_pool(paths: Sequence[str | Path], window_s: float = 60.0) -> list[np.ndarray]:
    """Reference phases (at the surrogates' ~5 Hz) of every person in other recordings,
    for ``pseudo_dyad`` surrogates: partners who never met."""
    fs = ANALYSIS_RATE_HZ
    dec = round(fs / 5.0)
    pool = []
    for path in paths:
        d = load_dyad(path, window_s)
        t = np.asarray(d["time_s"], dtype=float)
        grid = _analysis_grid(t)
        for p in ("a", "b"):
            kind = d.get(f"kind_{p}", "belt")
            x = _to_grid(t, np.asarray(d[f"{p}_resp"], float), grid)
            cleaned = _replay_person(x, fs, kind)["signal"] if kind not in ("belt", "rr") else x
            pool.append(reference_phase(_reference_input(x, cleaned, kind, fs), fs)[::dec])
    return pool


def analyze_file(path: str | Path, window_s: float = 60.0, n_surrogates: int = 200,
                 seed: int = 0, progress: Callable[[int, int], None] | None = None,
                 pseudo_dyads: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Analyse a CSV or a stored session; ``pseudo_dyads`` are other recordings whose
    people serve as never-met partners (the ``pseudo_dyad`` surrogate)."""
    pool = pseudo_dyad_pool(pseudo_dyads, window_s) if pseudo_dyads else ()
    return analyze_arrays(**load_dyad(path, window_s), window_s=window_s,
                          n_surrogates=n_surrogates, seed=seed, progress=progress, pool=pool)


def format_summary(r: dict[str, Any]) -> str:
    """A readable summary of :func:`analyze_arrays`' result."""
    def f(x: Any, spec: str = ".2f") -> str:
        if x is None:  # as wide as the number would be, so the columns stay apart
            return "n/a".rjust(int("".join(c for c in spec.split(".")[0] if c.isdigit()) or 0))
        return format(x, spec)
    lines = [f"session {f(r['duration_s'] / 60, '.1f')} min, windows of {f(r['window_s'], '.0f')} s"]
    lines.append(f"breathing rate   A {f(r['rate_a_bpm'], '.1f')}/min   B {f(r['rate_b_bpm'], '.1f')}/min"
                 f"   (difference {f(r['rate']['diff_bpm'], '+.1f')}/min)")
    lines.append(f"locking (PLV)    {f(r['plv'])}   PPC {f(r['ppc'])}   "
                 f"mean windowed PLV {f(r['mean_windowed_plv'])}")
    lines.append(f"alignment        {f(r['alignment'], '+.2f')}   mean relative phase "
                 f"{f(r['mean_relative_phase_deg'], '+.0f')} deg")
    who = {"a": "A leads", "b": "B leads", "none": "nobody leads"}[r["leader"]]
    lines.append(f"lead             {who}" + (f" by {abs(r['lag_s']):.1f} s"
                                             if r["leader"] != "none" else ""))
    lines.append("chance level     surrogate       z      ES      p      n")
    for k, v in r["surrogates"].items():
        lines.append(f"                 {k:<15s}{f(v['z'], '6.2f')}  {f(v['effect_size'], '6.2f')}"
                     f"  {f(v['p'], '.3f')}  {v['n']}")
    verdict = "ABOVE chance" if r["significant"] else "not above chance"
    verdict += f" ({r['primary_surrogate']}, alpha {r['alpha']})"
    if r["mean_windowed_plv"] is None:  # no window where both people have a phase
        q = r["quality"]
        verdict = (f"n/a: no stretch where both have a breathing phase (signal quality "
                   f"A {q['a']['final']}, B {q['b']['final']})")
    lines.append(f"verdict          {verdict}")
    e = r["live_phase_error_deg"]
    lines.append(f"live phase error A median {f(e['a']['median'], '.0f')} / p95 "
                 f"{f(e['a']['p95'], '.0f')} deg, B {f(e['b']['median'], '.0f')} / "
                 f"{f(e['b']['p95'], '.0f')} deg (vs offline reference)")
    return "\n".join(lines)


class _Progress:
    """A one-line stderr progress bar that appears only after the first second."""

    def __init__(self, stream: Any = sys.stderr, after_s: float = 1.0) -> None:
        self.stream, self.start, self.after = stream, time.monotonic(), after_s
        self.shown = False
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._quarter = -1

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self.start < self.after or total <= 0:
            return
        if not self.tty:  # a log file or pipe: one line per quarter, no redrawing
            quarter = 4 * done // total
            if quarter > self._quarter:
                self._quarter = quarter
                self.stream.write(f"surrogates {done}/{total}\n")
            return
        self.shown = True
        k = int(30 * done / total)
        self.stream.write(f"\rsurrogates [{'#' * k}{'.' * (30 - k)}] {done}/{total}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")


def run_analyze(args: argparse.Namespace) -> int:
    """Run ``analyze`` for parsed arguments; print JSON or a summary; return the exit code."""
    bar = _Progress()
    try:
        result = analyze_file(args.input, window_s=args.window, n_surrogates=args.surrogates,
                              seed=getattr(args, "seed", 0), progress=bar,
                              pseudo_dyads=getattr(args, "pseudo_dyad", None) or ())
    finally:
        bar.close()
    print(json.dumps(result) if args.json else format_summary(result))
    return 0
