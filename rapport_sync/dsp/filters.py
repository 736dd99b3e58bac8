"""Small building blocks shared by the trackers: filter design, a ring buffer, rate finding."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

__all__ = ["BREATH_RATE_LIMITS_HZ", "Ring", "band_sos", "dominant_frequency", "wrap"]

BREATH_RATE_LIMITS_HZ = (4.0 / 60.0, 40.0 / 60.0)
"""Adults breathe roughly 4-40 breaths/min; nothing in this band is ever filtered away."""


def band_sos(lo_hz: float, hi_hz: float, fs: float, order: int = 2) -> np.ndarray:
    """Butterworth band-pass as second-order sections, edges clipped to (0, Nyquist)."""
    nyq = fs / 2.0
    hi = min(hi_hz, 0.95 * nyq)
    lo = min(max(lo_hz, 1e-3), 0.5 * hi)
    return np.asarray(sps.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos"))


def wrap(angle: np.ndarray | float) -> np.ndarray:
    """Wrap angles in radians to (-pi, pi]."""
    return np.angle(np.exp(1j * np.asarray(angle, dtype=float)))


class Ring:
    """The newest ``capacity`` samples of a 1-D (or (n, k)) float stream."""

    def __init__(self, capacity: int, width: int | None = None, fill: float = np.nan) -> None:
        shape = (capacity,) if width is None else (capacity, width)
        self.capacity = capacity
        self._data = np.full(shape, fill)
        self.total = 0  # samples pushed in all

    def push(self, x: np.ndarray) -> None:
        x = x[-self.capacity:]
        m = len(x)
        start = self.total % self.capacity
        first = min(m, self.capacity - start)
        self._data[start:start + first] = x[:first]
        self._data[: m - first] = x[first:]
        self.total += m

    def last(self, n: int) -> np.ndarray:
        """The newest ``min(n, available)`` samples in time order (a copy)."""
        n = min(n, self.capacity, self.total)
        end = self.total % self.capacity
        if n <= end:
            return self._data[end - n:end].copy()
        return np.concatenate((self._data[self.capacity - (n - end):], self._data[:end]))


def dominant_frequency(x: np.ndarray, fs: float,
                       limits_hz: tuple[float, float] = BREATH_RATE_LIMITS_HZ,
                       nfft: int = 4096) -> tuple[float, float]:
    """Breathing frequency as the periodogram peak, and how concentrated the power is.

    Parameters
    ----------
    x : ndarray
        Band-passed breathing signal (NaN samples are treated as 0).
    fs : float
        Sampling rate in Hz.
    limits_hz : (float, float)
        Search range of the fundamental.
    nfft : int
        FFT length (zero padded) for a fine frequency grid.

    Returns
    -------
    f0_hz : float
        Peak frequency (parabolic interpolation), NaN if the signal has no power.
    concentration : float
        Share of the 0.5-1.5 Hz·f0-band power within f0/1.25...1.25·f0, in [0, 1]:
        near 1 for regular breathing, small for noise.
    """
    x = np.where(np.isfinite(x), x, 0.0)
    x = x - x.mean()
    n = len(x)
    if n < 8:
        return float("nan"), 0.0
    nfft = max(nfft, int(2 ** np.ceil(np.log2(n))))
    p = np.abs(np.fft.rfft(x * np.hanning(n), nfft)) ** 2
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    band = (f >= limits_hz[0]) & (f <= limits_hz[1])
    if not band.any() or p[band].max() <= 0:
        return float("nan"), 0.0
    idx = np.flatnonzero(band)
    k = idx[np.argmax(p[idx])]
    if 0 < k < len(p) - 1:
        a, b, c = np.log(p[k - 1:k + 2] + 1e-300)
        den = a - 2 * b + c
        shift = 0.5 * (a - c) / den if den < 0 else 0.0
    else:
        shift = 0.0
    f0 = float(f[k] + shift * (f[1] - f[0]))
    near = (f >= f0 / 1.25) & (f <= f0 * 1.25)
    wide = (f >= min(limits_hz[0], f0 / 2)) & (f <= max(1.0, 2.5 * f0))
    total = p[wide].sum()
    return f0, float(p[near].sum() / total) if total > 0 else 0.0
