"""A stored session as every exporter sees it: both people on one time base, gaps kept.

:func:`load_aligned` replays the session through the live pipeline
(:func:`~rapport_sync.session.replay.replay_session`) and arranges the result for export:

- **time base**: session seconds, 0 = the moment the session started on the host clock.
  Each device's samples were mapped there by its clock fit (offset + drift under the lower
  envelope of arrival delays, :mod:`rapport_sync.session.clock`); the fits and their
  residuals are in :attr:`AlignedSession.clock`.
- **raw**: each person's samples at the device's native rate, untouched, placed on that
  device's sample grid (the device's nominal rate corrected by its clock drift; consecutive
  samples one step apart, a jump of 1.5 periods or more leaves NaN rows), NaN where
  samples are missing.
- **aligned**: one common grid at ``ANALYSIS_RATE_HZ`` for both people: the raw signal
  linearly interpolated (never across a gap), the cleaned breathing signal and causal phase
  of the pipeline, and heart rate from corrected RR intervals (held until the next beat,
  NaN after ``HR_HOLD_S`` without one).
- **gaps**: stretches without samples longer than ``GAP_MIN_S`` (or a few sample periods),
  samples the device marked missing (a belt unplugged) included, per person, from their
  first sample to the end of the session (data ending early is a gap; the moments before
  a person's first sample are just missing); they are NaN everywhere, never interpolated.
- **ids**: pseudonymous (``sub-01`` for A, ``sub-02`` for B) unless labels are asked for.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..dsp.heart import correct_rr
from ..dsp.resample import GAP_MIN_S, gap_step_s, interp_with_gaps
from ..errors import SessionFileError
from ..session.replay import ReplayResult, replay_session
from ..session.store import SessionReader

__all__ = [
    "GAP_MIN_S",
    "HR_HOLD_S",
    "AlignedSession",
    "PersonExport",
    "find_gaps",
    "latin_letters",
    "load_aligned",
    "person_ids",
]

HR_HOLD_S = 3.0
END_SLACK_S = 2.0


@dataclass
class PersonExport:
    """One person, ready to write. Arrays of one group share their length."""

    person: str  # "a" or "b"
    participant_id: str  # "sub-01" (or a sanitised label with --with-labels)
    label: str | None  # only with --with-labels
    kind: str  # "belt", "acc", "edr", "rr" or "" (no breathing data)
    device: str
    raw_rate_hz: float  # nominal device rate (NaN: none)
    raw_fs_hz: float  # the rate of the raw grid on the session clock (drift-corrected)
    raw_start_s: float
    raw: np.ndarray  # (n,) or (n, 3), NaN where missing
    grid_resp_raw: np.ndarray
    grid_resp: np.ndarray  # cleaned breathing signal
    grid_phase: np.ndarray  # causal phase, rad
    grid_hr_bpm: np.ndarray
    beat_time_s: np.ndarray
    rr_s: np.ndarray
    rr_corrected_s: np.ndarray
    gaps: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class AlignedSession:
    """Everything an exporter writes (see the module docstring)."""

    source_path: str
    fs: float
    grid_time_s: np.ndarray
    people: dict[str, PersonExport]
    sync_history: list[Any]
    markers: list[tuple[float, str]]
    events: list[tuple[float, str, str, str]]
    duration_s: float
    started_utc: str
    ended_cleanly: bool
    clock: dict[str, dict[str, Any]]
    settings: dict[str, Any]
    replay: ReplayResult


# Latin letters that Unicode does not decompose into a base letter and a mark
_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o",
                          "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d",
                          "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i"})


def latin_letters(text: str) -> str:
    """``text`` with accents dropped (NFKD, then the combining marks: "Zoë" -> "Zoe") and a
    few Latin letters spelled out ("ß" -> "ss"); other characters stay as they are."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.translate(_LETTERS))
                   if not unicodedata.combining(c))


def person_ids(participants: dict[str, dict[str, str]], with_labels: bool) -> dict[str, str]:
    """``{"a": "sub-01", "b": "sub-02"}``; with labels, BIDS-safe labels (``sub-Ann``,
    ``sub-ZoeMuller`` for "Zoë Müller": letters and digits only, accents dropped)."""
    ids = {p: participants.get(p, {}).get("id") or f"sub-{i:02d}"
           for i, p in enumerate(("a", "b"), start=1)}
    if with_labels:
        safe = {p: re.sub(r"[^A-Za-z0-9]", "",
                          latin_letters(participants.get(p, {}).get("label", "")))
                for p in ids}
        if all(safe.values()) and len(set(safe.values())) == len(safe):
            ids = {p: f"sub-{s}" for p, s in safe.items()}
    return ids


def find_gaps(time_s: np.ndarray, max_step_s: float, start_s: float = 0.0,
              end_s: float | None = None, end_slack_s: float = END_SLACK_S
              ) -> list[tuple[float, float]]:
    """Stretches without samples: steps longer than ``max_step_s``, a missing start, and a
    missing end longer than ``end_slack_s`` (stopping a session takes a moment)."""
    t = np.asarray(time_s, dtype=float)
    end = end_s if end_s is not None else (float(t[-1]) if t.size else start_s)
    if t.size == 0:
        return [(start_s, end)] if end > start_s else []
    gaps = []
    if t[0] - start_s > max_step_s:
        gaps.append((start_s, float(t[0])))
    steps = np.diff(t)
    gaps += [(float(t[i]), float(t[i + 1])) for i in np.flatnonzero(steps > max_step_s)]
    if end - t[-1] > max(max_step_s, end_slack_s):
        gaps.append((float(t[-1]), end))
    return gaps


def _clock_table(path: str, replay: ReplayResult) -> tuple[dict[str, dict[str, Any]],
                                                           dict[str, str]]:
    """Per device: the clock fit in session terms; and which device each person is on."""
    with SessionReader(path) as reader:
        devices = reader.devices
        start_s = reader.start_host_ns / 1e9
    table: dict[str, dict[str, Any]] = {}
    person_device: dict[str, str] = {}
    for info in devices:
        for person in info.persons.values():
            person_device.setdefault(person, info.device)
        fit = replay.clock_fits.get(info.device)
        entry: dict[str, Any] = {"protocol": info.protocol, "description": info.description}
        if fit:
            entry.update({
                "method": "session_s = offset_s + (1 + drift) * device_s: line under the lower "
                          "envelope of (host arrival - device time), fitted on the fastest "
                          "arrival of every 2 s of device time",
                "offset_s": fit.offset_s - start_s, "drift": fit.drift,
                "drift_ppm": fit.drift_ppm, "residual_s": fit.residual_s,
                "n_points": fit.n_points})
            if info.protocol == "lsl":
                entry["method"] = ("LSL time_correction() applied to the sender's stamps, then "
                                   "the receiver's LSL clock mapped to the host clock: " +
                                   entry["method"])
        else:
            entry["method"] = "host arrival time (no device clock)"
        table[info.device] = entry
    return table, person_device


def _raw_grid(t: np.ndarray, v: np.ndarray, rate: float, drift: float
              ) -> tuple[float, float, np.ndarray]:
    """Device samples on their own sample grid: (start_s, fs on the session clock, values).

    Consecutive samples are one sample apart unless their times are at least 1.5 periods
    apart (then the rounded number of periods: missing samples become NaN), so clock-fit
    updates during the session (a few ms) never drop or duplicate a sample. The start is
    the least-squares fit of the times to the grid.
    """
    if t.size == 0 or not np.isfinite(rate) or rate <= 0:
        return float("nan"), float("nan"), np.empty((0,) + v.shape[1:])
    fs = rate / (1.0 + drift)
    steps = np.diff(t) * fs
    inc = np.where(steps < 1.5, 1, np.round(steps)).astype(np.int64)
    k = np.concatenate(([0], np.cumsum(inc)))
    out = np.full((int(k[-1]) + 1,) + v.shape[1:], np.nan)
    out[k] = v
    return float(np.mean(t - k / fs)), float(fs), out


def _grid_hr(grid: np.ndarray, beat_t: np.ndarray, rr: np.ndarray) -> np.ndarray:
    """Heart rate of the last beat, held until the next; NaN after HR_HOLD_S without one."""
    ok = np.isfinite(beat_t) & np.isfinite(rr) & (rr > 0)
    beat_t, rr = beat_t[ok], rr[ok]
    out = np.full(grid.shape, np.nan)
    if beat_t.size == 0:
        return out
    j = np.searchsorted(beat_t, grid, side="right") - 1
    has = (j >= 0) & (grid - beat_t[np.clip(j, 0, None)] <= HR_HOLD_S)
    out[has] = 60.0 / rr[j[has]]
    return out


def _on_grid(grid_first: int, fs: float, n_total: int, person_time: np.ndarray,
             values: np.ndarray) -> np.ndarray:
    out = np.full(n_total, np.nan)
    if person_time.size:
        first = round(person_time[0] * fs) - grid_first
        out[first:first + len(values)] = values
    return out


def load_aligned(path: str | os.PathLike[str], with_labels: bool = False) -> AlignedSession:
    """Replay a session and arrange it for export (see the module docstring).

    Parameters
    ----------
    path : path
        The session file.
    with_labels : bool
        Use the labels typed in the monitor instead of pseudonymous ids.
    """
    path = str(path)
    replay = replay_session(path)
    clock, person_device = _clock_table(path, replay)
    fs = replay.fs
    starts = [round(tr.grid_time_s[0] * fs) for tr in replay.people.values() if tr.grid_time_s.size]
    ends = [round(tr.grid_time_s[-1] * fs) for tr in replay.people.values() if tr.grid_time_s.size]
    if not starts:
        raise SessionFileError(f"{path} holds no breathing samples to export")
    first, last = min(starts), max(ends)
    grid = np.arange(first, last + 1) / fs
    participants = replay.meta.get("participants", {})
    ids = person_ids(participants, with_labels)
    people = {}
    for p, tr in replay.people.items():
        device = person_device.get(p, "")
        drift = float(clock.get(device, {}).get("drift", 0.0))
        raw_t, raw_v = tr.raw_time_s, np.asarray(tr.raw_value, dtype=float)
        raw_start, raw_fs, raw = _raw_grid(raw_t, raw_v, tr.raw_rate_hz, drift)
        max_step = gap_step_s(tr.raw_rate_hz) if raw_t.size else HR_HOLD_S
        signal_1d = raw_v if raw_v.ndim == 1 else np.linalg.norm(raw_v, axis=1)
        rr_fixed = correct_rr(tr.rr_s, tr.beat_time_s)[0] if tr.rr_s.size else np.empty(0)
        if raw_t.size:  # samples the device marked missing (a belt unplugged) are gaps too
            gap_times = raw_t[np.isfinite(raw_v.reshape(len(raw_t), -1)).all(axis=1)]
        else:
            gap_times = tr.beat_time_s
        people[p] = PersonExport(
            p, ids[p], participants.get(p, {}).get("label") if with_labels else None,
            str(tr.kind or ""), device, float(tr.raw_rate_hz), raw_fs, raw_start, raw,
            interp_with_gaps(grid, raw_t, signal_1d, max_step),
            _on_grid(first, fs, len(grid), tr.grid_time_s, tr.signal),
            _on_grid(first, fs, len(grid), tr.grid_time_s, tr.phase),
            _grid_hr(grid, tr.beat_time_s, rr_fixed),
            tr.beat_time_s, tr.rr_s, rr_fixed,
            find_gaps(gap_times, max_step if raw_t.size else HR_HOLD_S,
                      float(gap_times[0]) if gap_times.size else 0.0, replay.duration_s))
    meta = replay.meta
    settings = {"window_s": meta.get("config", {}).get("window_s"), "analysis_rate_hz": fs,
                "config": meta.get("config", {}), "sources": meta.get("sources", {}),
                "software_version": meta.get("software_version")}
    events = list(replay.events)
    return AlignedSession(path, fs, grid, people, replay.sync_history, replay.markers,
                          events, replay.duration_s, str(meta.get("started_utc", "")),
                          replay.ended_cleanly, clock, settings, replay)
