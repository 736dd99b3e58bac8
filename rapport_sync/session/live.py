"""A live session: sources → store (first) → decoders → pipeline, on a worker thread.

Each source pushes raw chunks and device events into one queue from its own thread. The
session's worker thread takes them in arrival order, writes each to the store *before*
anything else touches it, then decodes and analyses it. The store commits at least every
half second, so a crash loses at most that much. Displays (terminal view, Qt monitor)
call :meth:`LiveSession.snapshot` on a timer; they never block acquisition.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..dsp.breathing import BreathState
from ..dsp.heart import HeartState
from ..dsp.sync import SyncState
from ..errors import ConfigError, RapportSyncError, StoreError
from ..samples import Chunk, DeviceEvent, DeviceEventKind, SignalKind
from ..sources.base import Clock, MonotonicClock, Source, SourceSpec, open_source
from .decoders import DeviceDecoder, make_decoder
from .pipeline import PERSONS, DyadPipeline
from .store import SessionWriter

__all__ = ["LiveSession", "PersonSnapshot", "SessionSnapshot", "group_sources",
           "default_participants"]

log = logging.getLogger(__name__)
_STOP = object()
DUE_GRACE_S = 30.0  # session seconds a source that ends by itself may lag behind the clock


def _ends_at_s(source: Source) -> float | None:
    """The session time at which a source ends by itself (None: it runs until stopped)."""
    end = getattr(source, "duration_s", None)
    return None if end is None else float(end)


def default_participants(labels: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """Labels as typed by the user, plus the pseudonymous ids used in every export."""
    labels = labels or {}
    return {p: {"label": labels.get(p) or f"Person {p.upper()}", "id": f"sub-{i:02d}"}
            for i, p in enumerate(PERSONS, start=1)}


def group_sources(specs: Mapping[str, SourceSpec]) -> list[tuple[str, str, dict[str | None, str]]]:
    """One entry per physical device: ``(backend, target, {channel: person})``.

    Two people named on the same board (``serial:PORT#0`` and ``serial:PORT#1``, or
    ``sim`` twice) share one source; without channels, A is channel 0 and B channel 1.
    A replay's channel is a stored person, and without one it is the same side.
    One channel is one person: naming it for both is refused (either would be lost).
    """
    groups: dict[tuple[str, str], dict[str | None, str]] = {}
    unnamed: dict[tuple[str, str], int] = {}  # people named without a channel
    for person, spec in specs.items():
        key = (spec.backend, spec.target)
        persons = groups.setdefault(key, {})
        if spec.channel is None:
            unnamed[key] = unnamed.get(key, 0) + 1
        channel = person if spec.channel is None else spec.channel
        if channel in persons:
            raise ConfigError(f"both people are on the same channel of {spec.backend}:"
                              f"{spec.target}" + (" (stored person "
                              f"{channel.upper()}); name a different one for each"
                              if spec.backend == "replay" else ""))
        persons[channel] = person
    out = []
    for (backend, target), persons in groups.items():
        if unnamed.get((backend, target)) == 2 and backend != "replay":
            persons = {"0": "a", "1": "b"}
        elif unnamed.get((backend, target)) == 1 and len(persons) == 1:
            persons = {None: next(iter(persons.values()))}
        out.append((backend, target, persons))
    return out


@dataclass(frozen=True)
class PersonSnapshot:
    person: str
    label: str
    kind: SignalKind | None
    trace: np.ndarray  # columns: time_s, breathing signal, phase (rad)
    raw: np.ndarray  # columns: time_s, raw value at the device's rate
    hr_trace: np.ndarray  # columns: time_s, heart rate (bpm)
    breath: BreathState | None
    heart: HeartState
    link: str  # "waiting", "connected", "reconnecting", "disconnected"
    data_until_s: float = math.nan  # session time the person's breathing has reached


@dataclass(frozen=True)
class SessionSnapshot:
    elapsed_s: float
    people: dict[str, PersonSnapshot]
    sync: SyncState | None
    sync_history: list[SyncState]
    markers: list[tuple[float, str]]
    recording: bool
    chunks_stored: int
    events: list[tuple[float, str, str]] = field(default_factory=list)  # time, kind, text
    error: str | None = None
    processing_errors: int = 0  # chunks stored but not analysed (see --debug)
    stored_in: str = ""  # where the data are, for the user (the file, or the file and its WAL)


class LiveSession:
    """Acquire, store and analyse a two-person session.

    Parameters
    ----------
    specs : mapping
        ``{"a": SourceSpec, "b": SourceSpec}``.
    path : Path
        The session file to create.
    participants : mapping, optional
        ``{"a": "label", "b": "label"}`` as typed by the user.
    clock : Clock, optional
        Host clock (``MonotonicClock()``; scaled or virtual in demos and tests).
    window_s : float
        Synchrony window.
    config : dict
        Extra settings to store with the session.
    """

    def __init__(self, specs: Mapping[str, SourceSpec], path: Path,
                 participants: Mapping[str, str] | None = None, clock: Clock | None = None,
                 window_s: float = 60.0, config: Mapping[str, Any] | None = None) -> None:
        self.specs = dict(specs)
        self.path = Path(path)
        self.participants = default_participants(participants)
        self.clock = clock or MonotonicClock()
        self.window_s = window_s
        self.config = dict(config or {})
        self.pipeline = DyadPipeline(window_s=window_s)
        self.sources: list[Source] = []
        self._source_names: dict[int, str] = {}
        self.decoders: dict[str, DeviceDecoder] = {}
        self._device_people: dict[str, list[str]] = {}
        self._link = {p: "waiting" for p in PERSONS}
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._markers: list[tuple[float, str]] = []
        self._events: deque[tuple[float, str, str]] = deque(maxlen=50)
        self._worker: threading.Thread | None = None
        self.writer: SessionWriter | None = None
        self.start_ns = 0
        self._started = False
        self._end_ns: int | None = None
        self.error: str | None = None
        self.processing_errors = 0
        self.finished = threading.Event()
        self._hurry = threading.Event()

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> None:
        """Open the sources, create the store, start acquiring.

        On any failure here nothing keeps running: opened sources are stopped and a
        file already created is closed (and says it did not end cleanly)."""
        try:
            self._start()
        except BaseException:
            for source in self.sources:
                source.stop(timeout_s=2.0)
            if self.writer is not None and not self.writer.closed:
                try:
                    self.writer.close(None, clean=False)
                except StoreError:
                    pass
            raise

    def _start(self) -> None:
        groups = group_sources(self.specs)
        for backend, target, persons in groups:
            source = open_source(backend, target, persons, self.clock)
            self.sources.append(source)
            who = " and ".join(sorted(p.upper() for p in persons.values()))
            self._source_names[id(source)] = f"{backend}:{target} (person {who})".replace(
                ": (", " (")
        devices = [info for source in self.sources for info in source.devices]
        names = [info.device for info in devices]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ConfigError(f"two sources would record the same device ({', '.join(twice)}); "
                              "to put both people on one device name it the same way twice")
        meta = {
            "format": "rapport_sync session",
            "software_version": __version__,
            "participants": self.participants,
            "sources": {p: str(s) for p, s in self.specs.items()},
            "config": {"window_s": self.window_s, **self.config},
            "started_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        self.writer = SessionWriter.create(self.path, meta)
        for info in devices:
            self.writer.add_device(info)
        # Session time starts when acquisition does, after the setup above.
        self.start_ns = self.clock.now_ns()
        self.writer.set_meta("start_host_ns", self.start_ns)
        self.writer.commit()
        for info in devices:
            self.decoders[info.device] = make_decoder(info, self.start_ns)
            self._device_people[info.device] = list(info.persons.values())
        self._started = True
        self._worker = threading.Thread(target=self._work, name="session", daemon=True)
        self._worker.start()
        for source in self.sources:
            source.start(self._queue.put)

    def stop(self) -> None:
        """Stop the sources, store everything still queued, close the file cleanly.

        The session ends now (its recorded end time); what is still queued is stored
        after, however long that takes on a busy machine."""
        if self._end_ns is None and self._started:
            self._end_ns = self.clock.now_ns()
        stoppers = [threading.Thread(target=source.stop, daemon=True) for source in self.sources]
        for t in stoppers:  # in parallel: each may take seconds (BLE: stop streams, disconnect)
            t.start()
        deadline = time.monotonic() + 10.0
        for t in stoppers:
            while t.is_alive() and time.monotonic() < deadline and not self._hurry.is_set():
                t.join(0.05)
        self._queue.put(_STOP)
        if self._worker is not None:
            self._worker.join()

    def hurry(self) -> None:
        """Make a :meth:`stop` under way quick (a second Ctrl-C): stop waiting for the
        devices to let go and skip analysing what is still queued; everything queued is
        still stored and the file closed cleanly."""
        self._hurry.set()

    @property
    def hurried(self) -> bool:
        return self._hurry.is_set()

    def add_marker(self, label: str = "", source: str = "user") -> float:
        """Mark this moment; returns its session time in seconds."""
        t_ns = self.clock.now_ns()
        self._queue.put(("marker", t_ns, label, source))
        return (t_ns - self.start_ns) / 1e9

    def set_participant_label(self, person: str, label: str) -> None:
        """Rename a participant; the label is stored in the session file's ``participants``
        meta (exports keep using the pseudonymous id)."""
        if person not in self.participants:
            raise ConfigError(f"no person {person!r}; one of {', '.join(self.participants)}")
        with self._lock:
            self.participants[person] = {**self.participants[person],
                                         "label": label.strip() or f"Person {person.upper()}"}
            participants = {p: dict(v) for p, v in self.participants.items()}
        if self.writer is not None:  # before start(), the meta written at start has it
            self._queue.put(("meta", "participants", participants))

    @property
    def acquisition_done(self) -> bool:
        """True when every source that ends by itself (a simulator given a duration, a
        replay) has delivered all it had; sources that run until stopped never are."""
        finite = [s for s in self.sources if _ends_at_s(s) is not None]
        return bool(finite) and not any(s.running for s in finite)

    def due(self, duration_s: float | None, elapsed_s: float | None = None) -> bool:
        """True once the session is over.

        A session whose sources all end by themselves (replays, a simulator told a
        duration) is over when they have delivered all they had, with or without
        ``duration_s``. Otherwise a session given ``duration_s`` is over when that time
        has come and every source due to end by then has delivered all it had (or lags
        by more than ``DUE_GRACE_S`` on a busy machine); a source that would run on past
        ``duration_s`` (a longer replay) is not waited for. Without ``duration_s`` a
        session with a live source runs until stopped."""
        ends = [_ends_at_s(s) for s in self.sources]
        if ends and None not in ends and self.acquisition_done:
            return True
        elapsed = self.elapsed_s if elapsed_s is None else elapsed_s
        if duration_s is None or elapsed < duration_s:
            return False
        waited = [s for s, end in zip(self.sources, ends) if end is not None and end <= duration_s]
        return not any(s.running for s in waited) or elapsed >= duration_s + DUE_GRACE_S

    @property
    def elapsed_s(self) -> float:
        if not self._started:
            return 0.0
        end = self._end_ns if self._end_ns is not None else self.clock.now_ns()
        return (end - self.start_ns) / 1e9

    # -- worker -----------------------------------------------------------------------
    def _work(self) -> None:
        """Store everything waiting (so a crash loses at most the commit interval, even
        when analysis falls behind), commit when due, then analyse what was stored."""
        writer = self.writer
        assert writer is not None
        storing = True
        running = True
        while running:
            try:
                batch = [self._queue.get(timeout=0.1)]
            except queue.Empty:
                batch = []
            while len(batch) < 5000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if _STOP in batch:
                running = False
                batch = batch[: batch.index(_STOP)]
            if storing:
                try:
                    for item in batch:
                        self._store(writer, item)
                    writer.maybe_commit()
                except Exception as exc:  # disk full, permissions, a bug: stop storing, say so
                    storing = False
                    self._fail(str(exc) if isinstance(exc, StoreError)
                               else f"storing failed: {type(exc).__name__}: {exc}")
                    self._close(writer, clean=False)
            if not self._hurry.is_set():
                for item in batch:
                    self._process(item, storing)
            self._check_sources()
        if storing:
            self._close(writer, clean=True)
        self.finished.set()

    def _close(self, writer: SessionWriter, clean: bool) -> None:
        try:
            writer.close(self._end_ns or self.clock.now_ns(), clean=clean)
        except StoreError as exc:
            self.error = self.error or str(exc)
        if writer.wal_kept:  # the disk had no room to fold the WAL into the file
            self.error = (f"{self.error or 'the session could not be closed'}; the data are in "
                          f"{writer.path.name} and {writer.wal_path.name} beside it: keep the "
                          "two files together")

    def _store(self, writer: SessionWriter, item: object) -> None:
        if isinstance(item, Chunk):
            writer.add_chunk(item)
        elif isinstance(item, DeviceEvent):
            writer.add_event(item)
        elif isinstance(item, tuple) and item[0] == "marker":
            _, t_ns, label, source = item
            writer.add_marker(t_ns, label, source)
        elif isinstance(item, tuple) and item[0] == "meta":
            writer.set_meta(item[1], item[2])

    def _process(self, item: object, storing: bool = True) -> None:
        try:
            if isinstance(item, Chunk):
                decoder = self.decoders.get(item.device)
                if decoder is None:
                    return
                for decoded in decoder.feed(item):
                    if isinstance(decoded, DeviceEvent):
                        self._note_event(decoded)
                        if storing and self.writer is not None and not self.writer.closed:
                            self.writer.add_event(decoded)
                    else:
                        with self._lock:
                            self.pipeline.feed(decoded)
            elif isinstance(item, DeviceEvent):
                self._note_event(item)
            elif isinstance(item, tuple) and item[0] == "marker":
                with self._lock:
                    self._markers.append(((item[1] - self.start_ns) / 1e9, item[2]))
        except StoreError as exc:
            self._fail(str(exc))
        except Exception:  # analysis must never lose acquisition: the chunk is stored
            self.processing_errors += 1
            log.debug("processing failed (data is stored; analysis continues)", exc_info=True)

    def _note_event(self, event: DeviceEvent) -> None:
        t = (event.host_time_ns - self.start_ns) / 1e9
        with self._lock:
            self._events.append((t, str(event.kind), event.detail))
            state = {DeviceEventKind.CONNECTED: "connected",
                     DeviceEventKind.DISCONNECTED: "disconnected",
                     DeviceEventKind.RECONNECTING: "reconnecting"}.get(event.kind)
            if state:
                for person in self._device_people.get(event.device, []):
                    self._link[person] = state

    def _check_sources(self) -> None:
        for source in self.sources:
            if source.error is not None and self.error is None:
                exc = source.error
                text = str(exc) if isinstance(exc, RapportSyncError) else repr(exc)
                self._fail(f"{self._source_names.get(id(source), 'a source')}: {text}")

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message  # shown once, by whoever displays the session
            log.debug("session error: %s", message)

    # -- snapshots for displays -------------------------------------------------------
    def snapshot(self, history: int | None = 600, span_s: float | None = None
                 ) -> SessionSnapshot:
        """Copies of the latest state for a display. ``history`` limits the synchrony
        windows to the newest so many (None: all, for a summary of the whole session);
        ``span_s`` limits the traces to the last so many seconds (what a window shows; 0
        for a text view); None copies all."""
        since = None if span_s is None else self.elapsed_s - span_s
        with self._lock:
            people = {}
            for p, ch in self.pipeline.people.items():
                people[p] = PersonSnapshot(
                    p, self.participants[p]["label"], ch.kind, ch.trace.view(since),
                    ch.raw.view(since), ch.hr_trace.view(since), ch.breath, ch.heart_state,
                    self._link[p], (ch.next_tick / ch.fs) if ch.next_tick is not None
                    else math.nan)
            return SessionSnapshot(
                self.elapsed_s, people, self.pipeline.sync,
                list(self.pipeline.sync_history[-history:] if history is not None
                     else self.pipeline.sync_history), list(self._markers),
                self.writer is not None and not self.writer.closed and self.error is None,
                self.writer.n_chunks if self.writer else 0, list(self._events), self.error,
                self.processing_errors,
                self.writer.where_stored() if self.writer else str(self.path))
