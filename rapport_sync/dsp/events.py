"""Breath events: inhalation and exhalation onsets, pauses and sighs, found causally.

An extremum of the drift-free breathing signal is found once the signal has moved away
from it by a hysteresis of ``hysteresis`` x the typical breath depth (the causal analogue
of NeuroKit2's extrema-between-zero-crossings), and becomes an event once the swing after
it is a half-breath (a wiggle between two extrema is dropped, so onsets alternate):
troughs are inhalation onsets, peaks exhalation onsets; an onset is the *end* of the rest
at the extremum (the signal moving less than ``onset_tol`` x depth per 0.5 s), so a
breath hold ends where breathing resumes. ``delay_s`` is the group delay of the smoothing
filter in front of the detector, subtracted from event times. A swing shallower than
``shallow`` x the typical depth is not a half-breath; a breath deeper than ``sigh`` x
typical is flagged as a sigh; no movement (a plateau) for ``pause_s`` (AASM apnea
convention: 10 s) or twice the typical period is a pause, reported with the onset that
ends it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .filters import median_of

__all__ = ["BreathEvent", "BreathEventDetector", "BreathFlag", "EventKind", "find_breath_events",
           "onset_rate_bpm"]

MIN_HALF_S = 0.35  # a half-breath quicker than this is never a breath (a 40/min breather
# inhales in about 0.6 s)


class EventKind(enum.StrEnum):
    INHALE = "inhale"  # inhalation onset (trough)
    EXHALE = "exhale"  # exhalation onset (peak)
    PAUSE = "pause"  # a breathing pause (apnea) that has ended; duration_s says how long


class BreathFlag(enum.StrEnum):
    GOOD = "good"
    SIGH = "sigh"  # much deeper than the typical breath
    SHALLOW = "shallow"  # shallower than typical, but counted
    IRREGULAR = "irregular"  # cycle far shorter or longer than typical


@dataclass(frozen=True, slots=True)
class BreathEvent:
    """One breath event. ``time_s`` is grid seconds since the tracker's first sample."""

    time_s: float
    kind: EventKind
    depth: float  # peak-to-trough excursion of the half-breath ending here (signal units)
    flag: BreathFlag
    duration_s: float = float("nan")  # pauses: how long; breaths: the cycle (onset to onset)


@dataclass(frozen=True, slots=True)
class _Extremum:
    kind: EventKind  # the onset it would be: INHALE at a trough, EXHALE at a peak
    index: int  # sample of the onset (the end of the rest at the extremum)
    value: float
    plateau_from: int  # where that rest began (-1: no rest)


class BreathEventDetector:
    """Streaming hysteresis extremum detector; feed it the cleaned signal sample by sample.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    hysteresis, shallow, sigh : float
        Fractions of the typical breath depth (see module docstring).
    pause_s : float
        Minimum pause length (s).
    """

    def __init__(self, fs: float, hysteresis: float = 0.3, shallow: float = 0.25,
                 sigh: float = 2.0, pause_s: float = 10.0, onset_tol: float = 0.05,
                 delay_s: float = 0.0) -> None:
        self.fs, self.onset_tol, self.delay_s = fs, onset_tol, delay_s
        self.hysteresis, self.shallow, self.sigh, self.pause_s = hysteresis, shallow, sigh, pause_s
        self.depth_ref = float("nan")  # typical depth; set from the signal until breaths exist
        self.depths: list[float] = []  # of the last non-sigh half-breaths
        self._seed = float("nan")  # the typical depth from the signal's range, before breaths
        self.periods: list[float] = []
        self._seek_peak = True
        self._ext_v = float("nan")
        self._ext_i = -1
        self._plateau_from = -1  # where the rest at the current extremum began
        self._still_from = -1  # where the current stretch without movement began
        self._recent: deque[float] = deque(maxlen=max(2, round(0.5 * fs)))
        self._last_v_other = float("nan")  # value of the previous confirmed extremum
        self.last_inhale_s = float("nan")
        self.inhale_times: deque[float] = deque(maxlen=64)
        self.last_event_s = float("nan")
        self._streak: list[tuple[BreathFlag, float]] = []  # recent (flag, depth) half-breaths
        self._pending: _Extremum | None = None  # the newest extremum, not yet an event
        self._replacing = False  # after a wiggle: the next extremum may replace the pending one

    @property
    def typical_period_s(self) -> float:
        return median_of(self.periods[-7:])

    @property
    def latest_inhale_s(self) -> float:
        """The newest inhalation onset, counting one that has passed the hysteresis but
        waits for the half-breath after it to become an event (breathing goes on)."""
        if self._pending is not None and self._pending.kind == EventKind.INHALE:
            return self._pending.index / self.fs - self.delay_s
        return self.last_inhale_s

    @property
    def latest_turn_s(self) -> float:
        """The newest breath turn (onset), counting one not yet an event."""
        if self._pending is not None:
            return self._pending.index / self.fs - self.delay_s
        return self.last_event_s

    def recent_period_s(self, now_s: float, n: int = 5) -> float:
        """Median of the last ``n`` breath periods if breathing is ongoing, else NaN."""
        if len(self.periods) < 3 or not now_s - self.latest_inhale_s < 2.5 * self.periods[-1]:
            return float("nan")
        return median_of(self.periods[-n:])

    def pause_limit_s(self) -> float:
        p = self.typical_period_s
        return max(self.pause_s, 2.0 * p) if np.isfinite(p) else self.pause_s

    def process(self, x: np.ndarray, first_index: int) -> list[BreathEvent]:
        """Scan new samples (``x[k]`` is sample ``first_index + k``); return confirmed events."""
        found: list[BreathEvent] = []
        if not np.isfinite(self.depth_ref):
            return found
        h = self.hysteresis * self.depth_ref
        still = self.onset_tol * self.depth_ref  # movement per 0.5 s that counts as "still"
        recent = self._recent
        span = recent.maxlen or 0  # the deque is always bounded
        for k, v in enumerate(x.tolist()):
            if math.isnan(v):
                continue
            i = first_index + k
            moving = len(recent) < span or abs(v - recent[0]) > still
            recent.append(v)
            if moving:
                self._still_from = -1
            elif self._still_from < 0:
                self._still_from = i - span
            if self._ext_i < 0:
                self._ext_v, self._ext_i = v, i
                continue
            d = (v - self._ext_v) if self._seek_peak else (self._ext_v - v)
            if d > 0:  # further along the current swing
                self._ext_v, self._ext_i = v, i
                self._plateau_from = self._still_from if self._still_from >= 0 else i
            elif not moving:  # resting: the onset is its end (a held breath may sink
                # slowly through the drift high-pass, even beyond the hysteresis: still rest)
                self._ext_i = i
                if self._plateau_from < 0 or self._still_from < 0:
                    self._plateau_from = i
            elif -d > h:
                self._turn(found, _Extremum(
                    EventKind.EXHALE if self._seek_peak else EventKind.INHALE,
                    self._ext_i, self._ext_v, self._plateau_from))
                self._ext_v, self._ext_i, self._plateau_from = v, i, -1
                self._seek_peak = not self._seek_peak
        return found

    def _turn(self, found: list[BreathEvent], ext: _Extremum) -> None:
        """A new extremum (the signal has left it by the hysteresis). The pending one
        before it is a breath's turn, and becomes an event, once the swing between them
        is a half-breath. After a wiggle the next extremum of the pending one's kind
        replaces it: onsets alternate, and an inhalation starts at the last trough before
        the rise that follows (not at a trough before a bump in the pause)."""
        pending = self._pending
        if self._replacing:  # the far side of a wiggle: the swing after it starts here,
            self._replacing = False  # and a rest begun before the wiggle goes on through it
            rest_from = pending.plateau_from if pending and pending.plateau_from >= 0 else (
                ext.plateau_from)
            self._pending = dataclasses.replace(ext, plateau_from=rest_from)
        elif pending is None:
            self._pending = ext
        elif self._is_half_breath(pending, ext):
            self._confirm(found, pending)
            self._pending = ext
        else:
            self._replacing = True

    def _is_half_breath(self, start: _Extremum, end: _Extremum) -> bool:
        """Whether the swing between two extrema is a half-breath, not a wiggle (noise,
        cardiac ripple, a bump on the way): deep enough, not too quick."""
        depth, half_s = abs(end.value - start.value), (end.index - start.index) / self.fs
        typical = self.typical_period_s
        min_half = max(0.6, 0.25 * typical) if np.isfinite(typical) else 0.6
        ref = self.depth_ref
        return not (depth < self.shallow * ref or half_s < MIN_HALF_S
                    or (half_s < min_half and depth < 0.5 * ref))

    def _confirm(self, found: list[BreathEvent], ext: _Extremum) -> None:
        kind = ext.kind
        t = ext.index / self.fs - self.delay_s
        depth = abs(ext.value - self._last_v_other) if np.isfinite(self._last_v_other) else np.nan
        self._last_v_other = ext.value
        ref = self.depth_ref
        flag = BreathFlag.GOOD
        if np.isfinite(depth) and depth > self.sigh * ref:
            flag = BreathFlag.SIGH
        elif np.isfinite(depth) and depth < 0.5 * ref:
            flag = BreathFlag.SHALLOW
        if np.isfinite(depth):
            self._streak = (self._streak + [(flag, depth)])[-5:]
            if flag != BreathFlag.SIGH:  # shallow ones too: left out, they let deeper
                self.depths = (self.depths + [depth])[-9:]  # breaths set the depth alone
            elif all(f == flag for f, _ in self._streak[-3:]) and len(self._streak) >= 3:
                # not an exception any more: the new normal depth
                self.depths = [d for f, d in self._streak if f == flag][-3:]
            # until five are known the signal's own range counts as two of them, so that
            # one early half-breath (a bump, a sigh) does not set the typical depth alone
            prior = [self._seed] * 2 if len(self.depths) < 5 and np.isfinite(self._seed) else []
            self.depth_ref = median_of(self.depths + prior) if self.depths else self.depth_ref
        cycle = float("nan")
        plateau_s = (ext.index - ext.plateau_from) / self.fs if ext.plateau_from >= 0 else 0.0
        paused = plateau_s >= self.pause_limit_s()
        if paused:
            found.append(BreathEvent(ext.plateau_from / self.fs - self.delay_s, EventKind.PAUSE,
                                     0.0, BreathFlag.GOOD, plateau_s))
        if kind == EventKind.INHALE:
            if np.isfinite(self.last_inhale_s):
                cycle = t - self.last_inhale_s
                if not (paused or cycle > self.pause_limit_s() + self.typical_period_s):
                    typical = self.typical_period_s
                    if flag == BreathFlag.GOOD and np.isfinite(typical) and not (
                            0.5 * typical < cycle < 1.8 * typical):
                        flag = BreathFlag.IRREGULAR
                    self.periods = (self.periods + [cycle])[-9:]
            self.last_inhale_s = t
            self.inhale_times.append(t)
        self.last_event_s = t
        found.append(BreathEvent(t, kind, float(depth), flag, cycle))

    def seed_depth(self, depth: float) -> None:
        """Set the typical depth from the signal itself (before breaths are known)."""
        if not self.depths and np.isfinite(depth) and depth > 0:
            self.depth_ref = self._seed = float(depth)

    def reseed_depth(self, depth: float) -> None:
        """Breathing got much shallower (no breath for long): start the depth over, lower."""
        if np.isfinite(depth) and 0 < depth < self.depth_ref:
            self.depths = []
            self.depth_ref = self._seed = float(depth)


def onset_rate_bpm(onsets_s: Sequence[float]) -> float:
    """Breaths per minute from inhalation onset times: 60·(k − 1)/(t_k − t_1); NaN with
    fewer than three onsets."""
    if len(onsets_s) < 3 or not onsets_s[-1] > onsets_s[0]:
        return float("nan")
    return 60.0 * (len(onsets_s) - 1) / (onsets_s[-1] - onsets_s[0])


def find_breath_events(x: np.ndarray, fs: float, **options: float) -> list[BreathEvent]:
    """Breath events of a whole drift-free breathing signal (batch form of the detector).

    The typical depth starts from the robust range (5th-95th percentile) of the first 30 s.
    """
    x = np.asarray(x, dtype=float)
    det = BreathEventDetector(fs, **options)
    head = x[: int(30 * fs)]
    head = head[np.isfinite(head)]
    if head.size:
        det.seed_depth(float(np.percentile(head, 95) - np.percentile(head, 5)))
    return det.process(x, 0)
