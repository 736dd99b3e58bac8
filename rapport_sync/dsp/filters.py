"""Small building blocks shared by the trackers: filter design, a ring buffer, rate finding."""

from __future__ import annotations

import cmath
import math
from functools import lru_cache

import numpy as np
from scipy import signal as sps

__all__ = ["BAND_STEP", "BREATH_RATE_LIMITS_HZ", "Ring", "band_sos", "dominant_frequency",
           "finite_median", "median_of", "on_band_grid", "wrap", "zero_phase"]

BREATH_RATE_LIMITS_HZ = (4.0 / 60.0, 40.0 / 60.0)
"""Adults breathe roughly 4-40 breaths/min; nothing in this band is ever filtered away."""
BAND_STEP = 2.0 ** (1.0 / 24.0)
"""Bands centred on a tracked breathing rate move in quarter-tone steps (2.9 %), not with
every small change of the rate."""


def on_band_grid(f_hz: float) -> float:
    """``f_hz`` rounded to the nearest :data:`BAND_STEP` (NaN stays NaN)."""
    if not (math.isfinite(f_hz) and f_hz > 0):
        return f_hz
    return float(BAND_STEP ** round(math.log(f_hz) / math.log(BAND_STEP)))


@lru_cache(maxsize=256)
def band_sos(lo_hz: float, hi_hz: float, fs: float, order: int = 2) -> np.ndarray:
    """Butterworth band-pass as second-order sections, edges clipped to (0, Nyquist).

    Cached (the live band moves in fixed steps); treat the result as read-only."""
    nyq = fs / 2.0
    hi = min(hi_hz, 0.95 * nyq)
    lo = min(max(lo_hz, 1e-3), 0.5 * hi)
    return np.asarray(sps.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos"))


@lru_cache(maxsize=64)
def _sos_zi(sos_bytes: bytes, n_sections: int) -> np.ndarray:
    return sps.sosfilt_zi(np.frombuffer(sos_bytes).reshape(n_sections, 6))


def zero_phase(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, x)`` for a 1-D ``x`` (odd padding, default length),
    the same numbers without its per-call set-up (validation, the initial-state solve):
    it runs every few seconds per person."""
    sos = np.asarray(sos, dtype=float)
    n = sos.shape[0]
    ntaps = 2 * n + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    edge = 3 * ntaps
    if len(x) <= edge:
        return np.asarray(sps.sosfiltfilt(sos, x))  # scipy's own error for short input
    ext = np.concatenate((2 * x[0] - x[edge:0:-1], x, 2 * x[-1] - x[-2:-edge - 2:-1]))
    zi = _sos_zi(sos.tobytes(), n)
    y, _ = sps.sosfilt(sos, ext, zi=zi * ext[0])
    y, _ = sps.sosfilt(sos, y[::-1], zi=zi * y[-1])
    return y[::-1][edge:-edge]


def sos_response(sos: np.ndarray | list[list[float]], f_hz: float, fs: float) -> complex:
    """Complex frequency response of second-order sections at one frequency (plain
    complex arithmetic: it runs every second per person, where numpy calls cost more)."""
    z1 = cmath.exp(-2j * math.pi * f_hz / fs)
    z2 = z1 * z1
    h = 1.0 + 0j
    for b0, b1, b2, a0, a1, a2 in (sos.tolist() if isinstance(sos, np.ndarray) else sos):
        h *= (b0 + b1 * z1 + b2 * z2) / (a0 + a1 * z1 + a2 * z2)
    return h


def median_of(values: list[float]) -> float:
    """Median of a short list (NaN if empty) without numpy's per-call overhead."""
    if not values:
        return float("nan")
    s = sorted(values)
    m = len(s) // 2
    return s[m] if len(s) % 2 else 0.5 * (s[m - 1] + s[m])


def finite_median(x: np.ndarray) -> float:
    """Median of the finite values of a 1-D array (NaN if none), by one partition."""
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return float("nan")
    k = n // 2
    if n % 2:
        return float(np.partition(x, k)[k])
    part = np.partition(x, (k - 1, k))
    return 0.5 * float(part[k - 1] + part[k])


class SosFilter:
    """A causal IIR filter (second-order sections) with its state carried between calls.

    Short chunks (the live case: a few samples, 25 times a second) run a plain loop,
    which avoids ``scipy.signal.sosfilt``'s per-call overhead; long ones use ``sosfilt``.
    Both compute the same recursion (transposed direct form II).
    """

    SHORT = 64

    def __init__(self, sos: np.ndarray) -> None:
        self.sos = np.asarray(sos, dtype=float)
        self.zi = np.zeros((self.sos.shape[0], 2))
        self._rows = [tuple(float(c) for c in row) for row in self.sos]

    def set_sos(self, sos: np.ndarray) -> None:
        """New coefficients, same state (the band moves without a restart)."""
        self.sos = np.asarray(sos, dtype=float)
        self._rows = [tuple(float(c) for c in row) for row in self.sos]

    def start_at(self, value: float) -> None:
        """State of a filter that has seen ``value`` forever (no start-up step)."""
        self.zi = sps.sosfilt_zi(self.sos) * value

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(x) > self.SHORT:
            y, self.zi = sps.sosfilt(self.sos, x, zi=self.zi)
            return np.asarray(y)
        return np.array(self.filter_list(x.tolist()))

    def filter_list(self, values: list[float]) -> list[float]:
        """The same recursion on a plain list (the live path: no numpy call per chunk)."""
        y = list(values)
        zi = self.zi
        for k, (b0, b1, b2, _, a1, a2) in enumerate(self._rows):
            z0, z1 = float(zi[k, 0]), float(zi[k, 1])
            for i, v in enumerate(y):
                out = b0 * v + z0
                z0 = b1 * v - a1 * out + z1
                z1 = b2 * v - a2 * out
                y[i] = out
            zi[k, 0], zi[k, 1] = z0, z1
        return y


def wrap(angle: np.ndarray | float) -> np.ndarray:
    """Wrap angles in radians to (-pi, pi] (NaN stays NaN)."""
    return np.pi - np.mod(np.pi - np.asarray(angle, dtype=float), 2.0 * np.pi)


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
        shift = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5)) if den < 0 else 0.0
    else:
        shift = 0.0
    f0 = float(f[k] + shift * (f[1] - f[0]))
    near = (f >= f0 / 1.25) & (f <= f0 * 1.25)
    wide = (f >= min(limits_hz[0], f0 / 2)) & (f <= max(1.0, 2.5 * f0))
    total = p[wide].sum()
    return f0, float(p[near].sum() / total) if total > 0 else 0.0
