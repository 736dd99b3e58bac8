"""Heart rate from RR intervals with artifact correction, and respiratory sinus arrhythmia.

Artifacts (ectopic, missed or extra beats, strap noise) are RR intervals outside
0.27-2.0 s (30-220 beats/min) or more than ``max_jump`` (20 %) away from the median of
the previous good intervals, the usual relative rule of Malik / Kubios-style correction.
A flagged interval is replaced by that median. Five flagged intervals in a row that agree
with each other (within ``max_jump`` of their own median) are a new level, not artifacts
(a fast rise or fall, or a rate that moved while a strap was off): the fifth is kept and
the level followed from then on; a level at about twice or half the old one (missed or
extra beats) only after a pause of more than 5 s in the beats. Heart rate is 60 / the
mean corrected RR of the last ``hr_window_s``; RSA is the peak-to-trough amplitude (2·√2·SD, ms) of the
corrected RR series in the breathing band (around the breathing rate known at the
window's end, when one is given) over the ``rsa_window_s`` ending at the last
whole ``rsa_every_s`` of beat time (so it is recomputed every few seconds, not every beat,
and the same however the beats are chunked).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import make_interp_spline

from .filters import band_sos, median_of, on_band_grid, zero_phase

__all__ = ["HeartState", "HeartTracker", "correct_rr", "rsa_amplitude_ms"]

RR_LIMITS_S = (0.27, 2.0)
NEW_LEVEL_BEATS = 5
"""This many intervals in a row off the recent level but agreeing with each other are a new
level (the heart rate rose or fell fast, or moved while the strap was off), not artifacts:
followed from then on. A level at about twice or half the old one is the signature of
missed or extra beats and stays artifacts, unless it comes after a pause in the beats of
more than :data:`NEW_LEVEL_GAP_S` (then nothing tells the two apart)."""
NEW_LEVEL_GAP_S = 5.0
RSA_BAND_HZ = (0.1, 0.5)  # when the breathing rate is not known
RATE_MEMORY_S = 600.0  # breathing rates given this long before the newest are forgotten
BREATH_HZ = (4.0 / 60.0, 40.0 / 60.0)  # breathing rates an RSA band is centred on (clamped)


@dataclass(frozen=True, slots=True)
class HeartState:
    """Heart rate (beats/min), RSA (ms), beats seen, share of RR intervals corrected."""

    hr_bpm: float
    rsa_ms: float
    n_beats: int
    artifact_fraction: float


def correct_rr(rr_s: np.ndarray, time_s: np.ndarray | None = None, max_jump: float = 0.2,
               history: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Causally corrected RR intervals and a boolean artifact mask (batch form).

    Each interval is judged against the median of the previous ``history`` good ones.
    With the beat times, a new level after a pause in the beats is followed as the
    streaming tracker does (see :data:`NEW_LEVEL_BEATS`).
    """
    tr = HeartTracker(max_jump=max_jump, history=history)
    rr = np.asarray(rr_s, dtype=float)
    return tr._correct(rr, None if time_s is None else np.asarray(time_s, dtype=float))


def rsa_amplitude_ms(time_s: np.ndarray, rr_s: np.ndarray,
                     band_hz: tuple[float, float] = RSA_BAND_HZ, resample_hz: float = 4.0,
                     breath_hz: float = math.nan) -> float:
    """Peak-to-trough RSA (ms): 2·√2·SD of the RR series (cubic spline at ``resample_hz``)
    band-passed around the breathing frequency.

    With ``breath_hz`` known, the band is ``breath_hz / 2 … 2 · breath_hz`` (gain within
    1 % over ±20 % of the rate), a rate outside 4-40 breaths/min taken as the nearest end
    of that range (a 3.8/min breather is not measured on the fixed band); otherwise the
    fixed ``band_hz``, whose zero-phase gain is a half at its edges: a sinusoidal RSA at 6
    or 30 breaths/min reads half its swing.
    """
    t, rr = np.asarray(time_s, float), np.asarray(rr_s, float)
    ok = np.isfinite(t) & np.isfinite(rr)
    t, rr = t[ok], rr[ok]
    if len(t) > 1:
        rising = np.r_[True, np.diff(t) > 0]
        t, rr = t[rising], rr[rising]
    if breath_hz > 0:  # False for NaN
        breath_hz = min(max(breath_hz, BREATH_HZ[0]), BREATH_HZ[1])
        band_hz = (breath_hz / 2.0, breath_hz * 2.0)
        shortest = 3.0 / breath_hz  # three breaths
    else:
        shortest = 4.0 / band_hz[0]
    if len(t) < 8 or t[-1] - t[0] < shortest:
        return float("nan")
    grid = np.arange(t[0], t[-1], 1.0 / resample_hz)
    y = make_interp_spline(t, rr, k=3)(grid)  # the not-a-knot cubic spline
    sos = band_sos(band_hz[0], band_hz[1], resample_hz)
    yb = zero_phase(sos, y - y.mean())
    return float(2.0 * np.sqrt(2.0) * yb.std() * 1000.0)


def _missed_or_extra(level: float, ref: float, tolerance: float = 0.15) -> bool:
    """Whether RR ``level`` is about 2x or 1/2x ``ref`` (every other beat missed or doubled)."""
    return not math.isnan(ref) and any(abs(level / ref - k) <= tolerance * k for k in (2.0, 0.5))


class HeartTracker:
    """Streaming heart rate and RSA from beat times and RR intervals.

    Parameters
    ----------
    max_jump : float
        Relative deviation from the recent median that marks an artifact.
    history : int
        Number of previous good intervals the median is taken over.
    hr_window_s, rsa_window_s : float
        Windows of the heart rate and the RSA amplitude.
    rsa_every_s : float
        Cadence of the RSA amplitude (beat time).
    breath_hz : float, optional
        The person's breathing frequency, if known: the RSA band is centred on it (see
        :func:`rsa_amplitude_ms`; the fixed band reads slow and fast breathers low).
        A live rate given with :meth:`set_breath_hz` takes its place from the time it
        was known.
    """

    def __init__(self, max_jump: float = 0.2, history: int = 11, hr_window_s: float = 10.0,
                 rsa_window_s: float = 60.0, rsa_every_s: float = 5.0,
                 breath_hz: float = math.nan) -> None:
        self.max_jump, self.history = max_jump, history
        self.breath_hz = breath_hz
        self._rate_t: list[float] = []  # session times from which ...
        self._rate_hz: list[float] = []  # ... these breathing frequencies were known
        self.hr_window_s, self.rsa_window_s = hr_window_s, rsa_window_s
        self.rsa_every_s = rsa_every_s
        self._rsa_end = float("nan")  # end of the window the current RSA is from
        self._rsa = float("nan")
        self._rsa_hz = float("nan")  # the breathing frequency it was band-passed around
        self._good: list[float] = []
        self._off: list[float] = []  # the latest run of intervals off the recent level
        self._last_beat_s = math.nan
        self._after_gap = False  # no beats for a while: the heart rate may have moved
        self._normal_run = 0  # intervals in a row at the recent level
        self._t: list[float] = []
        self._rr: list[float] = []  # corrected
        self._n = 0
        self._n_bad = 0
        self._state = HeartState(float("nan"), float("nan"), 0, float("nan"))

    @property
    def state(self) -> HeartState:
        return self._state

    def set_breath_hz(self, time_s: float, breath_hz: float) -> None:
        """The person's breathing frequency (Hz; NaN: not known) as known from session
        time ``time_s`` on, e.g. the live breathing tracker's rate.

        Each RSA window is band-passed around the frequency known at its end (the latest
        given at or before it; before any, ``breath_hz`` of the constructor): causal, and
        the same whether the breathing was handed on before or after the beats that
        close the window, as long as it comes before the beats that close the next one
        (a frequency given late for the current window recomputes it). A time at or
        before the last one given replaces what was said from then on. The frequency is
        rounded to the live phase band's quarter-tone steps (:data:`~.filters.BAND_STEP`),
        so the rate's breath-to-breath wobble does not redo a window for a band 2 % away.
        """
        k = bisect.bisect_left(self._rate_t, time_s)
        del self._rate_t[k:], self._rate_hz[k:]
        self._rate_t.append(float(time_s))
        self._rate_hz.append(on_band_grid(float(breath_hz)))  # small changes: no new band
        # beats that stay away (a strap off) leave no window to forget the old ones: what
        # was said long before the newest is kept only as the frequency then in force
        old = bisect.bisect_right(self._rate_t, time_s - RATE_MEMORY_S) - 1
        if old > 0:
            del self._rate_t[:old], self._rate_hz[:old]
        if time_s <= self._rsa_end and self._t:  # late for the current window: redo it
            now = self._breath_hz_at(self._rsa_end)
            if not (now == self._rsa_hz or (math.isnan(now) and math.isnan(self._rsa_hz))):
                self._window_rsa()
                self._state = dataclasses.replace(self._state, rsa_ms=self._rsa)

    def _breath_hz_at(self, time_s: float) -> float:
        """The breathing frequency known at ``time_s``; older ones are then forgotten
        (RSA windows only move forward)."""
        k = bisect.bisect_right(self._rate_t, time_s) - 1
        if k < 0:
            return self.breath_hz
        del self._rate_t[:k], self._rate_hz[:k]
        return self._rate_hz[0]

    def _correct(self, rr: np.ndarray, t: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        out = np.empty(len(rr))
        bad = np.zeros(len(rr), bool)
        jump = self.max_jump
        times = t.tolist() if t is not None else [math.nan] * len(rr)
        for i, (r, ti) in enumerate(zip(rr.tolist(), times)):
            if ti - self._last_beat_s > NEW_LEVEL_GAP_S:  # False while times are unknown
                self._after_gap, self._normal_run, self._off = True, 0, []
            if not math.isnan(ti):
                self._last_beat_s = ti
            ref = median_of(self._good) if len(self._good) >= 3 else math.nan
            in_range = RR_LIMITS_S[0] <= r <= RR_LIMITS_S[1]  # False for NaN
            ok = in_range and (math.isnan(ref) or abs(r - ref) <= jump * ref)
            if ok:
                self._off = []
                self._normal_run += 1
                if self._normal_run >= NEW_LEVEL_BEATS:
                    self._after_gap = False  # settled again
                self._good = (self._good + [r])[-self.history:]
            elif in_range:  # off the recent level: artifacts, or a new level?
                self._normal_run = 0
                self._off = (self._off + [r])[-NEW_LEVEL_BEATS:]
                level = median_of(self._off)
                if (len(self._off) == NEW_LEVEL_BEATS
                        and all(abs(v - level) <= jump * level for v in self._off)
                        and (self._after_gap or not _missed_or_extra(level, ref))):
                    self._good, self._off, ok = list(self._off), [], True
            else:
                self._off, self._normal_run = [], 0  # an impossible interval breaks the run
            if ok:
                out[i] = r
            else:
                bad[i] = True
                out[i] = ref
            if len(self._good) < 3 and not ok:
                self._good = []  # no trustworthy history yet
        return out, bad

    def update(self, time_s: np.ndarray, rr_s: np.ndarray) -> HeartState:
        """Add beats (session seconds) and the RR interval (s) ending at each; return the state."""
        t = np.atleast_1d(np.asarray(time_s, dtype=float))
        rr = np.atleast_1d(np.asarray(rr_s, dtype=float))
        if len(t) == 0:
            return self._state
        fixed, bad = self._correct(rr, t)
        self._n += len(rr)
        self._n_bad += int(bad.sum())
        keep = np.isfinite(fixed)
        self._t += t[keep].tolist()
        self._rr += fixed[keep].tolist()
        keep_s = max(self.rsa_window_s + self.rsa_every_s, self.hr_window_s) + 1.0
        if self._t:
            old = bisect.bisect_left(self._t, self._t[-1] - keep_s)
            del self._t[:old], self._rr[:old]
        if self._t:  # plain lists: a few beats per call, where numpy calls cost more
            last = self._t[-1]
            recent = self._rr[bisect.bisect_left(self._t, last - self.hr_window_s):]
            hr = 60.0 * len(recent) / sum(recent)
            end = math.floor(last / self.rsa_every_s) * self.rsa_every_s
            if end != self._rsa_end:
                self._rsa_end = end
                self._window_rsa()
        else:
            hr = float("nan")
        self._state = HeartState(float(hr), self._rsa, self._n, self._n_bad / self._n)
        return self._state

    def _window_rsa(self) -> None:
        """The RSA of the window ending at ``_rsa_end``, around the breathing frequency
        known then."""
        end = self._rsa_end
        self._rsa_hz = self._breath_hz_at(end)
        lo = bisect.bisect_right(self._t, end - self.rsa_window_s)
        hi = bisect.bisect_right(self._t, end)
        self._rsa = rsa_amplitude_ms(np.array(self._t[lo:hi]), np.array(self._rr[lo:hi]),
                                     breath_hz=self._rsa_hz)
