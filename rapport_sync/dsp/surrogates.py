"""Chance level of dyad synchrony: surrogate partners and the test against them.

Each surrogate type breaks the coupling in a different way and so tests a different
null hypothesis (Moulder et al. 2018); the type is always reported with the result.

* ``circular_shift``: B's phase series shifted in time (wrapping around) by at least
  ``min_shift_s``: no coupling at any short lag, B's own dynamics kept exactly.
* ``segment_shuffle``: B cut into ``segment_s`` segments and put in a random order
  (Ramseyer & Tschacher): no coupling beyond what non-simultaneous stretches share.
* ``iaaft``: B's signal replaced by an iteratively amplitude-adjusted Fourier surrogate
  (Schreiber & Schmitz 1996), same spectrum and value distribution, random phases.
* ``pseudo_dyad``: B replaced by other people's recordings (needs a pool of them):
  coupling beyond what a shared setting or task induces.

The tested statistic is the mean windowed PLV (:func:`windowed_plv`), computed on
phases decimated to ~5 Hz with cumulative sums, so a thousand surrogates of an hour-long
session take seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .phase import reference_phase

__all__ = [
    "SURROGATE_TYPES",
    "SurrogateResult",
    "circular_shift",
    "iaaft",
    "segment_shuffle",
    "surrogate_test",
    "windowed_plv",
]

SURROGATE_TYPES = ("circular_shift", "segment_shuffle", "iaaft", "pseudo_dyad")


@dataclass(frozen=True, slots=True)
class SurrogateResult:
    """The observed statistic against one surrogate distribution.

    ``z`` is on the Fisher scale (atanh of the PLVs), ``effect_size`` is
    (observed − mean)/SD of the surrogates on the PLV scale (SUSY's ES), ``p`` the
    empirical one-sided p = (1 + #{surrogate ≥ observed}) / (1 + n).
    """

    kind: str
    observed: float
    mean: float
    p95: float
    z: float
    effect_size: float
    p: float
    n: int


def windowed_plv(phase_a: np.ndarray, phase_b: np.ndarray, fs: float, window_s: float,
                 step_s: float = 5.0, min_valid: float = 0.5) -> np.ndarray:
    """PLV of every window (length ``window_s``, every ``step_s``); NaN if too little data."""
    z = np.exp(1j * (phase_a - phase_b))
    ok = np.isfinite(z)
    z = np.where(ok, z, 0.0)
    w, step = round(window_s * fs), max(1, round(step_s * fs))
    w = min(w, len(z))
    cz = np.concatenate(([0], np.cumsum(z)))
    cn = np.concatenate(([0], np.cumsum(ok)))
    ends = np.arange(w, len(z) + 1, step)
    s, n = cz[ends] - cz[ends - w], cn[ends] - cn[ends - w]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= min_valid * w, np.abs(s) / n, np.nan)


def circular_shift(x: np.ndarray, rng: np.random.Generator, min_shift: int) -> np.ndarray:
    """``x`` rotated by a random shift in [min_shift, len − min_shift]."""
    n = len(x)
    hi = max(min_shift + 1, n - min_shift)
    return np.roll(x, int(rng.integers(min_shift, hi)))


def segment_shuffle(x: np.ndarray, rng: np.random.Generator, segment: int) -> np.ndarray:
    """``x`` cut into segments of ``segment`` samples, put back in a random order
    (a derangement when possible, so no segment stays in place)."""
    k = max(1, len(x) // segment)
    pieces = np.array_split(x, k)
    order = rng.permutation(k)
    for _ in range(20):
        if k < 2 or not np.any(order == np.arange(k)):
            break
        order = rng.permutation(k)
    return np.concatenate([pieces[i] for i in order])


def iaaft(x: np.ndarray, rng: np.random.Generator, n_iter: int = 8) -> np.ndarray:
    """Iterative amplitude-adjusted Fourier-transform surrogate of a gap-free signal."""
    amp = np.abs(np.fft.rfft(x))
    sorted_x = np.sort(x)
    y = rng.permutation(x)
    for _ in range(n_iter):
        spec = np.fft.rfft(y)
        y = np.fft.irfft(amp * np.exp(1j * np.angle(spec)), len(x))
        out = np.empty_like(y)
        out[np.argsort(y)] = sorted_x  # same ranks as y, values of x
        y = out
    return y


def _mean_of_valid(x: np.ndarray) -> float:
    """Mean of the finite values; NaN (without numpy's empty-slice warning) if none."""
    ok = np.isfinite(x)
    return float(x[ok].mean()) if ok.any() else float("nan")


def _summary(kind: str, observed: float, surr: np.ndarray) -> SurrogateResult:
    surr = surr[np.isfinite(surr)]
    n = int(surr.size)
    if n < 2 or not np.isfinite(observed):
        nan = float("nan")
        return SurrogateResult(kind, observed, nan, nan, nan, nan, nan, n)
    clip = 1 - 1e-9
    fz = np.arctanh(np.clip(surr, 0, clip))
    sd = surr.std(ddof=1)
    z = (np.arctanh(min(observed, clip)) - fz.mean()) / max(fz.std(ddof=1), 1e-12)
    return SurrogateResult(kind, observed, float(surr.mean()), float(np.percentile(surr, 95)),
                           float(z), float((observed - surr.mean()) / max(sd, 1e-12)),
                           float((1 + np.sum(surr >= observed)) / (1 + n)), n)


def surrogate_test(phase_a: np.ndarray, phase_b: np.ndarray, signal_b: np.ndarray | None,
                   fs: float, window_s: float = 60.0, n: int = 200, seed: int = 0,
                   kinds: Sequence[str] = ("circular_shift", "segment_shuffle", "iaaft"),
                   pool: Sequence[np.ndarray] = (), segment_s: float = 30.0,
                   progress: Callable[[int, int], None] | None = None,
                   n_iaaft: int | None = None) -> dict[str, SurrogateResult]:
    """Mean windowed PLV of A and B against each surrogate type.

    Parameters
    ----------
    phase_a, phase_b : ndarray
        Phases on a uniform grid at ``fs`` (NaN = invalid).
    signal_b : ndarray or None
        B's breathing signal (needed for ``iaaft``; NaN gaps are interpolated).
    pool : sequence of ndarray
        Other people's phase series for ``pseudo_dyad`` (any length; cropped or skipped):
        each is paired once with A and once with B, so that type has at most
        ``2 * len(pool)`` values (a reused partner would be no new evidence) and its p
        cannot fall below ``1 / (2 * len(pool) + 1)``.
    progress : callable, optional
        Called as ``progress(done, total)``.
    n_iaaft : int, optional
        Number of IAAFT surrogates if different from ``n`` (they cost ~20x more).
    """
    rng = np.random.default_rng(seed)
    observed = _mean_of_valid(windowed_plv(phase_a, phase_b, fs, window_s))
    min_shift = int(max(window_s, 10.0) * fs)
    counts = {k: (n_iaaft if k == "iaaft" and n_iaaft is not None else n) for k in kinds}
    total = sum(counts.values())
    done = 0
    results: dict[str, SurrogateResult] = {}
    for kind in kinds:
        values = np.full(counts[kind], np.nan)
        if kind == "iaaft":
            if signal_b is None:
                continue
            idx = np.arange(len(signal_b))
            ok = np.isfinite(signal_b)
            filled = np.interp(idx, idx[ok], signal_b[ok]) if ok.any() else np.zeros(len(idx))
        for i in range(counts[kind]):
            if kind == "circular_shift":
                sb = circular_shift(phase_b, rng, min_shift)
            elif kind == "segment_shuffle":
                sb = segment_shuffle(phase_b, rng, int(segment_s * fs))
            elif kind == "iaaft":
                sb = reference_phase(iaaft(filled - filled.mean(), rng), fs)
                sb[~ok] = np.nan
            elif kind == "pseudo_dyad":  # each stranger once with A, once with B
                if i >= 2 * len(pool):
                    break
                other = pool[i // 2]
                if len(other) < len(phase_b):
                    continue
                sb = other[: len(phase_b)]
            else:
                raise ValueError(f"unknown surrogate type {kind!r}; use one of {SURROGATE_TYPES}")
            pair = (sb, phase_b) if kind == "pseudo_dyad" and i % 2 else (phase_a, sb)
            values[i] = _mean_of_valid(windowed_plv(*pair, fs, window_s))
            done += 1
            if progress is not None and done % 25 == 0:
                progress(done, total)
        results[kind] = _summary(kind, observed, values)
    if progress is not None:
        progress(total, total)
    return results
