"""Breathing phase: the causal live estimator and the offline reference it is scored against.

Convention (Hilbert): phase 0 is the end-inspiration peak, ±pi the end-expiration trough,
with inhalation plotted upward; phase increases with time.

Live (:class:`CausalPhase`): a causal first-order Butterworth band-pass whose geometric
centre follows the person's breathing rate, with a first-order low-pass above it, a
derivative quadrature ``q = -y'/omega``, and the phase of ``y + jq`` corrected by the
known phase of the filter chain at the tracked rate. The band is as wide as the input's
noise allows (:func:`band_width_for`): a wide band follows breaths much shorter or longer
than the tracked period and keeps the breath's shape the way the wide offline reference
sees it, a narrow one keeps broadband noise out.

Self-calibration (:class:`PhaseCalibration`): the difference between the two is mostly a
fixed function of the phase itself (breaths are not sinusoids: a fast inhale, a slow
exhale, an end-expiratory pause). Every few seconds the reference is computed on the
*past* buffer, away from its edges, compared with the causal phase stored for those same
samples, and a low-order Fourier correction c(φ) is fitted (with forgetting). New samples
get φ + c(φ). Only data at least ``edge_s`` old is used: still causal.

Offline (:func:`reference_phase`): zero-phase band-pass 0.05-0.8 Hz (2nd-order
Butterworth, ``sosfiltfilt``) and ``scipy.signal.hilbert`` over the whole recording; no
phase where the input stays constant for :data:`FLAT_RUN_S` or longer.
"""

from __future__ import annotations

import cmath
import math
from functools import lru_cache

import numpy as np
from scipy import linalg
from scipy import signal as sps

from .filters import BAND_STEP, SosFilter, band_sos, on_band_grid, sos_response, wrap

__all__ = [
    "FLAT_RUN_S",
    "REFERENCE_BAND_HZ",
    "CausalPhase",
    "PhaseFilter",
    "band_edges",
    "band_width_for",
    "causal_phase",
    "in_band_snr_db",
    "phase_error_deg",
    "reference_analytic",
    "reference_phase",
    "window_normal_equations",
]

REFERENCE_BAND_HZ = (0.05, 0.8)
FLAT_RUN_S = 10.0  # input constant this long has no breathing phase (an apnea is >= 10 s)
BAND_RATIO = (2.45, 5.0)  # the live band is f0/r ... r*f0, r from narrow (noisy) to wide (clean)
LOWPASS_RATIO = (1.5, 2.0)  # and a first-order low-pass at this multiple of the upper edge
NOISE_BAND_HZ = (2.0, 8.0)  # where the noise a wider band would let in is measured
CLEAN_SNR_DB = (21.5, 31.5)  # in-band SNR at or below: narrowest band; at or above: widest
WIDTH_STEPS = 4  # the width moves in quarter steps, not with every new noise estimate


def band_edges(f0_hz: float, width: float = 0.0) -> tuple[float, float, float]:
    """Lower and upper edge of the live band and its low-pass corner (Hz), for a width
    from 0 (narrowest: f0/2.45 ... 2.45*f0, low-pass at 1.5 x) to 1 (widest: f0/5 ...
    5*f0, low-pass at 2 x)."""
    r = BAND_RATIO[0] + width * (BAND_RATIO[1] - BAND_RATIO[0])
    lp = LOWPASS_RATIO[0] + width * (LOWPASS_RATIO[1] - LOWPASS_RATIO[0])
    return f0_hz / r, f0_hz * r, f0_hz * r * lp


@lru_cache(maxsize=512)
def live_band_sos(f0_hz: float, fs: float, width: float = 0.0) -> np.ndarray:
    """The live band around ``f0_hz``: a first-order Butterworth band-pass and a
    first-order low-pass above it (edges from :func:`band_edges`). Cached (centre and
    width move in fixed steps); treat the result as read-only.

    Always two first-order sections, so a new width or centre keeps the filter state. A
    second-order band shifts the phase of breaths much shorter or longer than 1/f0 far
    more (its phase is 0 only at the centre), which costs accuracy on irregular breathing;
    the low-pass keeps out the noise that the gentler band lets in."""
    lo, hi, corner = band_edges(f0_hz, width)
    low = sps.butter(1, min(corner, 0.4 * fs), btype="low", fs=fs, output="sos")
    return np.vstack([band_sos(lo, min(hi, 0.45 * fs), fs, order=1), low])


def in_band_snr_db(x: np.ndarray, fs: float, f0_hz: float, top_hz: float | None = None
                   ) -> float:
    """Breathing power in the narrowest live band over the broadband noise that a wider
    band would let in, in dB per frequency bin (NaN if unknown).

    The noise density is the median periodogram over 2-8 Hz (:data:`NOISE_BAND_HZ`; from
    0.6 x Nyquist for slow grids), where breathing has almost no power left, and below
    ``top_hz`` (0.4 x the rate of a source sampled slower than the grid: above that its
    samples carry nothing), over ln 2 (the median of a white noise's periodogram bins,
    exponentially distributed, is ln 2 times their mean). NaN if less than 1 Hz of that
    band is left: a source sampled at 5 Hz shows no noise to judge by."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 10 * fs or not math.isfinite(f0_hz) or f0_hz <= 0:
        return float("nan")
    n = len(x)
    w = np.hanning(n)
    p = np.abs(np.fft.rfft((x - x.mean()) * w)) ** 2 * (2.0 / (fs * float(w @ w)))
    f = np.fft.rfftfreq(n, 1.0 / fs)
    noise_lo = min(NOISE_BAND_HZ[0], 0.3 * fs)
    noise_hi = min(NOISE_BAND_HZ[1], 0.5 * fs, top_hz if top_hz is not None else math.inf)
    if noise_hi < noise_lo + 1.0:
        return float("nan")  # no noise band left to judge by
    density = float(np.median(p[(f >= noise_lo) & (f <= noise_hi)])) / math.log(2.0)
    lo, hi, _ = band_edges(f0_hz)
    band = (f >= lo) & (f <= hi)
    power = float(p[band].sum())
    if power <= 0:
        return float("nan")
    return 10.0 * math.log10(power / max(density * band.sum(), power * 1e-12))


def band_width_for(snr_db: float, current: float | None = None) -> float:
    """Live band width (0 narrow ... 1 wide, in quarter steps) for an in-band SNR.

    With the ``current`` width, a change needs the SNR three quarters of a step away
    from it (a step is 2.5 dB), not half: an SNR near a step edge would otherwise flip
    the width every few seconds, and each change is a small transient in the phase."""
    if not math.isfinite(snr_db):
        return 0.0
    lo, hi = CLEAN_SNR_DB
    steps = min(max((snr_db - lo) / (hi - lo), 0.0), 1.0) * WIDTH_STEPS
    if current is not None and abs(steps - current * WIDTH_STEPS) < 0.75:
        return current
    return round(steps) / WIDTH_STEPS


class CausalPhase:
    """Streaming causal phase of an already drift-free breathing signal.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    f0_hz : float
        Initial breathing frequency (the band centre until :meth:`set_rate` is called).
    pre_sos : ndarray, optional
        Second-order sections of the filter the input already went through, so its phase
        at the breathing rate is corrected as well.
    """

    def __init__(self, fs: float, f0_hz: float = 0.25, pre_sos: np.ndarray | None = None) -> None:
        self.fs = float(fs)
        self._pre = pre_sos
        self._filter: SosFilter | None = None
        self._prev_y = 0.0
        self.f0_hz = float("nan")
        self._band_f0 = float("nan")
        self.width = 0.0
        self.set_rate(f0_hz)

    def set_rate(self, f0_hz: float, width: float | None = None) -> None:
        """Move the band to a new breathing frequency (no-op for small changes) and,
        if given, to a new width (see :func:`live_band_sos`)."""
        if not math.isfinite(f0_hz) or f0_hz <= 0 or (
                f0_hz == self.f0_hz and width in (None, self.width)):
            return
        self.f0_hz = float(f0_hz)
        new_width = width is not None and width != self.width
        if width is not None:
            self.width = float(width)
        if new_width or not (math.isfinite(self._band_f0)
                             and abs(math.log(f0_hz / self._band_f0)) < math.log(BAND_STEP)):
            self._band_f0 = on_band_grid(f0_hz)
            self.sos = live_band_sos(self._band_f0, self.fs, self.width)
            if self._filter is None:
                self._filter = SosFilter(self.sos)
            else:
                self._filter.set_sos(self.sos)
        self._rotation = cmath.exp(-1j * self._calibration())

    def _calibration(self) -> float:
        """Phase (rad) the filter chain adds at the tracked rate, minus the half-sample step."""
        h = sos_response(self.sos, self.f0_hz, self.fs)
        if self._pre is not None:
            h *= sos_response(self._pre, self.f0_hz, self.fs)
        return cmath.phase(h) - math.pi * self.f0_hz / self.fs

    def reset(self) -> None:
        """Forget the filter state (after a long gap)."""
        assert self._filter is not None
        self._filter.zi[:] = 0.0
        self._prev_y = 0.0

    def flip(self) -> None:
        """Continue as if the input had always had the opposite sign."""
        if self._filter is not None:
            self._filter.zi *= -1.0
        self._prev_y = -self._prev_y

    def update(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filter new samples; return ``(phase_rad, envelope)`` for each of them."""
        phase, env = self.update_list(np.asarray(x, dtype=float).tolist())
        return np.array(phase), np.array(env)

    def update_list(self, x: list[float]) -> tuple[list[float], list[float]]:
        """:meth:`update` on a plain list (the live path: no numpy call per sample)."""
        assert self._filter is not None
        y = self._filter.filter_list(x)
        scale = self.fs / (2.0 * math.pi * self.f0_hz)
        rr, ri = self._rotation.real, self._rotation.imag
        prev = self._prev_y
        phase, env = [0.0] * len(y), [0.0] * len(y)
        atan2, hypot = math.atan2, math.hypot
        for i, v in enumerate(y):
            mid, quad = 0.5 * (v + prev), (prev - v) * scale
            zr, zi = mid * rr - quad * ri, mid * ri + quad * rr
            phase[i], env[i] = atan2(zi, zr), hypot(zr, zi)
            prev = v
        self._prev_y = prev
        return phase, env


@lru_cache(maxsize=16)
def _reference_gain(n: int, fs: float, pre: tuple[float, ...] | None = None) -> np.ndarray:
    """The reference's zero-phase band-pass and Hilbert transform as one FFT gain: the
    squared magnitude of the band (what ``sosfiltfilt`` applies) on positive frequencies,
    doubled, none on negative ones. Away from the ends of the buffer it gives the
    reference phase of :func:`reference_phase` at a tenth of the cost.

    ``pre`` (second-order sections, flattened) is a causal filter the buffer already went
    through; the gain undoes it, so the result is the reference of the input *before* that
    filter (a drift high-pass leads the breathing phase by several degrees at slow rates,
    which the live phase must not learn)."""
    f = np.fft.fftfreq(n, 1.0 / fs)
    _, h = sps.sosfreqz(band_sos(*REFERENCE_BAND_HZ, fs), worN=np.abs(f), fs=fs)
    gain = np.where(f > 0, 2.0, 0.0) * np.abs(h) ** 2
    if pre is None:
        return gain
    _, h_pre = sps.sosfreqz(np.reshape(pre, (-1, 6)), worN=np.abs(f), fs=fs)
    return gain / np.where((f > 0) & (np.abs(h_pre) > 1e-3), h_pre, 1.0)


def _sos_key(sos: np.ndarray | None) -> tuple[float, ...] | None:
    return None if sos is None else tuple(np.asarray(sos, dtype=float).ravel().tolist())


def reference_analytic(y: np.ndarray, fs: float, pre_sos: np.ndarray | None = None
                       ) -> np.ndarray:
    """The reference's analytic signal of a finite buffer (one FFT; see
    :func:`_reference_gain`), ``pre_sos`` undone; reliable away from the buffer's ends."""
    y = np.asarray(y, dtype=float)
    return np.fft.ifft(np.fft.fft(y - y.mean()) * _reference_gain(len(y), fs, _sos_key(pre_sos)))


def _harmonics(phi: np.ndarray, order: int) -> np.ndarray:
    cols = [np.ones_like(phi)]
    for k in range(1, order + 1):
        cols += [np.cos(k * phi), np.sin(k * phi)]
    return np.column_stack(cols)


class PhaseCalibration:
    """Learned correction c(φ) that maps the causal phase onto the offline reference.

    Parameters
    ----------
    fs : float
        Sampling rate (Hz).
    order : int
        Number of harmonics of c(φ).
    edge_s : float
        Samples closer than this to either end of the buffer are not used (the zero-phase
        filter and the Hilbert transform are unreliable there).
    forget : float
        Weight of the previous fit at each new fit (exponential forgetting).
    max_correction_deg : float
        Clip of |c(φ)|, so a bad fit can never turn the phase around.
    """

    def __init__(self, fs: float, order: int = 3, edge_s: float = 15.0, forget: float = 0.75,
                 max_correction_deg: float = 45.0) -> None:
        self.fs, self.order, self.edge = fs, order, int(edge_s * fs)
        self.forget = forget
        self.max_correction = np.radians(max_correction_deg)
        k = 2 * order + 1
        self._ata = np.zeros((k, k))
        self._atb = np.zeros(k)
        self.coef: np.ndarray = np.zeros(k)
        self._coef: list[float] = []  # the same as plain floats, empty until learned
        self._pairs: list[tuple[float, float]] = []  # (a_k, b_k) for k = 1 ... order

    def learn(self, ref: np.ndarray, phase: np.ndarray) -> None:
        """Fit on a past buffer: ``ref`` its reference phase (:func:`reference_analytic`),
        ``phase`` the raw causal phase of the same samples."""
        if len(ref) < 2 * self.edge + 10 * self.fs:
            return
        sl = slice(self.edge, len(ref) - self.edge)
        p, r = phase[sl], ref[sl]
        ok = np.isfinite(p) & np.isfinite(r)
        if ok.sum() < 5 * self.fs:
            return
        err = wrap(r[ok] - p[ok])
        keep = np.abs(err) < np.pi / 2  # outliers (transients) would bend the fit
        a = _harmonics(p[ok][keep], self.order)
        self._ata = self.forget * self._ata + a.T @ a / len(a)
        self._atb = self.forget * self._atb + a.T @ err[keep] / len(a)
        ridge = 1e-3 * np.eye(len(self._atb))
        self.coef = np.linalg.solve(self._ata + ridge, self._atb)
        self._coef = [float(c) for c in self.coef]
        self._pairs = [(self._coef[2 * k - 1], self._coef[2 * k])
                       for k in range(1, self.order + 1)]

    def apply(self, phase: np.ndarray) -> np.ndarray:
        """Corrected phase (NaN stays NaN)."""
        return np.array(self.apply_list(np.asarray(phase, dtype=float).tolist()))

    def apply_list(self, phase: list[float]) -> list[float]:
        """:meth:`apply` on a plain list (the live path)."""
        if not self._coef:
            return phase
        a0, pairs, lim = self._coef[0], self._pairs, self.max_correction
        out = list(phase)
        cos, sin, pi = math.cos, math.sin, math.pi
        for i, p in enumerate(phase):
            if math.isnan(p):
                continue
            c1, s1 = cos(p), sin(p)
            ck, sk, c = 1.0, 0.0, a0
            for a, b in pairs:  # cos kp, sin kp by rotating one step of p at a time
                ck, sk = ck * c1 - sk * s1, sk * c1 + ck * s1
                c += a * ck + b * sk
            v = p + min(max(c, -lim), lim)
            out[i] = v - 2 * pi if v > pi else v + 2 * pi if v <= -pi else v
        return out


class PhaseFilter:
    """A causal FIR, learned from the person's own past, from the last ``taps_s`` of input
    to the reference's analytic signal: the least-squares (Wiener) causal estimate of the
    reference phase now.

    Every learning step takes a past buffer of the input and the reference's analytic
    signal z on it (:func:`reference_analytic`, the drift filter undone), and adds the
    normal equations of ``z[t] ≈ Σ_q h[q]·(u[t − q] − mean of those taps)`` for every t
    at least ``start_s`` after the buffer's start and ``settle_s`` before its end to the
    earlier ones, with forgetting, each buffer's divided by its input power (so a buffer
    holding one huge movement artefact weighs no more than any other). The filter is the
    ridge solution; the phase now is arg of its output. It uses only the past: still
    causal.

    Unlike a band around the tracked rate, the filter learns the whole mapping the
    reference applies to this person's breathing (shape, typical irregularity, noise), so
    it needs no assumption about what a breath looks like. It knows nothing about rates
    it has not seen: the tracker falls back to the band-pass when the rate moves away.

    Parameters
    ----------
    fs : float
        Sampling rate (Hz).
    taps_s : float
        Length of the filter (s).
    start_s, settle_s : float
        Margins at the start and end of a buffer that are not fitted.
    forget : float
        Weight of the earlier normal equations at each new fit.
    ridge : float
        Diagonal load, relative to the mean input power, on the newest tap; older taps get
        ``1 + (age / ridge_age_s)²`` times as much, so the filter leans on the last breath
        unless older input clearly helps (and follows a sudden change sooner).
    ridge_age_s : float
        Tap age (s) at which the load has doubled.
    """

    def __init__(self, fs: float, taps_s: float = 10.0, start_s: float = 15.0,
                 settle_s: float = 5.0, forget: float = 0.95, ridge: float = 1e-4,
                 ridge_age_s: float = 2.0) -> None:
        self.fs = float(fs)
        self.taps = max(2, round(taps_s * fs))
        self.start, self.settle = round(start_s * fs), round(settle_s * fs)
        self.forget, self.ridge = forget, ridge
        age = np.arange(self.taps)[::-1] / self.fs  # of each tap, oldest first
        self._load_shape = 1.0 + (age / ridge_age_s) ** 2
        self.reset()

    def reset(self) -> None:
        """Forget everything learned (after the input changed sign, say)."""
        self._ata = np.zeros((self.taps, self.taps))
        self._atz = np.zeros((self.taps, 2))  # real and imaginary part
        self.coef: np.ndarray | None = None  # (taps, 2): real, imaginary; oldest first

    def learn(self, u: np.ndarray, z: np.ndarray) -> None:
        """Fit on a past buffer of the input ``u`` (finite) and its reference's analytic
        signal ``z``."""
        n, k = len(u), self.taps
        first = max(self.start, k - 1)
        if n - self.settle - first < 10 * self.fs:
            return
        end = n - self.settle
        ata, atz = window_normal_equations(u, z, first, end, k)
        power = float(np.trace(ata))
        if not power > 0:
            return
        scale = k / power  # every buffer weighs the same, however deep its input
        self._ata = self.forget * self._ata + ata * scale
        self._atz = self.forget * self._atz + atz * scale
        load = self.ridge * float(np.trace(self._ata)) / k
        factor = linalg.cho_factor(self._ata + np.diag(load * self._load_shape))
        h = linalg.cho_solve(factor, self._atz)
        # taps on the demeaned window = taps minus their mean on the window itself
        self.coef = h - h.mean(axis=0)

    def apply(self, u: np.ndarray) -> np.ndarray:
        """Phase (rad) at each of the newest ``len(u) - taps + 1`` samples of ``u``
        (NaN where the taps hold a NaN). Needs a learned filter."""
        assert self.coef is not None
        u = np.asarray(u, dtype=float)
        re = np.convolve(u, self.coef[::-1, 0], "valid")
        im = np.convolve(u, self.coef[::-1, 1], "valid")
        return np.arctan2(im, re)


def window_normal_equations(u: np.ndarray, z: np.ndarray, first: int, end: int, k: int
                            ) -> tuple[np.ndarray, np.ndarray]:
    """``XᵀX`` and ``Xᵀ[Re z, Im z]`` for the rows ``X[t] = u[t-k+1 : t+1]`` minus their
    mean, ``t`` from ``first`` to ``end - 1``, without forming ``X``.

    Neighbouring windows share all but one sample, so the Gram matrix follows from its
    first row (a correlation) by ``G[i+1, j+1] = G[i, j] + u[N+i]·u[N+j] − u[i]·u[j]``
    along each diagonal (on the windows' span), and the mean removal is a rank-two
    correction. Equal to the direct product to rounding (``tests/test_dsp_breathing.py``),
    at a third of its cost for 10-s windows over 70 s."""
    sw = np.lib.stride_tricks.sliding_window_view
    seg = np.asarray(u[first - k + 1:end], dtype=float)  # row r is seg[r : r + k]
    n = end - first
    first_row = np.correlate(seg, seg[:n], "valid")  # [d] = Σ_r seg[r + d]·seg[r]
    head, tail, pad = seg[:k - 1], seg[n:], np.zeros(k)
    # [t, d] = G[t + 1, t + 1 + d] − G[t, t + d]
    step = (tail[:, None] * sw(np.concatenate((tail, pad)), k)[:k - 1]
            - head[:, None] * sw(np.concatenate((head, pad)), k)[:k - 1])
    skew = np.zeros((k, 2 * k))  # skew[i, i + d] = G[i, i + d]: diagonals as columns
    diagonals = np.lib.stride_tricks.as_strided(
        skew, (k, k), (skew.strides[0] + skew.strides[1], skew.strides[1]))
    diagonals[0] = first_row
    np.cumsum(step, axis=0, out=diagonals[1:])
    diagonals[1:] += first_row
    upper = skew[:, :k]
    gram = upper + upper.T
    gram[np.diag_indices(k)] *= 0.5
    means = np.convolve(seg, np.full(k, 1.0 / k), "valid")
    with_means = np.correlate(seg, means, "valid")  # [q] = Σ_r seg[r + q]·means[r]
    gram += float(means @ means) - with_means[:, None] - with_means[None, :]
    zt = z[first:end]
    cross = np.column_stack((np.correlate(seg, zt.real, "valid"),
                             np.correlate(seg, zt.imag, "valid")))
    cross -= np.array([means @ zt.real, means @ zt.imag])[None, :]
    return gram, cross


def causal_phase(x: np.ndarray, fs: float, f0_hz: float = 0.25) -> np.ndarray:
    """Causal phase of a drift-free breathing signal at a fixed band centre ``f0_hz``.

    The batch form of :class:`CausalPhase` without rate tracking (the full live tracker,
    with rate tracking, gating and events, is :class:`rapport_sync.dsp.breathing.BreathTracker`).
    """
    return CausalPhase(fs, f0_hz).update(np.asarray(x, dtype=float))[0]


def _flat_runs(x: np.ndarray, min_len: int) -> np.ndarray:
    """Samples in runs of at least ``min_len`` equal values (equal to within 1e-9 of the
    largest magnitude in ``x``, the rounding of a constant)."""
    same = np.abs(np.diff(x)) <= 1e-9 * np.max(np.abs(x))
    edges = np.flatnonzero(np.diff(np.r_[0, same.astype(np.int8), 0]))
    first, last = edges[::2], edges[1::2]  # a run of equal steps: samples first ... last
    keep = last - first + 1 >= min_len
    count = np.zeros(len(x) + 1, dtype=np.int64)
    np.add.at(count, first[keep], 1)
    np.add.at(count, last[keep] + 1, -1)
    return np.cumsum(count[:-1]) > 0


def reference_phase(x: np.ndarray, fs: float,
                    band_hz: tuple[float, float] = REFERENCE_BAND_HZ) -> np.ndarray:
    """Offline reference phase: zero-phase band-pass + Hilbert over the whole recording.

    NaN samples are linearly interpolated for the filter and NaN again in the output.
    Where the input stays constant for :data:`FLAT_RUN_S` or longer (a sensor stuck,
    unplugged or not worn) the phase is NaN too: there is no breathing to have a phase,
    and the Hilbert transform would give the decaying edge of the breaths around it a
    constant ±90°, which two such stretches share (a flat pair read PLV 1).
    """
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    out = np.full(x.shape, np.nan)
    if ok.sum() < 16:
        return out
    idx = np.arange(len(x))
    filled = np.interp(idx, idx[ok], x[ok])
    sos = band_sos(band_hz[0], band_hz[1], fs)
    y = sps.sosfiltfilt(sos, filled - filled.mean())
    ok &= ~_flat_runs(filled, round(FLAT_RUN_S * fs))
    out[ok] = np.angle(sps.hilbert(y))[ok]
    return out


def phase_error_deg(estimate: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Circular error statistics (degrees) of ``estimate`` against ``reference``.

    Returns ``median`` and ``p95`` of the absolute error, ``mean`` absolute error, ``bias``
    (angle of the mean error), ``within30`` (fraction of samples within ±30°) and ``n``.
    Samples where either phase is NaN are ignored.
    """
    ok = np.isfinite(estimate) & np.isfinite(reference)
    err = wrap(np.asarray(estimate)[ok] - np.asarray(reference)[ok])
    if err.size == 0:
        nan = float("nan")
        return {"median": nan, "p95": nan, "mean": nan, "bias": nan, "within30": nan, "n": 0}
    a = np.degrees(np.abs(err))
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95)),
            "mean": float(a.mean()), "bias": float(np.degrees(np.angle(np.exp(1j * err).mean()))),
            "within30": float((a <= 30).mean()), "n": int(err.size)}
