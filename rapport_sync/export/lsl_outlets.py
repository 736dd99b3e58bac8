"""Lab Streaming Layer outlets of a live session: breathing, heart rate, synchrony, markers.

With ``--lsl`` (``demo`` and ``record``) the display calls :meth:`SessionOutlets.update`
with each :meth:`LiveSession.snapshot`; every call pushes the samples that are new since
the previous one, stamped with the time they were measured (session time mapped to LSL's
``local_clock()``), so LabRecorder or any LSL client records them beside EEG or video.

Streams (``<pid>`` is the pseudonymous participant id, never a typed label):

============================  =========  =======  =================================================
name                          type       rate     channels (unit)
============================  =========  =======  =================================================
``rapport_sync_<pid>_resp``   RESP       25 Hz    resp (a.u., cleaned breathing), phase (rad)
``rapport_sync_<pid>_hr``     HR         irreg.   hr (bpm), one sample per beat update
``rapport_sync_synchrony``    Synchrony  irreg.   plv, chance_plv95, alignment, lag_s (s), lag_plv,
                                                  leader (+1 A, -1 B, 0 none), rate_a_bpm,
                                                  rate_b_bpm, lead (one sample per window
                                                  update)
``rapport_sync_markers``      Markers    irreg.   the operator's marker text (string)
============================  =========  =======  =================================================

``leader`` is the lag scan's; ``lead`` is who leads as the monitor says it (+1 A, -1 B, 0
when it names nobody: not locked above chance, or the best lag about half a breath so
either could be ahead; :func:`~rapport_sync.dsp.sync.lead`).

Each stream's ``desc()`` has ``channels/channel/{label, unit, type}``, ``acquisition/
{manufacturer, model, participant_id, dyad_role}`` and ``synchronization/{time_base}``.
``source_id`` is ``rapport_sync@<host>/<pid>/resp`` and so on, stable across restarts.
Gaps are NaN samples. LSL streams are visible to everyone on the local network without
authentication: outlets exist only when asked for, and carry pseudonymous ids only.
"""

from __future__ import annotations

import socket
from typing import Any

import numpy as np

from ..dsp.sync import lead
from ..lsl_support import import_pylsl

__all__ = ["SessionOutlets"]

_SYNC_CHANNELS = [("plv", "1"), ("chance_plv95", "1"), ("alignment", "1"), ("lag_s", "s"),
                  ("lag_plv", "1"), ("leader", "1"), ("rate_a_bpm", "bpm"),
                  ("rate_b_bpm", "bpm"), ("lead", "1")]
_LEADER = {"a": 1.0, "b": -1.0}


class SessionOutlets:
    """LSL outlets fed from session snapshots.

    Parameters
    ----------
    session : LiveSession
        The running session (its participants' ids, clock and start time are used).
    prefix : str
        Stream name prefix (tests use a unique one).
    """

    def __init__(self, session: Any, prefix: str = "rapport_sync") -> None:
        self.pylsl = pylsl = import_pylsl()
        self.session = session
        host = socket.gethostname()
        self.ids = {p: session.participants[p]["id"] for p in ("a", "b")}
        # session ns → LSL seconds, fixed once (both clocks are monotonic; a demo's clock
        # runs `speed` times faster, and LSL gets real seconds)
        self._speed = float(getattr(session.clock, "speed", 1.0))
        self._host0_ns = session.clock.now_ns()
        self._lsl0 = pylsl.local_clock()
        self.outlets: dict[str, Any] = {}
        self._last: dict[str, float] = {}
        for p, pid in self.ids.items():
            self.outlets[f"{p}_resp"] = self._outlet(
                f"{prefix}_{pid}_resp", "RESP", [("resp", "a.u.", "RESP"),
                                                 ("phase", "rad", "PHASE")],
                25.0, pylsl.cf_float32, f"{prefix}@{host}/{pid}/resp", pid, p)
            self.outlets[f"{p}_hr"] = self._outlet(
                f"{prefix}_{pid}_hr", "HR", [("hr", "bpm", "HR")], pylsl.IRREGULAR_RATE,
                pylsl.cf_float32, f"{prefix}@{host}/{pid}/hr", pid, p)
        self.outlets["sync"] = self._outlet(
            f"{prefix}_synchrony", "Synchrony", [(n, u, "SYNC") for n, u in _SYNC_CHANNELS],
            pylsl.IRREGULAR_RATE, pylsl.cf_float32, f"{prefix}@{host}/dyad/sync", "dyad", "")
        self.outlets["markers"] = self._outlet(
            f"{prefix}_markers", "Markers", [("marker", "", "Marker")], pylsl.IRREGULAR_RATE,
            pylsl.cf_string, f"{prefix}@{host}/dyad/markers", "dyad", "")

    def _outlet(self, name: str, type_: str, channels: list[tuple[str, str, str]],
                rate: float, fmt: int, source_id: str, pid: str, role: str) -> Any:
        pylsl = self.pylsl
        info = pylsl.StreamInfo(name, type_, len(channels), rate, fmt, source_id)
        desc = info.desc()
        chans = desc.append_child("channels")
        for label, unit, kind in channels:
            ch = chans.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", unit)
            ch.append_child_value("type", kind)
        acq = desc.append_child("acquisition")
        acq.append_child_value("manufacturer", "rapport_sync")
        acq.append_child_value("model", "breathing synchrony monitor")
        acq.append_child_value("participant_id", pid)
        acq.append_child_value("dyad_role", role.upper() or "A+B")
        sync = desc.append_child("synchronization")
        sync.append_child_value("time_base", "sample times are when the samples were "
                                "measured (device clocks mapped to the host), not when pushed")
        return pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360)

    def lsl_time(self, session_s: np.ndarray | float) -> np.ndarray:
        """Session seconds → LSL ``local_clock()`` seconds."""
        host_ns = self.session.start_ns + np.asarray(session_s, dtype=float) * 1e9
        return self._lsl0 + (host_ns - self._host0_ns) / 1e9 / self._speed

    def _new(self, key: str, times: np.ndarray) -> np.ndarray:
        """Mask of the rows newer than the last pushed one of stream ``key``."""
        new = times > self._last.get(key, -np.inf)
        if new.any():
            self._last[key] = float(times[new][-1])
        return new

    def update(self, snapshot: Any) -> None:
        """Push what is new in ``snapshot`` (a :class:`SessionSnapshot`)."""
        for p, person in snapshot.people.items():
            trace = person.trace
            if len(trace):
                new = self._new(f"{p}_resp", trace[:, 0])
                if new.any():
                    rows = trace[new]
                    self._push(f"{p}_resp", rows[:, 1:3], rows[:, 0])
            hr = person.hr_trace
            if len(hr):
                new = self._new(f"{p}_hr", hr[:, 0])
                if new.any():
                    self._push(f"{p}_hr", hr[new][:, 1:2], hr[new][:, 0])
        history = snapshot.sync_history
        if history:
            times = np.array([s.time_s for s in history])
            new = self._new("sync", times)
            rows = [[s.plv, s.chance_plv95, s.alignment, float(s.lag_s), s.lag_plv,
                     _LEADER.get(s.leader, 0.0), s.rate_a_bpm, s.rate_b_bpm,
                     _LEADER.get(lead(s).shown, 0.0)]
                    for s, fresh in zip(history, new) if fresh]
            if rows:
                self._push("sync", np.array(rows, dtype=float), times[new])
        if snapshot.markers:
            times = np.array([t for t, _ in snapshot.markers])
            new = self._new("markers", times)
            for (t, label), fresh in zip(snapshot.markers, new):
                if fresh:
                    self.outlets["markers"].push_sample([label or "marker"],
                                                        float(self.lsl_time(t)))

    def _push(self, key: str, values: np.ndarray, session_s: np.ndarray) -> None:
        stamps = self.lsl_time(session_s)
        data = np.ascontiguousarray(values, dtype=np.float32)
        self.outlets[key].push_chunk(data, stamps.tolist())

    def close(self) -> None:
        """Destroy the outlets (clients see the streams end)."""
        self.outlets.clear()
