"""From decoded samples to aligned traces, per-person breathing state and dyad synchrony.

The same :class:`DyadPipeline` runs live (fed by the session as chunks arrive) and on
replay (fed from the store), so both give the same numbers. Each person's samples, on
whatever clock and rate their device has, are put on one uniform grid of session time
(``ANALYSIS_RATE_HZ``) by causal linear interpolation; gaps longer than ``max_gap_s``
stay gaps (NaN), never interpolated. The dyad consumes grid ticks once both people have
them; if one person falls silent (disconnected strap), the other carries on and the
silent one's ticks become NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from ..dsp import ANALYSIS_RATE_HZ
from ..dsp.breathing import BreathState, BreathTracker
from ..dsp.heart import HeartState, HeartTracker
from ..dsp.resample import GRID_MAX_GAP_S, RR_MAX_GAP_S
from ..dsp.sync import DyadTracker, SyncState
from ..samples import BreathSamples, DeviceEvent, HeartBeats, SignalKind

__all__ = ["GridResampler", "RingBuffer", "PersonChannel", "DyadPipeline", "PERSONS"]

PERSONS = ("a", "b")


class GridResampler:
    """Causal linear interpolation of irregular samples onto ticks ``k / fs``.

    Only ticks at or before the newest sample are produced, so nothing is made up ahead
    of the data. Ticks inside a gap longer than ``max_gap_s`` are NaN.
    """

    def __init__(self, fs: float, max_gap_s: float = GRID_MAX_GAP_S) -> None:
        self.fs = fs
        self.max_gap_s = max_gap_s
        self.next_tick: int | None = None
        self._last_t: float | None = None
        self._last_v: Any = None  # newest sample: a float, or a list for 3-axis samples

    def push(self, t: np.ndarray, v: np.ndarray) -> tuple[int, np.ndarray]:
        """Add samples; return ``(first_tick, values)`` of the ticks now complete.

        A chunk brings a few ticks (2-3 for a belt frame), so this walks the samples in
        plain Python: a dozen numpy calls per chunk would cost more than the work.
        """
        times = np.asarray(t, dtype=float).tolist()
        arr = np.asarray(v, dtype=float)
        shape = arr.shape[1:]
        rows = arr.tolist()
        fs, max_gap = self.fs, self.max_gap_s
        last_t, last_v = self._last_t, self._last_v
        out: list = []
        first = self.next_tick
        tick = first
        for ti, vi in zip(times, rows):
            if last_t is not None and ti <= last_t:
                continue  # out-of-order or repeated samples are dropped
            if tick is None:
                tick = first = math.ceil(ti * fs - 1e-9)
            while tick / fs <= ti + 1e-9:
                tau = tick / fs
                if tau >= ti - 1e-9:
                    out.append(vi)  # on the sample itself
                elif last_t is None or tau < last_t - 1e-9:
                    out.append(_nan_like(vi))  # before the first sample
                elif tau <= last_t + 1e-9:
                    out.append(last_v)
                elif ti - last_t > max_gap:
                    out.append(_nan_like(vi))  # inside a gap: stays a gap
                else:
                    w = (tau - last_t) / (ti - last_t)
                    out.append(_lerp(last_v, vi, w))
                tick += 1
            last_t, last_v = ti, vi
        self._last_t, self._last_v = last_t, last_v
        self.next_tick = tick
        if first is None:
            return 0, np.empty((0,) + shape)
        return first, np.array(out, dtype=float).reshape((len(out),) + shape)

    def pad_to(self, tick: int) -> int:
        """Skip to ``tick`` (those ticks are missing); return how many were skipped."""
        if self.next_tick is None:
            self.next_tick = tick
            return 0
        n = max(0, tick - self.next_tick)
        self.next_tick += n
        return n


def _nan_like(value: Any) -> Any:
    return [math.nan] * len(value) if isinstance(value, list) else math.nan


def _lerp(a: Any, b: Any, w: float) -> Any:
    if isinstance(a, list):
        return [x + (y - x) * w for x, y in zip(a, b)]
    return a + (b - a) * w


class RingBuffer:
    """The newest ``capacity`` rows of a few float columns, with time."""

    def __init__(self, capacity: int, n_columns: int) -> None:
        self.capacity = capacity
        self._data = np.full((capacity, n_columns + 1), np.nan)
        self._n = 0  # rows written in total

    def extend(self, time_s: np.ndarray, *columns: np.ndarray) -> None:
        m = len(time_s)
        if any(len(c) != m for c in columns):
            raise ValueError("every column needs one value per time")
        if m == 0:
            return
        skipped = max(0, m - self.capacity)  # older than the buffer holds
        start = (self._n + skipped) % self.capacity
        rows = m - skipped
        first = min(rows, self.capacity - start)
        for j, col in enumerate((time_s, *columns)):
            col = col[skipped:]
            self._data[start:start + first, j] = col[:first]
            if rows > first:
                self._data[: rows - first, j] = col[first:]
        self._n += m

    def view(self, since_s: float | None = None) -> np.ndarray:
        """A copy in time order (column 0 is time), of the rows from ``since_s`` on if given:
        a display copies only what it shows, not the whole buffer, every frame."""
        if self._n < self.capacity:
            older, newer = self._data[: self._n], self._data[:0]
        else:
            start = self._n % self.capacity
            older, newer = self._data[start:], self._data[:start]
        if since_s is not None:
            i = int(np.searchsorted(older[:, 0], since_s))
            if i == len(older):
                return newer[int(np.searchsorted(newer[:, 0], since_s)):].copy()
            older = older[i:]
        return np.concatenate((older, newer))

    def __len__(self) -> int:
        return min(self._n, self.capacity)


@dataclass
class PersonChannel:
    """One person's path: grid resampling, breathing tracker, heart tracker (its RSA band
    centred on the live breathing rate once that is known), buffers."""

    person: str
    fs: float
    kind: SignalKind | None = None
    resampler: GridResampler | None = None
    tracker: BreathTracker | None = None
    heart: HeartTracker = field(default_factory=HeartTracker)
    trace: RingBuffer = field(default_factory=lambda: RingBuffer(int(ANALYSIS_RATE_HZ * 600), 2))
    raw: RingBuffer = field(default_factory=lambda: RingBuffer(200 * 600, 1))
    hr_trace: RingBuffer = field(default_factory=lambda: RingBuffer(6000, 1))
    pending_signal: list[float] = field(default_factory=list)
    pending_phase: list[float] = field(default_factory=list)
    pending_start: int | None = None  # grid tick of the first pending sample
    origin_tick: int | None = None  # the grid tick the tracker's time 0 is
    new_onsets: list[tuple[float, float]] = field(default_factory=list)  # (time, known at)
    recorder: list[tuple[int, np.ndarray, np.ndarray]] | None = None

    def use(self, kind: SignalKind, rate_hz: float | None = None) -> None:
        if self.kind is not None:
            return
        self.kind = kind
        max_gap = RR_MAX_GAP_S if kind == SignalKind.RR_DERIVED else GRID_MAX_GAP_S
        self.resampler = GridResampler(self.fs, max_gap)
        self.tracker = BreathTracker(fs=self.fs, kind=str(kind), source_rate_hz=rate_hz)

    @property
    def next_tick(self) -> int | None:
        return self.resampler.next_tick if self.resampler else None

    def grid(self, first: int, x: np.ndarray) -> None:
        if len(x) == 0 or self.tracker is None:
            return
        out = self.tracker.update(x)
        if self.origin_tick is None:
            self.origin_tick = first
        origin = self.origin_tick / self.fs
        self.new_onsets += [(origin + t, origin + known) for t, known in self.tracker.take_onsets()]
        for known_s, bpm in self.tracker.take_rates():  # live RSA: its band follows the rate
            self.heart.set_breath_hz(self.origin_tick / self.fs + known_s, bpm / 60.0)
        if self.pending_start is None:
            self.pending_start = first
        self.pending_signal += np.asarray(out.signal, dtype=float).tolist()
        self.pending_phase += np.asarray(out.phase, dtype=float).tolist()
        t = (first + np.arange(len(x))) / self.fs
        self.trace.extend(t, out.signal, out.phase)
        if self.recorder is not None:
            self.recorder.append((first, out.signal, out.phase))

    def take(self, start: int, upto: int) -> tuple[np.ndarray, np.ndarray]:
        """Grid samples of ticks ``[start, upto)``, NaN where missing; older ones dropped."""
        n = max(0, upto - start)
        out_sig, out_pha = np.full(n, np.nan), np.full(n, np.nan)
        first = self.pending_start
        if first is None:
            return out_sig, out_pha
        sig, pha = self.pending_signal, self.pending_phase
        lo, hi = max(start, first), min(upto, first + len(sig))
        if hi > lo:
            out_sig[lo - start : hi - start] = sig[lo - first : hi - first]
            out_pha[lo - start : hi - start] = pha[lo - first : hi - first]
        cut = min(max(upto - first, 0), len(sig))
        del sig[:cut], pha[:cut]
        self.pending_start = first + cut
        return out_sig, out_pha

    @property
    def breath(self) -> BreathState | None:
        return self.tracker.state if self.tracker else None

    @property
    def heart_state(self) -> HeartState:
        return self.heart.state


class DyadPipeline:
    """Decoded samples of both people in; traces, breathing states and synchrony out.

    Parameters
    ----------
    window_s : float
        Sliding window of the synchrony metrics.
    record : bool
        Keep every grid sample (for offline analysis) instead of only the ring buffers.
    silent_after_s : float
        When one person's data lags the other's by more than this, their missing ticks
        are filled with NaN so the dyad moves on.
    batch_s : float
        0 (live): every item is processed as it comes. Above 0 (replay, analysis):
        breathing samples and beats are held until they span ``batch_s`` of session time
        and then handed on, each person's breathing as one block, which saves the
        per-call costs of every stage for the same numbers (each stage gives the same
        output however its input is chunked; tested with belts, a link drop and
        breathing from heart beats). Call :meth:`flush` after the last item.
    """

    def __init__(self, window_s: float = 60.0, record: bool = False,
                 silent_after_s: float = 3.0, fs: float = ANALYSIS_RATE_HZ,
                 batch_s: float = 0.0) -> None:
        self.fs = fs
        self.batch_s = batch_s
        self._held: list[BreathSamples | HeartBeats] = []
        self._held_kinds: dict[str, SignalKind] = {}
        self._held_since = math.inf  # session time of the oldest held sample
        self.people = {p: PersonChannel(p, fs) for p in PERSONS}
        if record:
            for ch in self.people.values():
                ch.recorder = []
        self.dyad = DyadTracker(fs=fs, window_s=window_s)
        self.silent_ticks = int(silent_after_s * fs)
        self._dyad_tick: int | None = None
        self.sync_history: list[SyncState] = []

    def feed(self, item: BreathSamples | HeartBeats | DeviceEvent) -> None:
        if self.batch_s <= 0 or not isinstance(item, BreathSamples | HeartBeats) or not len(
                item.time_s):
            self._feed(item)
            return
        if isinstance(item, HeartBeats) and self._beats_breathe(item.person):
            try:  # this person's breathing comes from these beats: keep them in step
                self.flush()
            finally:  # a failure in what was held does not lose this item
                self._feed(item)
            return
        try:
            if (isinstance(item, BreathSamples)
                    and self._held_kinds.get(item.person, item.kind) != item.kind):
                self.flush()  # a second kind of breathing for a person is not merged
        finally:  # held even when flushing what came before failed
            if isinstance(item, BreathSamples):
                self._held_kinds.setdefault(item.person, item.kind)
            self._held.append(item)
            self._held_since = min(self._held_since, float(item.time_s[0]))
        if float(item.time_s[-1]) - self._held_since >= self.batch_s:
            self.flush()

    def flush(self) -> None:
        """Hand on what is held for a batch (no-op when not batching): each person's
        breathing as one block, at the place of its first held piece, and the beats in
        the order they came (a person's first breathing still precedes later beats).
        Beats of a person who breathes by their heart are not held (see :meth:`feed`):
        their breathing must keep step with the partner's, or the partner's block would
        make them look silent. If a piece fails, the rest is still handed on and the
        first error is raised afterwards."""
        held, self._held = self._held, []
        self._held_kinds = {}
        self._held_since = math.inf
        pieces: dict[str, list[BreathSamples]] = {}
        order: list[str | HeartBeats] = []
        for item in held:
            if isinstance(item, BreathSamples):
                if item.person not in pieces:
                    pieces[item.person] = []
                    order.append(item.person)
                pieces[item.person].append(item)
            else:
                order.append(item)
        failed: Exception | None = None
        for entry in order:  # one piece that fails does not take the others with it
            try:
                if not isinstance(entry, str):
                    self._feed(entry)
                    continue
                parts = pieces[entry]
                self._feed(parts[0] if len(parts) == 1 else BreathSamples(
                    entry, parts[0].kind, np.concatenate([h.time_s for h in parts]),
                    np.concatenate([h.value for h in parts]), parts[0].rate_hz))
            except Exception as exc:  # noqa: BLE001 - raised again once the rest is in
                failed = failed or exc
        if failed is not None:
            raise failed

    def _beats_breathe(self, person: str) -> bool:
        """Whether this person's breathing is (or may yet be) derived from their beats."""
        ch = self.people.get(person)
        return ch is not None and ch.kind in (None, SignalKind.RR_DERIVED)

    def _feed(self, item: BreathSamples | HeartBeats | DeviceEvent) -> None:
        if isinstance(item, BreathSamples):
            ch = self.people.get(item.person)
            if ch is None:
                return
            ch.use(item.kind, item.rate_hz)
            if ch.kind != item.kind or ch.resampler is None:
                return  # a second breathing source for one person: the first one wins
            value = item.value if item.value.ndim == 1 else np.linalg.norm(item.value, axis=1)
            ch.raw.extend(item.time_s, value)
            first, x = ch.resampler.push(item.time_s, item.value)
            ch.grid(first, x)
        elif isinstance(item, HeartBeats):
            ch = self.people.get(item.person)
            if ch is None:
                return
            ch.heart.update(item.time_s, item.rr_s)
            hr = ch.heart.state.hr_bpm
            ch.hr_trace.extend(item.time_s[-1:], np.array([hr]))
            if ch.kind in (None, SignalKind.RR_DERIVED) and self._rr_only(ch):
                ch.use(SignalKind.RR_DERIVED)
                assert ch.resampler is not None
                ok = np.isfinite(item.rr_s)
                first, x = ch.resampler.push(item.time_s[ok], item.rr_s[ok])
                ch.grid(first, x)
        else:
            return
        self._advance()

    def _rr_only(self, ch: PersonChannel) -> bool:
        """Breathing from RR only once the person has had beats but no breathing samples."""
        return ch.kind == SignalKind.RR_DERIVED or ch.heart.state.n_beats >= 8

    def _advance(self) -> None:
        a, b = self.people["a"], self.people["b"]
        if a.resampler is None or b.resampler is None:
            return
        ta, tb = a.resampler.next_tick, b.resampler.next_tick
        if ta is None or tb is None:
            return
        ticks = (ta, tb)
        lead = max(ticks)
        for ch, tick in zip((a, b), ticks):
            if tick < lead - self.silent_ticks:
                skip_to = lead - self.silent_ticks
                n = ch.resampler.pad_to(skip_to)  # type: ignore[union-attr]
                ch.grid(skip_to - n, np.full((n,) + ((3,) if ch.kind == SignalKind.ACCELEROMETER
                                                    else ()), np.nan))
        upto = max(min(ticks), lead - self.silent_ticks)
        # the dyad's samples are grid ticks from session time 0 (NaN before both people are
        # there), so a window's time is session time whoever connected first
        start = 0 if self._dyad_tick is None else self._dyad_tick
        if upto <= start:
            self._dyad_tick = start
            return
        sa, pa = a.take(start, upto)
        sb, pb = b.take(start, upto)
        self._dyad_tick = upto
        for p, ch in (("a", a), ("b", b)):
            self.dyad.add_onsets(p, ch.new_onsets)
            ch.new_onsets.clear()
        before = self.dyad.n_states
        self.dyad.update(pa, pb, sa, sb)
        new = self.dyad.n_states - before  # a long chunk can complete several windows
        if new:
            self.sync_history += reversed(list(islice(reversed(self.dyad.history), new)))

    @property
    def sync(self) -> SyncState | None:
        return self.dyad.state
