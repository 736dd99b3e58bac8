"""Dyad synchrony on sliding windows, live, with a calibrated chance band.

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
* chance band (:mod:`~rapport_sync.dsp.chance_band`): the 95th percentiles
  ``chance_plv95`` / ``chance_lag_plv95`` of the same two statistics between one person's
  window and the partner's phases at other times (live: the partner's last ``history_s``,
  shifted by at least a window plus ``min_shift_s``, both directions), never below the
  Rayleigh floor for the window's breaths, and only that floor until ``min_surrogate_s``
  of shifts exist; ``chance_shifts`` says how many shifts it rests on (0: the floor).
  NaN, never 0, when it cannot be known (too few breaths or valid samples).

Everything runs on the phases decimated to ~5 Hz (breathing phase is smooth, so the
numbers are unchanged while the cost drops 25-fold). :class:`DyadTracker` recomputes on a
cadence; :func:`sync_series` is its batch form.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from .chance_band import lag_count, rayleigh_p95, surrogate_p95
from .events import onset_rate_bpm
from .filters import Ring, wrap

__all__ = ["HALF_BREATH", "MIN_VALID_FRACTION", "DyadTracker", "Lead", "SyncState",
           "above_chance", "judged", "lag_peak", "lead", "shown_locking", "sync_series",
           "window_sync"]

NAN = float("nan")
MIN_VALID_FRACTION = 0.5  # below this share of clean samples in a window, no verdict
HALF_BREATH = 0.4
"""A best lag of at least this share of a breath is about half a breath: the other person
leading by the rest of the breath fits the two phases as well, and the lag scan (which
stops at 0.45 of a breath) reads a true half-breath lag as 0.40-0.45 of one."""


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
    chance_shifts: int  # surrogate shifts behind the chance band (0: analytic floor only)
    surrogate_plv95: float  # the shifts' own 95th percentiles, before the floor (NaN: none)
    surrogate_lag_plv95: float
    # The lag profile R(tau) the best lag was picked from: locking at lags
    # -k..+k * lag_step_s (positive: B follows A). Empty when the window has no valid phase.
    lag_profile: tuple[float, ...] = ()
    lag_step_s: float = NAN
    # The mean breath period of the two phases' advance (s): a cycle of the phases the lag
    # is measured between, which the lag range is set from. The rates above count pauses
    # (from inhalation onsets when known), so their period is longer in a window with one.
    cycle_s: float = NAN


def shown_locking(state: SyncState) -> tuple[float, float]:
    """The locking a person is shown and its chance level: the best-lag PLV against the
    95th percentile of the same statistic on surrogates (zero-lag PLV as a fallback).

    The best-lag PLV also counts a partner who follows with a steady delay as locked,
    which zero-lag PLV underrates when the breathing rate varies. The monitor, the
    terminal view, the exports and the report all judge "above chance" with this.
    """
    if math.isfinite(state.lag_plv) and math.isfinite(state.chance_lag_plv95):
        return state.lag_plv, state.chance_lag_plv95
    return state.plv, state.chance_plv95


def above_chance(state: SyncState) -> bool:
    """Locking above its chance level; False while the chance level is not known."""
    value, chance = shown_locking(state)
    return math.isfinite(value) and math.isfinite(chance) and value > chance


@dataclass(frozen=True, slots=True)
class Lead:
    """Who leads in one window, as every view of it says (see :func:`lead`).

    ``leader`` is ``"a"``, ``"b"`` or ``"none"``; ``lag_s`` the best lag (> 0: A leads).
    ``half_breath``: a leader is named but ``lag_s`` is about half a breath, so the other
    person leading by ``other_lag_s`` (the breath period minus ``|lag_s|``) describes the
    same phases: which one leads cannot be told.
    """

    leader: str
    lag_s: float
    half_breath: bool = False
    other_lag_s: float = NAN

    @property
    def shown(self) -> str:
        """``"a"`` or ``"b"`` when that person is said to lead, ``"unclear"`` at about half a
        breath, ``"none"`` otherwise: what the views and exports name."""
        return "unclear" if self.half_breath else self.leader


def lead(state: SyncState | None) -> Lead:
    """Who leads in this window: the lag scan's leader of a window that is judged and
    locked above chance (:func:`judged`, :func:`above_chance`), flagged ``half_breath``
    when the best lag is at least :data:`HALF_BREATH` of the phases' mean breath period
    (``cycle_s``). The monitor's verdict, its lag plot, the terminal view, the report and
    the exports all read the lead with this.
    """
    if state is None:
        return Lead("none", NAN)
    if state.leader not in ("a", "b") or not (judged(state) and above_chance(state)):
        return Lead("none", state.lag_s)
    period_s = state.cycle_s  # the phases' own cycle: a pause in the window does not count
    if not abs(state.lag_s) >= HALF_BREATH * period_s:  # (an unknown period flags nothing)
        return Lead(state.leader, state.lag_s)
    return Lead(state.leader, state.lag_s, True, period_s - abs(state.lag_s))


def judged(state: SyncState | None) -> bool:
    """Whether a verdict is given on this window: at least :data:`MIN_VALID_FRACTION` of it
    clean, and the locking shown and its chance level known. The monitor's headline, its
    plots, the closing summary and the report count only these windows."""
    if state is None:
        return False
    valid = state.valid_fraction
    if math.isfinite(valid) and valid < MIN_VALID_FRACTION:
        return False
    value, chance = shown_locking(state)
    return math.isfinite(value) and math.isfinite(chance)


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


def _cycles(p: np.ndarray, fs: float) -> tuple[float, float]:
    """Breathing frequency (Hz) from the phase advance, and the seconds it was measured over."""
    d = wrap(np.diff(p))
    d = d[np.isfinite(d)]
    if d.size == 0:
        return NAN, 0.0
    seconds = d.size / fs
    return float(d.sum() / (2 * np.pi) / seconds), seconds


def window_sync(phase_a: np.ndarray, phase_b: np.ndarray, signal_a: np.ndarray,
                signal_b: np.ndarray, fs: float, time_s: float = NAN, max_lag_s: float = 3.0,
                min_shift_s: float = 10.0, min_lead_s: float = 0.2,
                past_za: np.ndarray | None = None, past_zb: np.ndarray | None = None,
                min_surrogate_s: float = 120.0,
                library: tuple[float, float, int] | None = None,
                rates_bpm: tuple[float, float] | None = None) -> SyncState:
    """Synchrony metrics of one window (arrays already on the analysis rate ``fs``).

    ``rates_bpm`` are both people's breathing rates over the window if known (from their
    inhalation onsets, :meth:`DyadTracker.add_onsets`); without them (or NaN) a rate is
    the phase's advance over the samples where the phase is given, which leaves out the
    time the phase is withheld (pauses) and reads high in a window with a pause.

    ``past_za``/``past_zb`` are both people's unit phasors e^{iφ} just before the window
    (same rate and length, NaN where invalid); with them the chance band comes from the
    partner's past, without them from circular shifts of the partner within the window.
    Shifts are taken every second and count only once they span ``min_surrogate_s`` in
    all (see :mod:`~rapport_sync.dsp.chance_band`). ``library`` reuses the surrogate
    percentiles of an earlier state, ``(surrogate_plv95, surrogate_lag_plv95,
    chance_shifts)``, instead of computing them (the tracker refreshes them every few s).
    """
    pa, pb = np.asarray(phase_a, float), np.asarray(phase_b, float)
    n = len(pa)
    valid = np.isfinite(pa) & np.isfinite(pb)
    nv = int(valid.sum())
    window_s = n / fs
    fa, _ = _cycles(pa, fs)  # cycles per second of phase: N and the lag range
    fb, _ = _cycles(pb, fs)
    ra, rb = (r if math.isfinite(r) else 60 * f
              for r, f in zip(rates_bpm or (NAN, NAN), (fa, fb)))
    if nv < max(8, 0.2 * n) or not (fa > 0 and fb > 0):
        return SyncState(time_s, NAN, NAN, NAN, NAN, NAN, "none", NAN, NAN, NAN, nv / max(n, 1),
                         NAN, ra, rb, ra - rb, NAN, NAN, NAN, window_s, 0, NAN, NAN)
    za = np.where(valid, np.exp(1j * np.where(valid, pa, 0.0)), 0.0)
    zb = np.where(valid, np.exp(1j * np.where(valid, pb, 0.0)), 0.0)
    mean = (za * np.conj(zb)).sum() / nv
    plv = float(abs(mean))
    fbar = 0.5 * (fa + fb)
    n_eff = nv / fs * fbar
    ppc = float((n_eff * plv**2 - 1) / (n_eff - 1)) if n_eff > 1 else NAN
    # lag scan and the signals' lagged cross-correlation, for lags up to ±max_lag
    max_lag = int(np.floor(min(max_lag_s, 0.45 / fbar) * fs))
    lags = np.arange(-max_lag, max_lag + 1)
    c_lag = np.conj(_lagged(za, zb, max_lag))  # Σ za[t]·conj(zb[t + lag])
    n_lag = np.rint(_lagged(valid.astype(float), valid.astype(float), max_lag))
    r_lag = np.where(n_lag > 0.5 * nv, np.abs(c_lag) / np.maximum(n_lag, 1), np.nan)
    lag_plv, lag_s = lag_peak(r_lag, lags / fs)
    wcc_r, wcc_lag = _wcc(np.where(np.isfinite(pa), signal_a, np.nan),
                          np.where(np.isfinite(pb), signal_b, np.nan), max_lag, lags / fs)
    step = max(1, round(fs))  # one shift per second: neighbouring shifts are near copies
    if library is None:
        library = surrogate_p95(np.where(valid, za, np.nan), np.where(valid, zb, np.nan),
                                max_lag, int(np.ceil(min_shift_s * fs)), past_za, past_zb, step)
    surr, surr_lag, shifts = library
    if shifts * step < min_surrogate_s * fs:  # too few shifts yet: the floor alone
        surr, surr_lag, shifts = NAN, NAN, 0
    floor = rayleigh_p95(n_eff)
    chance = _at_least(floor, surr) if np.isfinite(floor) else NAN
    floor_lag = rayleigh_p95(n_eff, lag_count(max_lag / fs, fbar))
    chance_lag = _at_least(floor_lag, surr_lag) if np.isfinite(floor_lag) else NAN
    leader = "none"
    if np.isfinite(lag_s) and abs(lag_s) >= min_lead_s and lag_plv > chance_lag:
        leader = "a" if lag_s > 0 else "b"
    return SyncState(time_s, plv, ppc, float((za * np.conj(zb)).real.sum() / nv),
                     float(np.degrees(np.angle(mean))), lag_s, leader, lag_plv, chance,
                     chance_lag, nv / n, float(n_eff), ra, rb, ra - rb,
                     float(abs(ra - rb) / (0.5 * (ra + rb))), wcc_r, wcc_lag, window_s, shifts, surr,
                     surr_lag, tuple(np.round(r_lag, 4).tolist()), 1.0 / fs, 1.0 / fbar)


def _lagged(u: np.ndarray, v: np.ndarray, max_lag: int) -> np.ndarray:
    """Σ_t conj(u[t])·v[t + lag] for lag = −max_lag … max_lag (zero outside the arrays)."""
    pad = np.zeros(max_lag)
    return np.correlate(np.concatenate((pad, v, pad)), u, "valid")


def _at_least(floor: float, value: float) -> float:
    return max(floor, value) if np.isfinite(value) else floor


def _wcc(signal_a: np.ndarray, signal_b: np.ndarray, max_lag: int, lags_s: np.ndarray
         ) -> tuple[float, float]:
    """Windowed lagged cross-correlation: at each lag τ the Pearson r of the pairs
    (a[t], b[t + τ]) where both are finite (each person's own valid samples), from sums
    over those pairs; lags with under half the pairs of the best-covered lag are left out.
    Boker's peak nearest lag 0."""
    ma = np.isfinite(signal_a).astype(float)
    mb = np.isfinite(signal_b).astype(float)
    xa = np.where(ma > 0, signal_a, 0.0)
    xb = np.where(mb > 0, signal_b, 0.0)
    xa = np.where(ma > 0, xa - xa.sum() / max(ma.sum(), 1.0), 0.0)  # better conditioned
    xb = np.where(mb > 0, xb - xb.sum() / max(mb.sum(), 1.0), 0.0)
    n = np.rint(_lagged(ma, mb, max_lag))
    if n.max(initial=0.0) < 8:
        return NAN, NAN
    m = np.maximum(n, 1.0)
    sx, sy = _lagged(xa, mb, max_lag), _lagged(ma, xb, max_lag)
    cov = _lagged(xa, xb, max_lag) - sx * sy / m
    var_a = _lagged(xa * xa, mb, max_lag) - sx * sx / m
    var_b = _lagged(ma, xb * xb, max_lag) - sy * sy / m
    den = np.sqrt(np.maximum(var_a * var_b, 0.0))
    r = np.where((n >= 0.5 * n.max()) & (den > 0), cov / np.where(den > 0, den, 1.0), np.nan)
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
    min_shift_s : float
        Margin between a window and the partner's samples used for its chance band.
    history_s : float
        How far back the chance band looks for the partner's phases at other times.
    min_surrogate_s : float
        Shifts (in seconds of shift, both directions together) needed before the chance
        band uses them; until then it is the Rayleigh floor. Default: two windows.
    band_every_s : float
        Cadence of the surrogate library's refresh (the Rayleigh floor follows every
        state); the library changes slowly, and refreshing it costs more than the rest.
    history_len : int
        How many states :attr:`history` keeps.
    """

    def __init__(self, fs: float = 25.0, window_s: float = 60.0, max_lag_s: float = 3.0,
                 update_every_s: float = 1.0, min_fill: float = 1.0, min_shift_s: float = 10.0,
                 analysis_hz: float = 5.0, history_len: int = 4 * 3600,
                 history_s: float = 600.0, min_surrogate_s: float | None = None,
                 band_every_s: float = 5.0) -> None:
        self.fs, self.window_s, self.max_lag_s = float(fs), float(window_s), max_lag_s
        self.min_shift_s = min_shift_s
        self.min_surrogate_s = 2 * self.window_s if min_surrogate_s is None else min_surrogate_s
        self._dec = max(1, round(fs / analysis_hz))
        self._fs_dec = self.fs / self._dec
        self._win = round(window_s * self._fs_dec)
        if self._win < 2:
            raise ValueError(f"a synchrony window of {window_s:g} s holds no phase pair")
        self._past = round(history_s * self._fs_dec)
        self._min = int(np.ceil(min_fill * self._win))
        self._hop = max(1, round(update_every_s * fs))
        self._band_every = max(1, round(band_every_s * fs / self._hop))
        self._library: tuple[float, float, int] | None = None
        # phase A, phase B, signal A, signal B on the analysis rate: the window, and the
        # phases before it that the chance band shifts the partner over
        self._rows = Ring(self._win + self._past, width=4)
        self._n = 0
        # inhalation onsets (time, known at) per person, once given: the windows' rates
        self._onsets: tuple[deque[tuple[float, float]], ...] | None = None
        self.history: deque[SyncState] = deque(maxlen=history_len)
        self.state: SyncState | None = None
        self.n_states = 0  # states computed so far (the history keeps the newest)

    def update(self, phase_a: np.ndarray, phase_b: np.ndarray, signal_a: np.ndarray,
               signal_b: np.ndarray) -> SyncState | None:
        """Add aligned grid samples of both people; return the newest state (or None)."""
        cols = [np.asarray(c, dtype=float).reshape(-1) for c in
                (phase_a, phase_b, signal_a, signal_b)]
        n = len(cols[0])
        if any(len(c) != n for c in cols):
            raise ValueError("phase_a, phase_b, signal_a and signal_b must have equal length")
        rows = np.column_stack(cols)
        i = 0
        while i < n:
            start = self._n + i  # absolute index of rows[i]
            j = min(n, i + self._hop - start % self._hop)
            off = (-start) % self._dec  # keep samples whose absolute index is a multiple
            if i + off < j:
                self._rows.push(rows[i + off:j:self._dec])
            if (self._n + j) % self._hop == 0:
                self._compute(self._n + j)
            i = j
        self._n += n
        return self.state

    def add_onsets(self, person: str, onsets: Iterable[tuple[float, float]]) -> None:
        """Inhalation onsets of ``person`` (``"a"`` or ``"b"``) as ``(onset_s, known_s)``
        pairs, the tracker's times of the onset and of when it was found
        (:meth:`~rapport_sync.dsp.breathing.BreathTracker.take_onsets`). Once onsets are
        given, each window's rates are
        :func:`~rapport_sync.dsp.events.onset_rate_bpm` of the onsets inside it that were
        known at its end (the phase's advance below three): pauses count, as in the
        session's rate."""
        if self._onsets is None:
            self._onsets = (deque(), deque())
        queue = self._onsets["ab".index(person)]
        queue.extend((float(t), float(known)) for t, known in onsets)

    def _window_rates(self, end_s: float) -> tuple[float, float] | None:
        if self._onsets is None:
            return None
        rates = []
        for queue in self._onsets:
            while queue and queue[0][0] < end_s - self.window_s:
                queue.popleft()  # before any window still to come
            rates.append(onset_rate_bpm(
                [t for t, known in queue if known <= end_s and t >= end_s - self.window_s]))
        return rates[0], rates[1]

    def _compute(self, n_abs: int) -> None:
        have = min(self._rows.total, self._win)
        if have < self._min:
            return
        rows = self._rows.last(have + self._past)
        pa, pb, sa, sb = rows[-have:].T
        library, za, zb = self._library, None, None
        if library is None or (n_abs // self._hop) % self._band_every == 0:
            library = None
            za, zb = np.exp(1j * rows[:-have, :2].T)  # NaN where there is no phase
        s = window_sync(pa, pb, sa, sb, self._fs_dec, n_abs / self.fs, self.max_lag_s,
                        self.min_shift_s, past_za=za, past_zb=zb,
                        min_surrogate_s=self.min_surrogate_s, library=library,
                        rates_bpm=self._window_rates(n_abs / self.fs))
        if library is None:
            self._library = (s.surrogate_plv95, s.surrogate_lag_plv95, s.chance_shifts)
        self.state = s
        self.history.append(s)
        self.n_states += 1


def sync_series(phase_a: np.ndarray, phase_b: np.ndarray, signal_a: np.ndarray,
                signal_b: np.ndarray, fs: float = 25.0, window_s: float = 60.0,
                onsets: Mapping[str, Iterable[tuple[float, float]]] | None = None,
                **options: float) -> list[SyncState]:
    """Batch form of :class:`DyadTracker`: every state it would produce on these arrays;
    ``onsets`` maps ``"a"``/``"b"`` to (onset time, time known) pairs, as given to
    :meth:`DyadTracker.add_onsets`."""
    n = len(phase_a)
    dy = DyadTracker(fs, window_s, history_len=n + 1, **options)  # type: ignore[arg-type]
    for person, pairs in (onsets or {}).items():
        dy.add_onsets(person, pairs)
    dy.update(phase_a, phase_b, signal_a, signal_b)
    return list(dy.history)
