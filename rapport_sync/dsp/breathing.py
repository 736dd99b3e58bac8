"""Per-person live breathing: cleaned signal, causal phase, events, rate, depth, quality.

:class:`BreathTracker` takes samples on the uniform analysis grid from any source kind:

* ``"belt"``: stretch/force belt, used as is (inhale up, as belts report expansion);
* ``"acc"``: three-axis chest accelerometer, shape (n, 3): gravity and drift are removed
  per axis, the breathing axis is the principal direction of the last minute, and its
  sign is chosen once so that inhalation is up (breaths rise faster than they fall back
  to a resting end-expiration: positive skew) and then kept continuous;
* ``"edr"``: ECG-derived respiration (sign chosen like ``acc``), a weaker source;
* ``"rr"``: RR intervals interpolated onto the grid; heart rate rises during inspiration
  (respiratory sinus arrhythmia), so the signal is ``-RR``; the weakest source.

:func:`track_breathing` is the batch form: the same tracker over a whole recording.
"""

from __future__ import annotations

import cmath
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from .events import BreathEvent, BreathEventDetector, BreathFlag, EventKind, onset_rate_bpm
from .filters import Ring, SosFilter, band_sos, dominant_frequency, finite_median, median_of
from .phase import (
    CausalPhase,
    PhaseCalibration,
    PhaseFilter,
    band_width_for,
    in_band_snr_db,
    reference_analytic,
)
from .quality import Quality, assess_quality, clipped_fraction, has_motion, is_flat

__all__ = [
    "BreathEvent",
    "BreathFlag",
    "BreathOutput",
    "BreathState",
    "BreathTracker",
    "EventKind",
    "Quality",
    "track_breathing",
]

DRIFT_CUTOFF_HZ = 0.02  # phase path, 1st-order high-pass: < 5 deg phase at 4 breaths/min
BASELINE_CUTOFF_HZ = 0.005  # displayed signal and events: slow enough that a 20-s breath hold
# stays a plateau instead of relaxing into a false breath
CLEAN_LOWPASS_HZ = 1.0  # the displayed signal: cardiac ripple mostly out, no breath cut
KINDS = ("belt", "acc", "edr", "rr")
AGREEMENT_S = 2.0  # the learned filter's phase is given while, over about this long,
AGREEMENT_DEG = 30.0  # it stays on average within this of the band-pass's phase


@dataclass(frozen=True, slots=True)
class BreathState:
    """A person's breathing right now.

    ``rate_bpm`` (breaths/min over the last minute of breaths) and ``depth`` (median
    trough-to-peak excursion of recent breaths, in signal units) are NaN until known.
    """

    rate_bpm: float
    depth: float
    quality: Quality
    n_breaths: int
    last_inhale_onset_s: float
    apnea: bool
    f0_hz: float = float("nan")  # dominant breathing frequency of the last 30 s
    period_cv: float = float("nan")  # breath-to-breath variability of the period


@dataclass(frozen=True, slots=True, eq=False)
class BreathOutput:
    """What one :meth:`BreathTracker.update` returns, one value per input sample."""

    signal: np.ndarray  # cleaned breathing signal, inhale up (NaN in gaps)
    phase: np.ndarray  # causal phase in rad, (-pi, pi], NaN where invalid


class BreathTracker:
    """Streaming breathing tracker for one person (see module docstring).

    Parameters
    ----------
    fs : float
        Grid rate in Hz.
    kind : str
        ``"belt"``, ``"acc"``, ``"edr"`` or ``"rr"``.
    control_every_s : float
        Cadence of rate tracking, event detection and quality checks.
    max_events : int
        How many recent events :attr:`events` keeps.
    calibrate : bool
        Learn the phase correction from the past (see :class:`~.phase.PhaseCalibration`);
        off, the phase is the plain rate-centred band-pass + quadrature.
    calibrate_every_s : float
        Cadence of that learning.
    learn_filter : bool
        With ``calibrate``, also learn a causal filter from the past that maps the input
        onto the reference (see :class:`~.phase.PhaseFilter`) and give its phase whenever
        it is usable; off, the phase is the calibrated band-pass all the time.
    source_rate_hz : float, optional
        Sampling rate of the device before it was put on the grid (default: the grid
        rate). The noise that decides the live band's width is measured below 0.4 x this
        rate (above it an interpolated slow source carries nothing, and would look clean);
        a source too slow to show any noise above 2 Hz keeps the narrowest band.
    """

    def __init__(self, fs: float = 25.0, kind: str = "belt", control_every_s: float = 1.0,
                 max_events: int = 1000, calibrate: bool = True,
                 calibrate_every_s: float = 20.0, source_rate_hz: float | None = None,
                 learn_filter: bool = True) -> None:
        kind = str(kind)
        if kind not in KINDS:
            raise ValueError(f"unknown breathing source kind {kind!r}; use one of {KINDS}")
        self.fs, self.kind = float(fs), kind
        known = source_rate_hz is not None and math.isfinite(source_rate_hz) and source_rate_hz > 0
        self.source_rate_hz = float(source_rate_hz) if known else self.fs  # type: ignore[arg-type]
        self._width = 3 if kind == "acc" else None
        self._hop = max(1, round(control_every_s * fs))
        self._hp_sos = np.asarray(sps.butter(1, DRIFT_CUTOFF_HZ, "highpass", fs=fs, output="sos"))
        base_sos = np.asarray(sps.butter(1, BASELINE_CUTOFF_HZ, "highpass", fs=fs, output="sos"))
        self._lp_sos = np.asarray(sps.butter(2, CLEAN_LOWPASS_HZ, "lowpass", fs=fs, output="sos"))
        axes = self._width or 1
        self._hp = [SosFilter(self._hp_sos) for _ in range(axes)]  # per raw axis
        self._base = [SosFilter(base_sos) for _ in range(axes)]
        self._lp = SosFilter(self._lp_sos)
        self._started = False
        self._phase = CausalPhase(self.fs, 0.25, pre_sos=self._hp_sos)
        self._detector = BreathEventDetector(self.fs, delay_s=_lowpass_delay_s(self._lp_sos, fs))
        self.events: deque[BreathEvent] = deque(maxlen=max_events)
        # bounded in case no one takes them: (grid s, breaths/min) when the rate moved;
        # (onset, grid s it was known) of inhalations
        self._new_rates: deque[tuple[float, float]] = deque(maxlen=1000)
        self._new_onsets: deque[tuple[float, float]] = deque(maxlen=1000)
        self._raw = Ring(int(64 * fs), self._width)
        # per grid sample: cleaned signal, envelope, phase-path input, raw causal phase,
        # the learned filter's input
        self._live = Ring(int(90 * fs), 5)
        self._phase_pushed = 0  # samples that went through the phase path
        self._base_sos = base_sos  # undone in the reference the phase learns from
        self._calib = PhaseCalibration(self.fs) if calibrate else None
        self._filter = PhaseFilter(self.fs) if calibrate and learn_filter else None
        self._agreement = 0j  # running mean of e^{i(learned - band-pass phase)}
        self._agree_step = 1.0 - math.exp(-1.0 / (AGREEMENT_S * self.fs))
        self._calib_every = max(1, round(calibrate_every_s / control_every_s))
        self._axis: np.ndarray | None = None  # acc: unit breathing axis
        self._sign = -1.0 if kind == "rr" else 1.0
        self._sign_fixed = kind in ("belt", "rr")
        self._last_raw: float | list[float] | None = None  # last finite input sample
        self._gap_run = 0
        self._n = 0  # samples seen
        self._since_control = 0
        self._n_valid = 0  # finite samples since the last (re)start: an exact count
        self._phase_ok = False
        self._env_ref = float("nan")
        self._concentration = 0.0
        self._f0_spec = float("nan")
        self._band_width = 0.0  # of the live phase band, from the input's noise
        self._spectrum_every = max(1, round(5.0 / control_every_s))  # periodogram cadence
        self._state = BreathState(float("nan"), float("nan"), Quality.WARMING_UP, 0,
                                  float("nan"), False)
        self._n_breaths = 0
        self._restarted_s = 0.0  # grid time the signal last (re)started after a long gap

    # ------------------------------------------------------------------ public
    @property
    def state(self) -> BreathState:
        return self._state

    def take_onsets(self) -> list[tuple[float, float]]:
        """Inhalation onsets found since the last call, as ``(onset_s, known_s)``: grid
        seconds since the tracker's first sample of the onset, and of the end of the
        newest sample it was found with (one grid step after it, as a synchrony window's
        time is the end of its newest sample). The same however the input was chunked."""
        out = list(self._new_onsets)
        self._new_onsets.clear()
        return out

    def take_rates(self) -> list[tuple[float, float]]:
        """Each change of ``state.rate_bpm`` since the last call, as ``(time_s, rate_bpm)``:
        grid seconds since the tracker's first sample of the newest sample the new rate
        was known from (NaN when it became unknown). One block of many seconds gives
        every change inside it, so what a consumer learns does not depend on chunking."""
        out = list(self._new_rates)
        self._new_rates.clear()
        return out

    def update(self, x: np.ndarray) -> BreathOutput:
        """Process new grid samples (1-D, or (n, 3) for ``"acc"``; NaN = missing)."""
        x = np.asarray(x, dtype=float)
        if self._width is None:
            x = x.reshape(-1)
        n = len(x)
        if self._since_control + n < self._hop:  # the live case: no control step inside
            self._since_control += n
            return BreathOutput(*self._process(x))
        sig, pha = np.empty(n), np.empty(n)
        i = 0
        while i < n:
            j = min(n, i + self._hop - self._since_control)
            sig[i:j], pha[i:j] = self._process(x[i:j])
            self._since_control += j - i
            if self._since_control >= self._hop:
                self._control()
                self._since_control = 0
            i = j
        return BreathOutput(sig, pha)

    # ---------------------------------------------------------------- per sample
    def _process(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The per-sample chain on at most one control hop of samples.

        Plain Python floats and lists throughout: the live chunks are a few samples, where
        each numpy call would cost more than the arithmetic itself.
        """
        m = len(x)
        rows = x.tolist()
        isfinite = math.isfinite
        if self._width is None:
            finite = [isfinite(v) for v in rows]
        else:
            finite = [isfinite(a) and isfinite(b) and isfinite(c) for a, b, c in rows]
        n_finite = sum(finite)
        if 0 < n_finite < m and (first := finite.index(True)) and (
                not self._started or self._gap_run + first > 5 * self.fs):
            # a (re)start inside the chunk: the gap before it first, as it would be fed
            # on its own, so the output does not depend on where chunks begin
            head, tail = self._process(x[:first]), self._process(x[first:])
            return np.concatenate((head[0], tail[0])), np.concatenate((head[1], tail[1]))
        self._raw.push(x)
        if n_finite < m:
            first = finite.index(True) if n_finite else m
            for k in range(m):  # hold the last value through gaps
                if not finite[k]:  # nothing seen yet: 0, filters stay unstarted (see below)
                    rows[k] = self._last_raw if self._last_raw is not None else (
                        0.0 if self._width is None else [0.0] * self._width)
                else:
                    self._last_raw = rows[k]
        else:
            first = 0
        if n_finite:
            if not self._started or self._gap_run + first > 5 * self.fs:
                self._restart(rows[first])
                self._restarted_s = (self._n + first) / self.fs
            last = m - 1 - finite[::-1].index(True)
            self._last_raw = rows[last]
            self._gap_run = m - 1 - last
        else:
            self._gap_run += m
        self._n += m
        if not self._started:
            self._live.push(np.full((m, 5), np.nan))
            return np.full(m, np.nan), np.full(m, np.nan)
        self._n_valid += n_finite
        sign = self._sign
        if self._width is None:
            y = self._hp[0].filter_list(rows)
            base = self._base[0].filter_list(rows)
        else:
            cols = [[r[k] for r in rows] for k in range(self._width)]
            ys = [f.filter_list(c) for f, c in zip(self._hp, cols)]
            bases = [f.filter_list(c) for f, c in zip(self._base, cols)]
            if self._axis is None:  # filters run, but no breathing axis yet
                self._live.push(np.full((m, 5), np.nan))
                return np.full(m, np.nan), np.full(m, np.nan)
            y = (np.array(ys).T @ self._axis).tolist()
            base = (np.array(bases).T @ self._axis).tolist()
        y = [sign * v for v in y]
        phase, env = self._phase.update_list(y)
        base = [sign * v for v in base]
        cleaned = self._lp.filter_list(base)
        if self._calib is not None:
            corrected = self._calib.apply_list(phase)
        else:
            corrected = phase
        live = np.array((cleaned, env, y, phase, base)).T
        if n_finite < m:
            live[np.logical_not(finite), :4] = np.nan  # the filter's input holds through
            cleaned = live[:, 0].tolist()
            env = live[:, 1].tolist()
        self._live.push(live)
        self._phase_pushed += m
        f = self._filter
        if f is not None and f.coef is not None and self._n_valid >= f.taps:
            learned = f.apply(self._live.last(f.taps - 1 + m)[:, 4]).tolist()
            corrected = self._prefer_learned(learned, corrected)
        lim = 0.25 * self._env_ref if self._phase_ok else math.nan  # NaN: nothing passes
        gated = [p if e >= lim else math.nan for p, e in zip(corrected, env)]  # weak or missing
        return np.array(cleaned), np.array(gated)

    def _restart(self, first: np.ndarray | float) -> None:
        values = np.atleast_1d(np.asarray(first, dtype=float))
        for k in range(len(self._hp)):
            self._hp[k].start_at(values[k])
            self._base[k].start_at(values[k])
        self._lp.zi[:] = 0.0
        self._started = True
        self._phase.reset()
        self._agreement = 0j
        self._n_valid = 0
        self._phase_ok = False

    @property
    def _valid_seconds(self) -> float:
        return self._n_valid / self.fs

    def _prefer_learned(self, learned: list[float], band: list[float]) -> list[float]:
        """The learned filter's phase where it agrees with the band-pass's, on average
        over the last :data:`AGREEMENT_S`, within :data:`AGREEMENT_DEG`; the band-pass's
        where it does not (the filter has not learned a new rate or pattern yet: the
        band follows the rate within seconds, the filter only after its next learning)."""
        out = list(band)
        z, step, limit = self._agreement, self._agree_step, math.radians(AGREEMENT_DEG)
        rect, phase, isnan = cmath.rect, cmath.phase, math.isnan
        for i, (f, b) in enumerate(zip(learned, band)):
            if not (isnan(f) or isnan(b)):
                z += step * (rect(1.0, f - b) - z)
                if abs(phase(z)) < limit:
                    out[i] = f
        self._agreement = z
        return out

    # ------------------------------------------------------------- every second
    def _control(self) -> None:
        fs = self.fs
        raw10 = self._raw.last(int(10 * fs))
        live30 = self._live.last(int(30 * fs))
        clean30 = live30[:, 0]
        if self._width is not None and self._valid_seconds >= 10.0 and (
                self._axis is None or (self._n // self._hop) % 10 == 0):
            self._update_axis()
        if not self._sign_fixed and self._valid_seconds >= 20.0:
            self._fix_sign(clean30)
        if (self._n // self._hop) % self._spectrum_every == 0 or not np.isfinite(self._f0_spec):
            self._f0_spec, self._concentration = dominant_frequency(clean30, fs, nfft=2048)
            self._band_width = self._measure_band_width()
        f0 = self._f0_spec
        period = self._detector.recent_period_s(self._n / fs)
        if np.isfinite(period):
            f0 = 1.0 / period  # breaths themselves: immune to harmonics and sighs
        if self._valid_seconds >= 12.0 and np.isfinite(f0):
            self._phase.set_rate(f0, self._band_width)
            if not np.isfinite(self._detector.depth_ref):
                c = clean30[np.isfinite(clean30)]
                if c.size:
                    self._detector.seed_depth(float(np.percentile(c, 95) - np.percentile(c, 5)))
        last = self._detector.latest_turn_s
        if self._valid_seconds > 30.0 and np.isfinite(last) and self._n / fs - last > 30.0:
            c = clean30[-int(20 * fs):]
            c = c[np.isfinite(c)]
            if c.size:  # 30 s without a breath: perhaps much shallower breathing, look again
                self._detector.reseed_depth(float(np.percentile(c, 95) - np.percentile(c, 5)))
        new = self._detector.process(clean30[-self._hop:], self._n - self._hop)
        for ev in new:
            self.events.append(ev)
            if ev.kind == EventKind.INHALE:
                self._n_breaths += 1
                self._new_onsets.append((ev.time_s, self._n / fs))
        if (self._calib is not None and self._phase_ok
                and (self._n // self._hop) % self._calib_every == 0):
            self._learn_phase()
        self._env_ref = finite_median(live30[:, 1])
        before = self._state.rate_bpm
        self._state = self._make_state(raw10, clean30[-int(3 * fs):], f0)
        rate = self._state.rate_bpm
        if rate != before and not (math.isnan(rate) and math.isnan(before)):
            self._new_rates.append(((self._n - 1) / fs, rate))
        self._phase_ok = self._state.quality.usable and not self._state.apnea

    def _learn_phase(self) -> None:
        """Both learned corrections fit the same reference: that of the past buffer's
        input before the drift high-pass (which leads a slow breath by several degrees),
        computed once from the filter's input column (finite: it holds through gaps);
        c(φ) only on buffers without a gap."""
        assert self._calib is not None
        past = self._live.last(min(self._phase_pushed, self._live.capacity))
        u = past[:, 4]
        if not np.isfinite(u).all():
            return
        z = reference_analytic(u, self.fs, self._base_sos)
        if np.isfinite(past[:, 2]).all():
            self._calib.learn(np.angle(z), past[:, 3])
        if self._filter is not None:
            self._filter.learn(u, z)

    def _make_state(self, raw10: np.ndarray, clean3: np.ndarray, f0: float) -> BreathState:
        fs, det = self.fs, self._detector
        now = self._n / fs
        latest = det.latest_inhale_s
        since = now - latest if np.isfinite(latest) else now
        apnea = bool(self._n_breaths >= 2 and since > det.pause_limit_s())
        recent = raw10[-int(2 * fs):]
        gaps = np.isnan(recent)
        missing = (float(np.mean(gaps.reshape(len(recent), -1).any(axis=1))) if gaps.any()
                   else 0.0)
        step, floor = 0.0, 0.0
        r = raw10[-int(3 * fs):]
        if len(r) > 1:
            d = np.diff(r, axis=0)
            if self._width is not None:
                d = d @ self._axis if self._axis is not None else np.zeros(len(d))
            d = np.abs(d[np.isfinite(d)])
            if d.size:
                step, floor = float(d.max()), finite_median(d)
        quality = assess_quality(
            missing_fraction=missing, flat=is_flat(raw10[-int(5 * fs):]),
            clipped=clipped_fraction(raw10), motion=has_motion(clean3, step, det.depth_ref, floor),
            warmed_up=self._valid_seconds >= 15.0 and np.isfinite(det.depth_ref),
            concentration=self._concentration,
            seconds_since_breath=since if self._valid_seconds > 30.0 else 0.0,
            weak_source=self.kind in ("rr", "edr"))
        # breaths of the last minute since the signal (re)started: a rate across a gap
        # would count the gap as breathing time
        times = [t for t in det.inhale_times
                 if t >= max(det.last_inhale_s - 60.0, self._restarted_s)]
        rate = onset_rate_bpm(times)
        periods = det.periods[-9:]
        cv = float("nan")
        if len(periods) >= 3:
            mean = sum(periods) / len(periods)
            cv = math.sqrt(sum((p - mean) ** 2 for p in periods) / len(periods)) / mean
        depth = median_of(det.depths[-5:])
        return BreathState(rate, depth, quality, self._n_breaths, det.last_inhale_s, apnea,
                           f0, cv)

    def _measure_band_width(self) -> float:
        """Live band width for the noise of the last 30 s of raw input (narrowest for
        the weak heart-derived sources, whose slow non-breathing variation a wide band
        would let in)."""
        if self.kind in ("rr", "edr") or not np.isfinite(self._f0_spec):
            return 0.0
        raw = self._raw.last(int(30 * self.fs))
        if self._width is not None:
            if self._axis is None:
                return 0.0
            raw = raw @ self._axis
        top = 0.4 * self.source_rate_hz
        return band_width_for(in_band_snr_db(raw, self.fs, self._f0_spec, top), self._band_width)

    def _update_axis(self) -> None:
        raw = self._raw.last(int(60 * self.fs))
        ok = np.all(np.isfinite(raw), axis=1)
        if ok.sum() < 5 * self.fs:
            return
        sos = band_sos(DRIFT_CUTOFF_HZ * 2, CLEAN_LOWPASS_HZ, self.fs)
        y = sps.sosfiltfilt(sos, raw[ok] - raw[ok].mean(axis=0), axis=0)
        _, vecs = np.linalg.eigh(np.cov(y.T))
        axis = vecs[:, -1]
        if self._axis is not None:
            axis = axis if axis @ self._axis >= 0 else -axis  # keep the sign continuous
        else:
            proj = y @ axis
            skew = np.mean((proj - proj.mean()) ** 3)
            axis = axis if skew >= 0 else -axis  # flat end-expiration at the bottom
        self._axis = axis

    def _fix_sign(self, clean: np.ndarray) -> None:
        c = clean[np.isfinite(clean)]
        if c.size and np.mean((c - c.mean()) ** 3) < 0:
            self._sign = -self._sign
            self._lp.zi *= -1.0
            self._phase.flip()
            if self._filter is not None:
                self._filter.reset()  # its taps hold the input with the old sign
        self._sign_fixed = True


def display_delay_s(fs: float = 25.0) -> float:
    """How late the cleaned (displayed) signal is at breathing frequencies, in seconds."""
    return _lowpass_delay_s(np.asarray(sps.butter(2, CLEAN_LOWPASS_HZ, "lowpass", fs=fs,
                                                  output="sos")), fs)


def _lowpass_delay_s(sos: np.ndarray, fs: float) -> float:
    """Group delay (s) of the display low-pass at breathing frequencies."""
    w = np.array([0.1, 0.3])
    h = sps.sosfreqz(sos, worN=w, fs=fs)[1]
    return float(-np.diff(np.unwrap(np.angle(h)))[0] / (2 * np.pi * (w[1] - w[0])))


def track_breathing(x: np.ndarray, fs: float = 25.0, kind: str = "belt",
                    source_rate_hz: float | None = None
                    ) -> tuple[BreathOutput, list[BreathEvent], BreathState]:
    """Batch form of :class:`BreathTracker`: signal, phase, all events and final state."""
    tr = BreathTracker(fs, kind, max_events=10**7, source_rate_hz=source_rate_hz)
    out = tr.update(x)
    return out, list(tr.events), tr.state
