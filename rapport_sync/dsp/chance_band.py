"""Live chance band of dyad locking: the partner's phases at other times, and a Rayleigh floor.

Two independent breathers lock by coincidence now and then (their rates drift into and out
of a match over minutes), and the chance band must show how high that goes. The band for
one window is the 95th percentile of the *same* statistic (zero-lag PLV, and the PLV at
the best lag over the same lag range) computed between one person's current window and
the partner's phases at other times:

* live (:class:`~rapport_sync.dsp.sync.DyadTracker`): the partner's recent past, shifted
  by at least one window plus a margin, up to the history kept (10 min by default), in
  both directions (A now against B's past, B now against A's past); this is the rolling
  circular-shift library of the synchrony reference, §3, restricted to the past so the
  live path stays causal;
* one window on its own (:func:`~rapport_sync.dsp.sync.window_sync` without a past):
  circular shifts of the partner within the window.

Every shift at once: one FFT cross-correlation of the unit phasors, a maximum filter over
the lag range for the best-lag statistic. Shifts whose overlap with valid samples is below
``min_overlap`` of the window's are NaN (skipped), never 0.

A short history under-samples the null (few effectively independent shifts, all from
the same few minutes of both people's rates), so the band is never below the analytic
floor of :func:`rayleigh_p95`, and before enough shifts exist it *is* that floor.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy.ndimage import maximum_filter1d

__all__ = ["MIN_BREATHS", "lag_count", "p95", "rayleigh_p95", "shifted_locking", "surrogate_p95"]

NAN = float("nan")
MIN_BREATHS = 4.0  # below this many breaths in a window there is no usable chance level


def p95(x: np.ndarray) -> float:
    """95th percentile of the finite values (nearest rank, no interpolation); NaN if none."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return NAN
    k = int(np.ceil(0.95 * x.size)) - 1
    return float(np.partition(x, k)[k])


def lag_count(max_lag_s: float, rate_hz: float) -> float:
    """Effectively independent lags in a scan over ±``max_lag_s`` at breathing rate ``rate_hz``.

    Shifting the partner by τ rotates every phase difference by about the same angle
    (2π f τ), which leaves the PLV unchanged; only the breath-to-breath wander of the
    partner's rate changes it, so R(τ) stays correlated over a large part of a breath.
    We count one independent lag per breath period of scan span, plus one:
    ``1 + 2·max_lag_s·rate_hz`` (at most ~1.9 with the 0.45-period cap on the scan).
    Measured on independent simulated and real-belt pairs, this reproduces the 95th
    percentile of the best-lag PLV within a few hundredths (benchmarks/sync_detection.py).
    """
    return 1.0 + 2.0 * max(0.0, max_lag_s) * max(0.0, rate_hz)


def rayleigh_p95(n_breaths: float, n_lags: float = 1.0, alpha: float = 0.05) -> float:
    """Analytic chance level of the PLV over ``n_breaths`` independent breaths.

    Without coupling, the PLV R of N independent phase differences has
    P(R > r) ≈ exp(−N r²) (Rayleigh), so its (1 − alpha) quantile is sqrt(ln(1/alpha)/N)
    (sqrt(ln 20 / N) at 95 %). The maximum over M independent lags exceeds r with
    probability 1 − (1 − exp(−N r²))^M, which gives sqrt(−ln(1 − (1 − alpha)^(1/M)) / N).

    Parameters
    ----------
    n_breaths : float
        Effective number of independent samples: the breaths in the window.
    n_lags : float
        Effectively independent lags scanned (1 for zero-lag PLV; see :func:`lag_count`).
    alpha : float
        One-sided level.

    Returns
    -------
    float
        The chance level, or NaN with fewer than :data:`MIN_BREATHS` breaths.
    """
    if not (np.isfinite(n_breaths) and n_breaths >= MIN_BREATHS):
        return NAN
    tail = 1.0 - (1.0 - alpha) ** (1.0 / max(1.0, n_lags))
    return float(min(1.0, np.sqrt(-np.log(tail) / n_breaths)))


def shifted_locking(z_now: np.ndarray, z_other: np.ndarray, max_lag: int,
                    min_overlap: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Locking of a window against every position of the partner's phasors at other times.

    Parameters
    ----------
    z_now : ndarray, shape (k, n)
        Unit phasors e^{iφ} of one person's window (NaN where invalid); k rows are
        computed in one batch.
    z_other : ndarray, shape (k, m), m ≥ n
        The partner's unit phasors at other times (NaN where invalid).
    max_lag : int
        Lag range (samples) of the best-lag statistic.
    min_overlap : float
        A position whose count of pairs valid on both sides is below this fraction of the
        window's valid samples gives NaN.

    Returns
    -------
    r0, rlag : ndarray, shape (k, m − n + 1)
        At position p: R(p) = |Σ_t z_now[t]·conj(z_other[p + t])| / pairs, and the maximum
        of R over positions p ± max_lag (truncated at the ends).
    """
    k, n = z_now.shape
    m = z_other.shape[1]
    ok_now, ok_other = np.isfinite(z_now), np.isfinite(z_other)
    nfft = sfft.next_fast_len(m)
    x = sfft.fft(np.where(ok_now, z_now, 0.0), nfft, axis=1)
    y = sfft.fft(np.where(ok_other, z_other, 0.0), nfft, axis=1)
    corr = np.abs(sfft.ifft(np.conj(x) * y, axis=1)[:, : m - n + 1])
    valid_now = ok_now.sum(axis=1)
    if np.all(valid_now == n):  # no gap in the windows: pair counts are running sums
        c = np.concatenate((np.zeros((k, 1)), np.cumsum(ok_other, axis=1)), axis=1)
        pairs = c[:, n:] - c[:, : m - n + 1]
    else:
        mx = sfft.rfft(ok_now.astype(float), nfft, axis=1)
        my = sfft.rfft(ok_other.astype(float), nfft, axis=1)
        pairs = np.rint(sfft.irfft(np.conj(mx) * my, nfft, axis=1)[:, : m - n + 1])
    enough = pairs >= np.maximum(min_overlap * valid_now[:, None], 1)
    r0 = np.where(enough, corr / np.maximum(pairs, 1), np.nan)
    if max_lag < 1:
        return r0, r0.copy()
    rlag = maximum_filter1d(np.where(enough, r0, -1.0), 2 * max_lag + 1, axis=1,
                            mode="nearest")
    return r0, np.where(enough & (rlag >= 0), rlag, np.nan)


def surrogate_p95(z_a: np.ndarray, z_b: np.ndarray, max_lag: int, min_shift: int,
                  past_a: np.ndarray | None = None, past_b: np.ndarray | None = None,
                  step: int = 1) -> tuple[float, float, int]:
    """95th percentiles of zero-lag and best-lag locking against the partner at other times.

    Parameters
    ----------
    z_a, z_b : ndarray
        Both people's unit phasors in the window (length n, NaN where invalid).
    max_lag : int
        Lag range (samples) of the best-lag statistic.
    min_shift : int
        Margin (samples) between the window and the partner's samples it is paired with.
    past_a, past_b : ndarray, optional
        Both people's unit phasors just before the window (same length). With them: A's
        window against B's past and B's window against A's past, the partner's stretch
        ending at least ``min_shift`` before the window. Without: B circularly shifted
        within the window by ``min_shift`` to ``n − min_shift``.
    step : int
        Take every ``step``-th shift (neighbouring shifts give nearly the same value).

    Returns
    -------
    plv95, lag_plv95, shifts : float, float, int
        The percentiles (NaN if no shift is usable) and the number of shifts behind them.
    """
    n = len(z_a)
    now = np.array([z_a, z_b])
    if past_a is not None and past_b is not None:
        # positions p: the partner's samples [p, p + n) end at least min_shift before the
        # window; max_lag more samples on the recent side let the lag scan reach them all
        m = len(past_a) - min_shift + max_lag
        if m - max_lag < n:
            return NAN, NAN, 0
        r0, rlag = shifted_locking(now, np.array([past_b[:m], past_a[:m]]), max_lag)
        keep = slice(m - n - max_lag, None, -step)  # newest first: shifts in whole steps
    else:
        if n - 2 * min_shift < 1:
            return NAN, NAN, 0
        other = np.concatenate((now[1:], now[1:, :-1]), axis=1)  # circular as linear
        r0, rlag = shifted_locking(now[:1], other, max_lag)
        keep = slice(min_shift, n - min_shift + 1, step)
    r0, rlag = r0[:, keep].ravel(), rlag[:, keep].ravel()
    return p95(r0), p95(rlag), int(np.isfinite(r0).sum())
