"""Replay a stored session through the same decoders and pipeline as the live path.

The result holds every grid sample of both people (breathing signal and causal phase),
their heartbeats, the synchrony history, markers, events and gaps: what offline
analysis, exports and reports start from.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..samples import BreathSamples, DeviceEvent, DeviceEventKind, HeartBeats, SignalKind
from .decoders import make_decoder
from .pipeline import PERSONS, DyadPipeline
from .store import SessionReader, StoredMarker, merge_events

__all__ = ["REPLAY_BATCH_S", "PersonTrace", "ReplayResult", "replay_session"]

REPLAY_BATCH_S = 1.0
"""Replay hands the pipeline breathing samples in blocks of this many session seconds."""


@dataclass
class PersonTrace:
    """One person's whole session."""

    person: str
    label: str
    pseudonym: str
    kind: SignalKind | None
    grid_time_s: np.ndarray  # uniform grid (ANALYSIS_RATE_HZ), session seconds
    signal: np.ndarray  # cleaned breathing signal on the grid (NaN in gaps)
    phase: np.ndarray  # causal phase on the grid (NaN where invalid)
    raw_time_s: np.ndarray  # native samples as the device sent them, mapped to session time
    raw_value: np.ndarray
    raw_rate_hz: float
    beat_time_s: np.ndarray
    rr_s: np.ndarray


@dataclass
class ReplayResult:
    path: str
    meta: dict[str, Any]
    fs: float
    people: dict[str, PersonTrace]
    sync_history: list[Any]
    markers: list[tuple[float, str]]
    events: list[tuple[float, str, str, str]]  # time_s, device, kind, detail
    duration_s: float
    ended_cleanly: bool
    clock_fits: dict[str, Any] = field(default_factory=dict)


def replay_session(path: str | os.PathLike[str], window_s: float | None = None,
                   progress: Callable[[int, int], None] | None = None) -> ReplayResult:
    """Decode and analyse a stored session exactly as the live session did.

    Parameters
    ----------
    path : path
        Session file.
    window_s : float, optional
        Synchrony window; defaults to the one the session was recorded with.
    progress : callable, optional
        Called as ``progress(done_chunks, total_chunks)`` now and then.
    """
    with SessionReader(path) as reader:
        meta = reader.meta
        start_ns = reader.start_host_ns
        window = window_s or float(meta.get("config", {}).get("window_s", 60.0))
        pipeline = DyadPipeline(window_s=window, record=True, batch_s=REPLAY_BATCH_S)
        decoders = {d.device: make_decoder(d, start_ns) for d in reader.devices}
        raw: dict[str, list[BreathSamples]] = {p: [] for p in PERSONS}
        beats: dict[str, list[HeartBeats]] = {p: [] for p in PERSONS}
        decoded_events: list[DeviceEvent] = []
        total = sum(n for n, *_ in reader.chunk_stats().values())
        for i, chunk in enumerate(reader.chunks()):
            try:  # as live: data that analysis cannot digest is counted, not fatal
                for item in decoders[chunk.device].feed(chunk):
                    if isinstance(item, DeviceEvent):
                        decoded_events.append(item)
                        continue
                    if isinstance(item, BreathSamples):
                        raw[item.person].append(item)
                    else:
                        beats[item.person].append(item)
                    pipeline.feed(item)
            except Exception as exc:  # noqa: BLE001 - reported as an event
                decoded_events.append(DeviceEvent(chunk.device, chunk.host_time_ns,
                                                  DeviceEventKind.ERROR,
                                                  f"analysis failed on this chunk: {exc}"))
            if progress is not None and i % 2000 == 0:
                progress(i, total)
        try:
            pipeline.flush()
        except Exception as exc:  # noqa: BLE001 - reported as an event
            decoded_events.append(DeviceEvent("analysis", reader.last_host_ns(),
                                              DeviceEventKind.ERROR,
                                              f"analysis failed on the last samples: {exc}"))
        if progress is not None:
            progress(total, total)
        events = merge_events(reader.events(), decoded_events, start_ns)
        markers_raw: list[StoredMarker] = reader.markers()
        markers = [((m.host_ns - start_ns) / 1e9, m.label) for m in markers_raw]
        end_ns = meta.get("ended_host_ns") or reader.last_host_ns()
        ended = reader.ended_cleanly
    participants = meta.get("participants", {})
    people = {}
    for p in PERSONS:
        ch = pipeline.people[p]
        first, signal, phase = _assemble(ch.recorder or [])
        grid_t = (first + np.arange(len(signal))) / pipeline.fs
        rs = raw[p]
        people[p] = PersonTrace(
            p, participants.get(p, {}).get("label", p), participants.get(p, {}).get("id", p),
            ch.kind, grid_t, signal, phase,
            np.concatenate([r.time_s for r in rs]) if rs else np.empty(0),
            np.concatenate([r.value for r in rs]) if rs else np.empty(0),
            rs[0].rate_hz if rs else float("nan"),
            np.concatenate([b.time_s for b in beats[p]]) if beats[p] else np.empty(0),
            np.concatenate([b.rr_s for b in beats[p]]) if beats[p] else np.empty(0),
        )
    fits = {name: dec.clock.fit for name, dec in decoders.items()}
    return ReplayResult(str(path), meta, pipeline.fs, people, pipeline.sync_history, markers,
                        events, (end_ns - start_ns) / 1e9, ended, fits)


def _assemble(parts: list[tuple[int, np.ndarray, np.ndarray]]) -> tuple[int, np.ndarray, np.ndarray]:
    """Join recorded grid pieces into contiguous arrays (they are contiguous by design)."""
    if not parts:
        return 0, np.empty(0), np.empty(0)
    first = parts[0][0]
    signal = np.concatenate([np.asarray(s, dtype=float) for _, s, _ in parts])
    phase = np.concatenate([np.asarray(ph, dtype=float) for _, _, ph in parts])
    return first, signal, phase
