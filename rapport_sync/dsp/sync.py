"""Dyad synchrony on sliding windows, live, with a circular-shift chance band.

For two phase series on the same grid, each window gives (notation of docs/metrics.md):

* relative phase Δφ = φa − φb; ``plv`` = |⟨e^{iΔφ}⟩|, ``mean_relative_phase_deg`` = arg⟨e^{iΔφ}⟩
  (> 0: A ahead), ``alignment`` = ⟨cos Δφ⟩ (+1 in phase, −1 anti-phase);
* ``ppc`` = (N·PLV² − 1)/(N − 1), N = breaths in the window (Vinck et al. 2010);
* lag-scanned locking R(τ) = |⟨e^{i(φa(t) − φb(t+τ))}⟩| for |τ| ≤ max lag (capped at 0.45 of a
  breath period, beyond which lags alias onto the next breath): ``lag_plv`` = max R,
  ``lag_s`` = argmax (> 0: B follows A, so A leads);
* windowed lagged cross-correlation of the signals with Boker's peak picking (the local
  maximum nearest zero lag): ``wcc_r``, ``wcc_lag_s``;
* rates from each person's phase advance, their difference and relative mismatch;
* chance band: the same statistics for every circular shift of B within the window by at
  least ``min_shift_s`` (all shifts at once by FFT); ``chance_plv95`` / ``chance_lag_plv95``
  are their 95th percentiles.

Everything runs on the phases decimated to ~5 Hz (breathing phase is smooth, so the
numbers are unchanged while the cost drops 25-fold). :class:`DyadTracker` recomputes on a
cadence; :func:`sync_series` is its batch form.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

from .filters import Ring

__all__ = ["DyadTracker", "SyncState", "lag_peak", "sync_series", "window_sync"]

NAN = float("nan")


@dataclass(frozen=True, slots=True)
class SyncState:
    """Synchrony of the window ending at ``time_s`` (grid seconds). See module docstring."""

    time_s: float
    plv: float
    ppc: float
    alignment: float
    mean_relative_phase_deg: float
    lag_s: float
    leader: str  # "a", "b" or "none"
    lag_plv: float
    chance_plv95: float
    chance_lag_plv95: float
    valid_fraction: float
    n_breaths: float  # effective N: breaths in the window (mean of both people)
    rate_a_bpm: float
    rate_b_bpm: float
    rate_diff_bpm: float  # A minus B
    rate_mismatch: float  # |fa − fb| / mean(fa, fb)
    wcc_r: float
    wcc_lag_s: float
    window_s: float


def lag_peak(values: np.ndarray, lags_s: np.ndarray, nearest_zero: bool = False
             ) -> tuple[float, float]:
    """Peak of a lag curve: the global maximum, or (Boker) the local maximum nearest lag 0.

    Returns ``(peak_value, peak_lag_s)`` with parabolic refinement of the lag; NaN if none.
    """
    ok = np.isfinite(values)
    if ok.sum() < 3:
        return NAN, NAN
    v = np.where(ok, values, -np.inf)
    if nearest_zero:
        inner = np.flatnonzero((v[1:-1] >= v[:-2]) & (v[1:-1] >= v[2:])) + 1
        if inner.size == 0:
            return NAN, NAN
        k = int(inner[np.argmin(np.abs(lags_s[inner]))])
    else:
        k = int(np.argmax(v))
    lag = float(lags_s[k])
    if 0 < k < len(v) - 1 and np.all(np.isfinite(v[k - 1:k + 2])):
        a, b, c = v[k - 1:k + 2]
        den = a - 2 * b + c
        if den < 0:
            lag += 0.5 * (a - c) / den * float(lags_s[1] - lags_s[0])
    return float(v[k]), float(lag)


def _p95(x: np.ndarray) -> float:
    """95th percentile (nearest rank, no interpolation: cheap and unbiased enough here)."""
    k = int(np.ceil(0.95 * len(x))) - 1
    return float(np.partition(x, k)[k])


def _cycles(p: np.ndarray, fs: float) -> tuple[float, float]:
    """Breathing frequency (Hz) from the phase advance, and the seconds it was measured over."""
    d = np.angle(np.exp(1j * np.diff(p)))
    d = d[np.isfinite(d)]
    if d.size == 0:
        return NAN, 0.0
    seconds = d.size / fs
    return float(d.sum() / (2 * np.pi) / seconds), seconds


def window_sync(phase_a: np.ndarray, phase_b: np.ndarray, signal_a: np.ndarray,
                signal_b: np.ndarray, fs: float, time_s: float = NAN, max_lag_s: float = 3.0,
                min_shift_s: float = 10.0, min_lead_s: float = 0.2) -> SyncState:
    """Synchrony metrics of one window (arrays already on the analysis rate ``fs``)."""
    pa, pb = np.asarray(phase_a, float), np.asarray(phase_b, float)
    n = len(pa)
    valid = np.isfinite(pa) & np.isfinite(pb)
    nv = int(valid.sum())
    window_s = n / fs
    fa, _ = _cycles(pa, fs)
    fb, _ = _cycles(pb, fs)
    if nv < max(8, 0.2 * n) or not (fa > 0 and fb > 0):
        return SyncState(time_s, NAN, NAN, NAN, NAN, NAN, "none", NAN, NAN, NAN, nv / max(n, 1),
                         NAN, fa * 60, fb * 60, (fa - fb) * 60, NAN, NAN, NAN, window_s)
    za = np.where(valid, np.exp(1j * np.where(valid, pa, 0.0)), 0.0)
    zb = np.where(valid, np.exp(1j * np.where(valid, pb, 0.0)), 0.0)
    mean = (za * np.conj(zb)).sum() / nv
    plv = float(abs(mean))
    fbar = 0.5 * (fa + fb)
    n_eff = nv / fs * fbar
    ppc = float((n_eff * plv**2 - 1) / (n_eff - 1)) if n_eff > 1 else NAN
    # lag scan (zero padded = linear lags) and the signals' cross-correlation, one batched FFT:
    # corr(u, v)[k] = Σ_t conj(u[t]) v[t+k], so conj(za), conj(zb) give Σ za[t] conj(zb[t+k])
    max_lag = int(np.floor(min(max_lag_s, 0.45 / fbar) * fs))
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    m = valid.astype(float)
    sa, sb = np.asarray(signal_a, float), np.asarray(signal_b, float)
    ok = valid & np.isfinite(sa) & np.isfinite(sb)
    xa = np.where(ok, sa - (sa[ok].mean() if ok.any() else 0.0), 0.0)
    xb = np.where(ok, sb - (sb[ok].mean() if ok.any() else 0.0), 0.0)
    spec = np.fft.fft(np.array([np.conj(za), np.conj(zb), m, xa, xb, ok]), nfft, axis=1)
    corr = np.fft.ifft(np.conj(spec[[0, 2, 3, 5]]) * spec[[1, 2, 4, 5]], axis=1)
    lags = np.arange(-max_lag, max_lag + 1)
    c_lag, n_lag = corr[0, lags % nfft], np.rint(corr[1, lags % nfft].real)
    r_lag = np.where(n_lag > 0.5 * nv, np.abs(c_lag) / np.maximum(n_lag, 1), np.nan)
    lag_plv, lag_s = lag_peak(r_lag, lags / fs)
    wcc_r, wcc_lag = _wcc(corr[2, lags % nfft].real, np.rint(corr[3, lags % nfft].real),
                          xa, xb, int(ok.sum()), lags / fs)
    # circular-shift surrogates of B within the window: all shifts by one FFT
    cspec = np.fft.fft(np.array([np.conj(za), np.conj(zb), m]), axis=1)
    circ = np.fft.ifft(np.conj(cspec[[0, 2]]) * cspec[[1, 2]], axis=1)
    ccount = np.rint(circ[1].real)
    with np.errstate(invalid="ignore", divide="ignore"):
        r_circ = np.where(ccount > 0.5 * nv, np.abs(circ[0]) / ccount, 0.0)
    lo = int(np.ceil(min_shift_s * fs))
    chance, chance_lag = NAN, NAN
    if n - 2 * lo >= 10:
        chance = _p95(r_circ[lo:n - lo + 1])
        rmax = maximum_filter1d(r_circ, size=2 * max_lag + 1, mode="wrap")
        chance_lag = _p95(rmax[lo:n - lo + 1])
    leader = "none"
    if np.isfinite(lag_s) and abs(lag_s) >= min_lead_s and not lag_plv <= chance_lag:
        leader = "a" if lag_s > 0 else "b"
    return SyncState(time_s, plv, ppc, float((za * np.conj(zb)).real.sum() / nv),
                     float(np.degrees(np.angle(mean))), lag_s, leader, lag_plv, chance,
                     chance_lag, nv / n, float(n_eff), fa * 60, fb * 60, (fa - fb) * 60,
                     float(abs(fa - fb) / fbar), wcc_r, wcc_lag, window_s)


def _wcc(cross: np.ndarray, count: np.ndarray, xa: np.ndarray, xb: np.ndarray, n_ok: int,
         lags_s: np.ndarray) -> tuple[float, float]:
    """Lagged correlation r(τ) from raw cross-products and pair counts; Boker's peak."""
    den = np.sqrt((xa**2).sum() * (xb**2).sum())
    if n_ok < 8 or den <= 0:
        return NAN, NAN
    r = np.where(count > 0.5 * n_ok, cross / den * n_ok / np.maximum(count, 1), np.nan)
    return lag_peak(r, lags_s, nearest_zero=True)


class DyadTracker:
    """Streaming dyad synchrony, recomputed every ``update_every_s`` on the last window.

    Parameters
    ----------
    fs : float
        Grid rate of the inputs (Hz).
    window_s : float
        Sliding window (s); 60 s by default (at 30 s, chance PLV is ~0.33).
    max_lag_s : float
        Largest lag scanned (also capped at 0.45 of the breath period).
    update_every_s : float
        Cadence of the recomputation.
    min_fill : float
        Fraction of a window that must have been seen before the first state.
    history_len : int
        How many states :attr:`history` keeps.
    """

    def __init__(self, fs: float = 25.0, window_s: float = 60.0, max_lag_s: float = 3.0,
                 update_every_s: float = 1.0, min_fill: float = 0.5, min_shift_s: float = 10.0,
                 analysis_hz: float = 5.0, history_len: int = 4 * 3600) -> None:
        self.fs, self.window_s, self.max_lag_s = float(fs), float(window_s), max_lag_s
        self.min_shift_s = min_shift_s
        self._dec = max(1, round(fs / analysis_hz))
        self._fs_dec = self.fs / self._dec
        self._win = round(window_s * self._fs_dec)
        self._min = int(np.ceil(min_fill * self._win))
        self._hop = max(1, round(update_every_s * fs))
        self._bufs = [Ring(self._win) for _ in range(4)]
        self._n = 0
        self.history: deque[SyncState] = deque(maxlen=history_len)
        self.state: SyncState | None = None

    def update(self, phase_a: np.ndarray, phase_b: np.ndarray, signal_a: np.ndarray,
               signal_b: np.ndarray) -> SyncState | None:
        """Add aligned grid samples of both people; return the newest state (or None)."""
        cols = [np.asarray(c, dtype=float).reshape(-1) for c in
                (phase_a, phase_b, signal_a, signal_b)]
        n = len(cols[0])
        if any(len(c) != n for c in cols):
            raise ValueError("phase_a, phase_b, signal_a and signal_b must have equal length")
        i = 0
        while i < n:
            start = self._n + i  # absolute index of cols[:, i]
            j = min(n, i + self._hop - start % self._hop)
            off = (-start) % self._dec  # keep samples whose absolute index is a multiple
            for buf, c in zip(self._bufs, cols):
                buf.push(c[i + off:j:self._dec])
            if (self._n + j) % self._hop == 0:
                self._compute(self._n + j)
            i = j
        self._n += n
        return self.state

    def _compute(self, n_abs: int) -> None:
        have = min(self._bufs[0].total, self._win)
        if have < self._min:
            return
        pa, pb, sa, sb = (b.last(have) for b in self._bufs)
        self.state = window_sync(pa, pb, sa, sb, self._fs_dec, n_abs / self.fs, self.max_lag_s,
                                 self.min_shift_s)
        self.history.append(self.state)


def sync_series(phase_a: np.ndarray, phase_b: np.ndarray, signal_a: np.ndarray,
                signal_b: np.ndarray, fs: float = 25.0, window_s: float = 60.0,
                **options: float) -> list[SyncState]:
    """Batch form of :class:`DyadTracker`: every state it would produce on these arrays."""
    n = len(phase_a)
    dy = DyadTracker(fs, window_s, history_len=n + 1, **options)  # type: ignore[arg-type]
    dy.update(phase_a, phase_b, signal_a, signal_b)
    return list(dy.history)
